// result<T>: the outcome of a HyperBIOS call, status and value in separate channels.
#ifndef HYPERBIOS_RESULT_HPP
#define HYPERBIOS_RESULT_HPP

#include <hyperbios/abi.hpp>

namespace hyperbios {

using abi::status;

template <typename T>
struct [[nodiscard]] result {
    status code;
    T value;

    constexpr bool ok() const noexcept { return code == status::success; }
    constexpr explicit operator bool() const noexcept { return ok(); }
    // The value when the call succeeded, `fallback` otherwise.
    constexpr T value_or(T fallback) const noexcept { return ok() ? value : fallback; }
};

template <>
struct [[nodiscard]] result<void> {
    status code;

    constexpr bool ok() const noexcept { return code == status::success; }
    constexpr explicit operator bool() const noexcept { return ok(); }
};

}  // namespace hyperbios

#endif
