// The generic call: the typed wrappers of every service go through here, and it
// checks each wrapper against the ABI table at compile time.
#ifndef HYPERBIOS_CALL_HPP
#define HYPERBIOS_CALL_HPP

#include <hyperbios/abi.hpp>
#include <hyperbios/arch/x86_64/cpu.hpp>
#include <hyperbios/detect.hpp>
#include <hyperbios/result.hpp>

// Configuration ({fmt} style): a kernel that does not identity-map the memory it
// passes to HyperBIOS defines HYPERBIOS_VIRT_TO_PHYS(pointer) to translate a
// pointer into a guest-physical address before including this header.
#ifdef HYPERBIOS_VIRT_TO_PHYS
#define HYPERBIOS_DETAIL_TO_GPA(p) (HYPERBIOS_VIRT_TO_PHYS(p))
#else
#define HYPERBIOS_DETAIL_TO_GPA(p) (reinterpret_cast<uint64_t>(p))
#endif

namespace hyperbios {

// A guest-physical address, for the overloads that take one directly.
struct gpa {
    uint64_t value;
};

// The first device of a window of 64 (spec 9.7: 0, 64, ..., 0xFFC0), for the
// `ready` calls: a type of its own, so that a device number is not passed by mistake.
struct device_window {
    uint16_t first_device;
};

namespace detail {

inline uint64_t to_gpa(const volatile void* p) noexcept { return HYPERBIOS_DETAIL_TO_GPA(p); }

template <typename A, typename B>
inline constexpr bool same_type = false;
template <typename A>
inline constexpr bool same_type<A, A> = true;

// The C++ type a wrapper passes for each argument kind of the ABI table, and the
// type of the value it returns for each result kind. A kind added to the table
// without a line here cannot be used by a wrapper: the primary templates are
// left undefined.
template <abi::arg_kind K>
struct arg_type;
template <>
struct arg_type<abi::arg_kind::u64> {
    using type = uint64_t;
};
template <>
struct arg_type<abi::arg_kind::service_id> {
    using type = abi::service;
};
template <>
struct arg_type<abi::arg_kind::exit_code> {
    using type = uint8_t;
};
template <>
struct arg_type<abi::arg_kind::device_index> {
    using type = uint16_t;
};
template <>
struct arg_type<abi::arg_kind::in_buffer> {
    using type = gpa;
};
template <>
struct arg_type<abi::arg_kind::out_buffer> {
    using type = gpa;
};
template <>
struct arg_type<abi::arg_kind::length> {
    using type = size_t;
};
template <>
struct arg_type<abi::arg_kind::timer_index> {
    using type = uint16_t;
};
template <>
struct arg_type<abi::arg_kind::deadline_ns> {
    using type = uint64_t;
};
template <>
struct arg_type<abi::arg_kind::period_ns> {
    using type = uint64_t;
};
template <>
struct arg_type<abi::arg_kind::source_set> {
    using type = uint64_t;
};
template <>
struct arg_type<abi::arg_kind::vector> {
    using type = uint8_t;
};
template <>
struct arg_type<abi::arg_kind::segment_list> {
    using type = gpa;
};
template <>
struct arg_type<abi::arg_kind::aud_format> {
    using type = uint16_t;
};
template <>
struct arg_type<abi::arg_kind::aud_rate> {
    using type = uint16_t;
};
template <>
struct arg_type<abi::arg_kind::frame_count> {
    using type = uint32_t;
};
template <>
struct arg_type<abi::arg_kind::call_word> {
    using type = uint32_t;
};
template <>
struct arg_type<abi::arg_kind::device_window> {
    using type = device_window;
};
template <>
struct arg_type<abi::arg_kind::pixel_count> {
    using type = uint16_t;
};
template <>
struct arg_type<abi::arg_kind::dsp_present_record> {
    using type = gpa;
};

template <abi::result_kind K>
struct result_type {
    using type = uint64_t;  // plain values and enumerations (abi::reset_reason::*)
};
template <>
struct result_type<abi::result_kind::version> {
    using type = uint32_t;
};
template <>
struct result_type<abi::result_kind::count> {
    using type = size_t;
};
template <>
struct result_type<abi::result_kind::no_return> {
    using type = void;
};

// The largest value a C++ argument type can carry, so that a wrapper's type can
// be compared with the range the table allows.
template <typename T>
constexpr uint64_t largest()
{
    if constexpr (same_type<T, gpa>)
        return ~uint64_t(0);
    else if constexpr (same_type<T, device_window>)
        return 0xFFC0;
    else if constexpr (same_type<T, abi::service>)
        return 0xFFFF;
    else
        return uint64_t(T(~T(0)));
}

// A wrapper's argument type fits its kind: every value of the type is allowed
// by the kind's reserved bits and range, and the kind's whole range is reachable.
template <abi::arg_kind K>
constexpr bool type_matches_kind()
{
    using T = typename arg_type<K>::type;
    constexpr abi::arg_kind_desc kind = abi::kind_of(K);
    return (largest<T>() & kind.reserved) == 0 && largest<T>() >= kind.max;
}

constexpr uint64_t to_register(gpa a) { return a.value; }
constexpr uint64_t to_register(device_window w) { return w.first_device; }
constexpr uint64_t to_register(abi::service s) { return uint64_t(s); }
constexpr uint64_t to_register(uint64_t v) { return v; }
constexpr uint64_t to_register(uint32_t v) { return v; }
constexpr uint64_t to_register(uint16_t v) { return v; }
constexpr uint64_t to_register(uint8_t v) { return v; }

template <abi::function F>
using result_of = result<typename result_type<abi::describe(F).result>::type>;

// True when A is exactly the type the table's kind for argument I of F calls for.
template <abi::function F, unsigned I, typename A>
constexpr bool argument_matches_table()
{
    constexpr abi::arg_kind kind = abi::describe(F).args[I];
    return same_type<A, typename arg_type<kind>::type> && type_matches_kind<kind>();
}

template <abi::function F, unsigned I>
constexpr bool arguments_match_table()
{
    return true;
}

template <abi::function F, unsigned I, typename A, typename... Rest>
constexpr bool arguments_match_table()
{
    return argument_matches_table<F, I, A>() && arguments_match_table<F, I + 1, Rest...>();
}

// Issues call F with `args`. Their number and types, and the type of the result,
// come from the ABI table: a wrapper whose parameters or result disagree with the
// table does not compile. Without a host, no I/O is performed and NOT_SUPPORTED
// is returned.
template <abi::function F, typename... Args>
inline result_of<F> call(Args... args) noexcept
{
    static_assert(abi::is_function(F), "call ID missing from the ABI table");
    static_assert(sizeof...(Args) == abi::arity(F), "argument count differs from the ABI table");
    static_assert(arguments_match_table<F, 0, Args...>(),
                  "argument types differ from the kinds of the ABI table (see detail::arg_type)");
    using T = typename result_type<abi::describe(F).result>::type;
    const host_info& host = detect();
    const uint64_t a[abi::max_args + 1] = {to_register(args)...};
    arch::gate_registers r{int64_t(status::not_supported), 0};
    if (host.present)
        r = arch::port_gate_call(host.port, uint64_t(F), a[0], a[1], a[2], a[3], a[4]);
    if constexpr (same_type<T, void>)
        return {status(r.status)};
    else
        return {status(r.status), T(r.value)};
}

}  // namespace detail
}  // namespace hyperbios

#endif
