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
