// BASE service: versions and identity of the host.
#ifndef HYPERBIOS_BASE_HPP
#define HYPERBIOS_BASE_HPP

#include <hyperbios/call.hpp>

namespace hyperbios::base {

// Spec version the host implements, (major << 16) | minor.
inline result<uint32_t> spec_version() noexcept { return detail::call<abi::function::base_get_spec_version>(); }

// Version of service `s` on this host; value 0 means the service is absent.
inline result<uint32_t> probe_service(abi::service s) noexcept
{
    return detail::call<abi::function::base_probe_service>(s);
}

// The functions of service `s` a guest may call (since spec 0.9): bit n stands
// for function n, set when the host offers it and its policy lets it through.
// 0 for a service the host does not offer. A function of an offered service
// whose bit is clear answers DENIED: present, but refused (spec 2.1, 5.7).
inline result<uint64_t> permitted_functions(abi::service s) noexcept
{
    return detail::call<abi::function::base_permitted_functions>(s);
}

// True when the host offers function `f` and its policy lets the guest call it.
// On a host older than 0.9 (no permitted_functions), what probe_service says:
// every function of an offered service counts as permitted.
inline bool permitted(abi::function f) noexcept
{
    const abi::service s = abi::service(uint64_t(f) >> 16);
    const result<uint64_t> bits = permitted_functions(s);
    if (bits.ok())
        return (uint64_t(f) & 0xFFFF) < 64 && ((bits.value >> (uint64_t(f) & 0xFFFF)) & 1) != 0;
    const result<uint32_t> v = probe_service(s);
    return v.ok() && v.value != 0;
}

// How many calls a second of `f` the host's policy lets through (since spec
// 0.9); 0 for no limit. Beyond it the call answers AGAIN (spec 2.1, step 6).
inline result<uint64_t> rate_limit(abi::function f) noexcept
{
    return detail::call<abi::function::base_rate_limit>(uint32_t(uint64_t(f)));
}

inline result<uint64_t> impl_id() noexcept { return detail::call<abi::function::base_get_impl_id>(); }
inline result<uint64_t> impl_version() noexcept { return detail::call<abi::function::base_get_impl_version>(); }

// Copies up to `capacity` bytes of the implementation name (not NUL-terminated) and
// returns the name's full length, which may exceed `capacity`.
inline result<size_t> impl_name(gpa buffer, size_t capacity) noexcept
{
    return detail::call<abi::function::base_get_impl_name>(buffer, capacity);
}

// Convenience: writes a NUL-terminated, possibly truncated name into `buffer`.
inline result<size_t> impl_name(char* buffer, size_t capacity) noexcept
{
    if (capacity == 0)
        return {status::invalid_param, 0};
    result<size_t> r = impl_name(gpa{detail::to_gpa(buffer)}, capacity - 1);
    size_t end = r.ok() ? (r.value < capacity - 1 ? r.value : capacity - 1) : 0;
    buffer[end] = 0;
    return r;
}

}  // namespace hyperbios::base

#endif
