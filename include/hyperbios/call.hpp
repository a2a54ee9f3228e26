// The generic call: the typed wrappers of every service go through here.
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

namespace detail {

inline uint64_t to_gpa(const volatile void* p) noexcept { return HYPERBIOS_DETAIL_TO_GPA(p); }

// Issues call F with `args`. The argument count is checked against the ABI table at
// compile time. Without a host, no I/O is performed and NOT_SUPPORTED is returned.
template <abi::function F, typename T = uint64_t, typename... Args>
inline result<T> call(Args... args) noexcept
{
    static_assert(abi::is_function(F), "call ID missing from the ABI table");
    static_assert(sizeof...(Args) == abi::arity(F), "argument count differs from the ABI table");
    const host_info& host = detect();
    if (!host.present)
        return {status::not_supported, T{}};
    const uint64_t a[abi::max_args + 1] = {uint64_t(args)...};
    arch::gate_registers r = arch::port_gate_call(host.port, uint64_t(F), a[0], a[1], a[2], a[3], a[4]);
    return {status(r.status), T(r.value)};
}

template <abi::function F, typename... Args>
inline result<void> call_void(Args... args) noexcept
{
    result<uint64_t> r = call<F>(args...);
    return {r.code};
}

}  // namespace detail
}  // namespace hyperbios

#endif
