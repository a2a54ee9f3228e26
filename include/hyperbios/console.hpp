// CONSOLE service: a byte stream to and from the user's terminal.
#ifndef HYPERBIOS_CONSOLE_HPP
#define HYPERBIOS_CONSOLE_HPP

#include <hyperbios/call.hpp>

namespace hyperbios::console {

// Writes `length` bytes; the value is the number of bytes written.
inline result<size_t> write(gpa data, size_t length) noexcept
{
    return detail::call<abi::function::console_write>(data, length);
}

inline result<size_t> write(const void* data, size_t length) noexcept
{
    return write(gpa{detail::to_gpa(data)}, length);
}

// Writes a NUL-terminated string.
inline result<size_t> write(const char* text) noexcept
{
    size_t length = 0;
    while (text[length])
        ++length;
    return write(static_cast<const void*>(text), length);
}

// Reads what is available, up to `capacity` bytes, without blocking; value 0 when
// nothing is waiting.
inline result<size_t> read(gpa buffer, size_t capacity) noexcept
{
    return detail::call<abi::function::console_read>(buffer, capacity);
}

inline result<size_t> read(void* buffer, size_t capacity) noexcept
{
    return read(gpa{detail::to_gpa(buffer)}, capacity);
}

}  // namespace hyperbios::console

#endif
