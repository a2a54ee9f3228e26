// RNG service: random bytes from the host's secure generator (spec chapter 11).
#ifndef HYPERBIOS_RNG_HPP
#define HYPERBIOS_RNG_HPP

#include <hyperbios/call.hpp>

namespace hyperbios::rng {

// Fills the whole buffer; the value is `length`.
inline result<size_t> fill(gpa buffer, size_t length) noexcept
{
    return detail::call<abi::function::rng_fill>(buffer, length);
}

inline result<size_t> fill(void* buffer, size_t length) noexcept
{
    return fill(gpa{detail::to_gpa(buffer)}, length);
}

// One random 64-bit value, or the status when the host has none to give.
inline result<uint64_t> u64() noexcept
{
    uint64_t value = 0;
    const result<size_t> r = fill(&value, sizeof value);
    return {r.code, r.ok() ? value : 0};
}

}  // namespace hyperbios::rng

#endif
