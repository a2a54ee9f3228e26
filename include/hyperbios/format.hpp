// A printf-like formatter for kernels without a C library: snprintf() and
// vsnprintf() into a caller's fixed buffer. Not part of the ABI; nothing here
// performs I/O (<hyperbios/print.hpp> adds printf() to the console and panic()).
//
// Conversions: %s %c %d %i %u %x %X %p %%. Flags: '-' (left-align), '0' (pad
// with zeros), '+' and ' ' (sign of %d/%i), '#' ("0x"/"0X" before a non-zero
// %x/%X). Width and precision as digits or '*'; precision is the most
// characters of a %s (which then need not be NUL-terminated) and the fewest
// digits of an integer. Length modifiers: hh, h, l, ll, z, j, t. %p prints as
// glibc does: "0x" and lowercase hex, "(nil)" for a null pointer; a null %s
// prints "(null)". There is no floating point (kernels are built with
// -mgeneral-regs-only) and no %n. A directive the formatter does not know is
// copied to the output as written, so a mistake shows instead of vanishing, and
// the format attribute makes the compiler check every call's arguments.
//
// Why C varargs (__builtin_va_list) and not a variadic template: the format
// attribute gives the compile-time check of each argument against its
// directive that a template would give, while the formatter stays one function
// (a template would be instantiated again for every combination of argument
// types, in every kernel that prints). The builtins need no runtime library and
// no header; -mgeneral-regs-only keeps them from saving SSE registers.
#ifndef HYPERBIOS_FORMAT_HPP
#define HYPERBIOS_FORMAT_HPP

#include <stddef.h>
#include <stdint.h>

namespace hyperbios {

namespace detail::format {

// Where formatted characters go: `buffer` keeps one byte free for the NUL. With
// `flush`, a full buffer is handed to it and refilled (printf's chunks); without,
// what does not fit is dropped (snprintf's truncation). `total` counts every
// character, kept or not: the length the whole text needs.
struct sink {
    char* buffer;
    size_t capacity;
    void (*flush)(const char* data, size_t length) noexcept = nullptr;
    size_t used = 0;
    size_t total = 0;

    void put(char c) noexcept
    {
        ++total;
        if (used + 1 >= capacity) {
            if (!flush || used == 0)
                return;
            flush(buffer, used);
            used = 0;
        }
        buffer[used++] = c;
    }

    void repeat(char c, size_t count) noexcept
    {
        for (; count; --count)
            put(c);
    }

