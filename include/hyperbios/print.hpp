// What a kernel needs from its first line on: print(), printf(), panic() and
// assertions. Output goes to the HyperBIOS console when a host is present, and to
// the emulators' debug port or COM1 otherwise (fallback::debug_write), so the
// same kernel reports on the reference host, QEMU and Bochs. Not part of the ABI.
//
// Single-CPU and not reentrant: a printf interrupted by a handler that prints
// interleaves the two texts, nothing worse.
#ifndef HYPERBIOS_PRINT_HPP
#define HYPERBIOS_PRINT_HPP

#include <hyperbios/console.hpp>
#include <hyperbios/detect.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/format.hpp>
#include <hyperbios/power.hpp>

namespace hyperbios {

// Writes `length` bytes: through CONSOLE.write while the host takes them, the
// rest (all of it without a host) to fallback::debug_write.
inline void print(const char* data, size_t length) noexcept
{
    size_t written = 0;
    if (present()) {
        while (written < length) {
            const auto r = console::write(data + written, length - written);
            if (!r.ok() || r.value == 0 || r.value > length - written)
                break;
            written += r.value;
        }
    }
    if (written < length)
        fallback::debug_write(data + written, length - written);
}

inline void print(const char* text) noexcept
{
    size_t length = 0;
    while (text[length])
        ++length;
    print(text, length);
}

// Formats as snprintf() does (<hyperbios/format.hpp>) and prints the text in
// chunks of up to 255 bytes, so a line of any length arrives whole, and a short
// one in one console call. Returns the number of bytes printed.
inline size_t vprintf(const char* format, __builtin_va_list args) noexcept
{
    char chunk[256];
    detail::format::sink out{chunk, sizeof chunk, &print};
    detail::format::format(out, format, args);
    if (out.used)
        print(chunk, out.used);
    return out.total;
}

[[gnu::format(printf, 1, 2)]] inline size_t printf(const char* format, ...) noexcept
{
    __builtin_va_list args;
    __builtin_va_start(args, format);
    const size_t length = vprintf(format, args);
    __builtin_va_end(args);
    return length;
}

// The exit code a panic powers off with: POWER.shutdown's code on a HyperBIOS
// host (hbvm's exit status), isa-debug-exit's on QEMU (status (80 << 1) | 1 =
// 161). Distinct from hbvm's own statuses (64, 65, 70, 71, 74, 124, 128 + N),
// from the boot stub's crash handler (70) and from the 0/1/77 of test kernels.
inline constexpr uint8_t panic_exit_code = 80;

namespace detail {

[[noreturn]] inline void power_off_after_panic() noexcept
{
    (void)power::shutdown(panic_exit_code);  // returns only when there is no host or it refuses
    fallback::power_off_emulator(panic_exit_code);
}

[[noreturn]] inline void vpanic(const char* file, unsigned line, const char* format, __builtin_va_list args) noexcept
{
    if (file)
        printf("panic: %s:%u: ", file, line);
    else
        print("panic: ");
    vprintf(format, args);
    print("\n");
    power_off_after_panic();
}

[[noreturn, gnu::format(printf, 3, 4)]] inline void panic_at(const char* file, unsigned line, const char* format,
                                                              ...) noexcept
{
    __builtin_va_list args;
    __builtin_va_start(args, format);
    vpanic(file, line, format, args);
}

}  // namespace detail

// Prints "panic: " and the formatted message and a newline, then powers off
// with panic_exit_code. HYPERBIOS_PANIC(...) adds the file and line.
[[noreturn, gnu::format(printf, 1, 2)]] inline void panic(const char* format, ...) noexcept
{
    __builtin_va_list args;
    __builtin_va_start(args, format);
    detail::vpanic(nullptr, 0, format, args);
}

// Panics unless `condition` holds: "panic: FILE:LINE: check failed: what". The
// function form, for where a macro is unwelcome; HYPERBIOS_ASSERT prints the
// expression itself. Both are checked in every build: a kernel has no debugger
// to catch what an assertion compiled out would have said.
inline void check(bool condition, const char* what = "(no description)", const char* file = __builtin_FILE(),
                  unsigned line = __builtin_LINE()) noexcept
{
    if (!condition)
        detail::panic_at(file, line, "check failed: %s", what);
}

}  // namespace hyperbios

// "panic: FILE:LINE: message", then power off with hyperbios::panic_exit_code.
#define HYPERBIOS_PANIC(...) ::hyperbios::detail::panic_at(__FILE__, __LINE__, __VA_ARGS__)

// "panic: FILE:LINE: assertion failed: CONDITION" unless CONDITION holds.
#define HYPERBIOS_ASSERT(condition) \
    ((condition) ? (void)0 : ::hyperbios::detail::panic_at(__FILE__, __LINE__, "assertion failed: %s", #condition))

#endif
