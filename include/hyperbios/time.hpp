// TIME service: clocks in nanoseconds.
#ifndef HYPERBIOS_TIME_HPP
#define HYPERBIOS_TIME_HPP

#include <hyperbios/call.hpp>

namespace hyperbios::time {

// Nanoseconds on a clock that never goes backwards; its origin is unspecified.
inline result<uint64_t> monotonic_ns() noexcept { return detail::call<abi::function::time_monotonic_ns>(); }

// Nanoseconds since 1970-01-01T00:00:00Z.
inline result<uint64_t> wallclock_ns() noexcept { return detail::call<abi::function::time_wallclock_ns>(); }

// Resolution of the monotonic clock in nanoseconds.
inline result<uint64_t> resolution_ns() noexcept { return detail::call<abi::function::time_resolution_ns>(); }

}  // namespace hyperbios::time

#endif