    void terminate() noexcept
    {
        if (capacity)
            buffer[used] = 0;
    }
};

// One directive's flags, width and precision.
struct directive {
    bool left = false, zero = false, plus = false, space = false, alternate = false;
    bool has_precision = false;
    size_t width = 0;
    size_t precision = 0;
};

// Widths and precisions beyond this are taken as this: a digit string cannot
// overflow, and a stray huge '*' argument cannot make one call pad for minutes.
inline constexpr size_t max_width = 1u << 20;

// Widths and precisions saturate at max_width as their digits arrive.
inline void add_digit(size_t& number, char digit) noexcept
{
    number = number > max_width / 10 ? max_width : number * 10 + size_t(digit - '0');
    if (number > max_width)
        number = max_width;
}

inline void pad_text(sink& out, const directive& d, const char* text, size_t length) noexcept
{
    const size_t padding = d.width > length ? d.width - length : 0;
    if (!d.left)
        out.repeat(' ', padding);
    for (size_t i = 0; i < length; ++i)
        out.put(text[i]);
    if (d.left)
        out.repeat(' ', padding);
}

// An integer as C lays it out: [padding][sign or 0x][zeros][digits][padding].
inline void integer(sink& out, const directive& d, uint64_t magnitude, bool negative, bool is_signed,
                    unsigned base, bool uppercase, bool hex_prefix) noexcept
{
    const char* const alphabet = uppercase ? "0123456789ABCDEF" : "0123456789abcdef";
    char digits[24];
    size_t count = 0;
    const bool value_is_zero = magnitude == 0;
    // C: precision 0 and value 0 print no digits at all.
    if (!(d.has_precision && d.precision == 0 && value_is_zero)) {
        do {
            digits[count++] = alphabet[magnitude % base];
            magnitude /= base;
        } while (magnitude);
    }
    char prefix[2];
    size_t prefix_length = 0;
    if (negative)
        prefix[prefix_length++] = '-';
    else if (is_signed && d.plus)
        prefix[prefix_length++] = '+';
    else if (is_signed && d.space)
        prefix[prefix_length++] = ' ';
    if (hex_prefix && !value_is_zero) {
        prefix[prefix_length++] = '0';
        prefix[prefix_length++] = uppercase ? 'X' : 'x';
    }
    const size_t precision_zeros = d.has_precision && d.precision > count ? d.precision - count : 0;
    const size_t body = prefix_length + precision_zeros + count;
    const size_t padding = d.width > body ? d.width - body : 0;
    const bool zero_padded = d.zero && !d.left && !d.has_precision;  // C: a precision turns '0' off
    if (!d.left && !zero_padded)
        out.repeat(' ', padding);
    for (size_t i = 0; i < prefix_length; ++i)
        out.put(prefix[i]);
    if (zero_padded)
        out.repeat('0', padding);
    out.repeat('0', precision_zeros);
    while (count)
        out.put(digits[--count]);
    if (d.left)
        out.repeat(' ', padding);
}

enum class length_modifier : uint8_t { none, hh, h, l, ll, z, j, t };

// Formats `format` into `out`; the caller terminates or flushes. Reads each
// argument with __builtin_va_arg here, in the function that owns `args`.
inline void format(sink& out, const char* format, __builtin_va_list args) noexcept
{
    const char* p = format;
    while (*p) {
        if (*p != '%') {
            out.put(*p++);
            continue;
        }
        const char* const start = p++;
        directive d;
        for (;; ++p) {
            if (*p == '-')
                d.left = true;
            else if (*p == '0')
                d.zero = true;
            else if (*p == '+')
                d.plus = true;
            else if (*p == ' ')
                d.space = true;
            else if (*p == '#')
                d.alternate = true;
            else
                break;
        }
        if (*p == '*') {
            const int w = __builtin_va_arg(args, int);
            if (w < 0)  // C: a negative '*' width is '-' with the positive width
                d.left = true;
            d.width = w < 0 ? size_t(0) - size_t(int64_t(w)) : size_t(w);
            ++p;
        } else {
            for (; *p >= '0' && *p <= '9'; ++p)
                add_digit(d.width, *p);
        }
        if (d.width > max_width)
            d.width = max_width;
        if (*p == '.') {
            ++p;
            d.has_precision = true;
            if (*p == '*') {
                const int precision = __builtin_va_arg(args, int);
                d.has_precision = precision >= 0;  // C: a negative '*' precision is none
                d.precision = precision >= 0 ? size_t(precision) : 0;
                if (d.precision > max_width)
                    d.precision = max_width;
                ++p;
            } else {
                for (; *p >= '0' && *p <= '9'; ++p)
                    add_digit(d.precision, *p);
            }
        }
        length_modifier length = length_modifier::none;
        if (p[0] == 'h' && p[1] == 'h')
            length = length_modifier::hh, p += 2;
        else if (p[0] == 'l' && p[1] == 'l')
            length = length_modifier::ll, p += 2;
        else if (*p == 'h')
            length = length_modifier::h, ++p;
        else if (*p == 'l')
            length = length_modifier::l, ++p;
        else if (*p == 'z')
            length = length_modifier::z, ++p;
        else if (*p == 'j')
            length = length_modifier::j, ++p;
        else if (*p == 't')
            length = length_modifier::t, ++p;

        const char conversion = *p;
        const bool plain = length == length_modifier::none;
        if (conversion == 'd' || conversion == 'i') {
            int64_t v = 0;
            switch (length) {
            case length_modifier::hh: v = static_cast<signed char>(__builtin_va_arg(args, int)); break;
            case length_modifier::h: v = static_cast<short>(__builtin_va_arg(args, int)); break;
            case length_modifier::none: v = __builtin_va_arg(args, int); break;
            case length_modifier::ll: v = __builtin_va_arg(args, long long); break;
            case length_modifier::z:  // the signed type of size_t's width
            case length_modifier::t: v = __builtin_va_arg(args, __PTRDIFF_TYPE__); break;
            case length_modifier::l:
            case length_modifier::j: v = __builtin_va_arg(args, long); break;
            }
            const uint64_t magnitude = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
            integer(out, d, magnitude, v < 0, true, 10, false, false);
        } else if (conversion == 'u' || conversion == 'x' || conversion == 'X') {
            uint64_t v = 0;
            switch (length) {
            case length_modifier::hh: v = static_cast<unsigned char>(__builtin_va_arg(args, unsigned)); break;
            case length_modifier::h: v = static_cast<unsigned short>(__builtin_va_arg(args, unsigned)); break;
            case length_modifier::none: v = __builtin_va_arg(args, unsigned); break;
            case length_modifier::ll: v = __builtin_va_arg(args, unsigned long long); break;
            case length_modifier::z: v = __builtin_va_arg(args, __SIZE_TYPE__); break;
            case length_modifier::t:  // the unsigned type of ptrdiff_t's width
            case length_modifier::l:
            case length_modifier::j: v = __builtin_va_arg(args, unsigned long); break;
            }
            const bool hex = conversion != 'u';
            integer(out, d, v, false, false, hex ? 16 : 10, conversion == 'X', hex && d.alternate);
        } else if (conversion == 'p' && plain) {
            const uint64_t v = uint64_t(uintptr_t(__builtin_va_arg(args, void*)));
            if (v == 0)
                pad_text(out, d, "(nil)", 5);
            else
                integer(out, d, v, false, false, 16, false, true);
        } else if (conversion == 's' && plain) {
            const char* s = __builtin_va_arg(args, const char*);
            if (!s)
                s = "(null)";
            size_t n = 0;  // never reads past the precision: the text may not be terminated
            while ((!d.has_precision || n < d.precision) && s[n])
                ++n;
            pad_text(out, d, s, n);
        } else if (conversion == 'c' && plain) {
            const char c = char(__builtin_va_arg(args, int));
            pad_text(out, d, &c, 1);
        } else if (conversion == '%') {
            out.put('%');
        } else {
            // Unknown, unsupported (%n, %f, %ls ...) or cut off by the end of the
            // format: copied as written, without taking an argument.
            for (const char* c = start; c < p; ++c)
                out.put(*c);
            if (!*p)
                break;
            out.put(*p);
        }
        ++p;
    }
}

}  // namespace detail::format

// Formats into buffer[0..capacity): at most capacity - 1 characters and a NUL
// (nothing at all when capacity is 0; `buffer` may then be null). Returns the
// length the whole text needs, without the NUL, as C's vsnprintf does: a result
// >= capacity means the text was cut.
inline size_t vsnprintf(char* buffer, size_t capacity, const char* format, __builtin_va_list args) noexcept
{
    detail::format::sink out{buffer, capacity};
    detail::format::format(out, format, args);
    out.terminate();
    return out.total;
}

[[gnu::format(printf, 3, 4)]] inline size_t snprintf(char* buffer, size_t capacity, const char* format,
                                                     ...) noexcept
{
    __builtin_va_list args;
    __builtin_va_start(args, format);
    const size_t length = vsnprintf(buffer, capacity, format, args);
    __builtin_va_end(args);
    return length;
}

}  // namespace hyperbios

#endif
