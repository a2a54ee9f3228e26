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

// Whether more input can come (since 0.5, CONSOLE version 2): a value of
// abi::console_input_state — open (bytes waiting, or more may arrive) or ended
// (read returns 0 for the rest of the run). read() returning 0 only says that
// nothing is waiting now; this says whether to wait for more.
inline result<uint64_t> input_state() noexcept { return detail::call<abi::function::console_input_state>(); }

// True when the console's input has ended: no byte waiting and none to come. A
// host of an earlier version (no input_state) answers NOT_SUPPORTED: false.
inline bool input_ended() noexcept
{
    const auto state = input_state();
    return state.ok() && state.value == abi::console_input_state::ended;
}

}  // namespace hyperbios::console

#endif
