// Freestanding text formatting for kernels that have no printf yet: a fixed-size
// line builder with decimal, hexadecimal and UTC date output. Not part of the ABI.
#ifndef HYPERBIOS_TEXT_HPP
#define HYPERBIOS_TEXT_HPP

#include <stddef.h>
#include <stdint.h>

namespace hyperbios::text {

// Whether s[0, n) is UTF-8 (no overlong forms, no surrogates, nothing past
// U+10FFFF) without control characters (C0, DEL): text a device's name may be
// (spec 12.3.1), shown as it is. Used by the host to refuse a name and by the
// conformance images to check one.
constexpr bool is_printable_utf8(const char* s, size_t n) noexcept
{
    for (size_t i = 0; i < n;) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F)
            return false;
        const size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (length == 0 || i + length > n)
            return false;
        uint32_t code = length == 1 ? c : c & (0x7Fu >> length);
        for (size_t k = 1; k < length; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80)
                return false;
            code = (code << 6) | (d & 0x3Fu);
        }
        constexpr uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (code < least[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
            return false;
        i += length;
    }
    return true;
}
static_assert(is_printable_utf8("disk0", 5) && is_printable_utf8("\xC3\xA9t\xC3\xA9", 5) &&
              !is_printable_utf8("a\nb", 3) && !is_printable_utf8("\xC0\xAF", 2) && !is_printable_utf8("\xED\xA0\x80", 3));

// Builds NUL-terminated text in place; what does not fit is dropped.
template <size_t Capacity>
class line {
    static_assert(Capacity > 1);

public:
    line() noexcept { data_[0] = 0; }

    const char* c_str() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }
    void clear() noexcept { size_ = 0, data_[0] = 0; }

    line& put(char c) noexcept
    {
        if (size_ + 1 < Capacity) {
            data_[size_++] = c;
            data_[size_] = 0;
        }
        return *this;
    }

    line& put(const char* s) noexcept
    {
        while (*s)
            put(*s++);
        return *this;
    }

    line& put(const char* s, size_t n) noexcept
    {
        for (size_t i = 0; i < n; ++i)
            put(s[i]);
        return *this;
    }

    // Decimal, left-padded with zeros to at least `width` digits.
    line& dec(uint64_t v, unsigned width = 1) noexcept
    {
        char digits[20];
        unsigned n = 0;
        do {
            digits[n++] = char('0' + v % 10);
            v /= 10;
        } while (v);
        for (unsigned i = n; i < width; ++i)
            put('0');
        while (n)
            put(digits[--n]);
        return *this;
    }

    line& sdec(int64_t v) noexcept
    {
        if (v < 0)
            return put('-').dec(uint64_t(0) - uint64_t(v));
        return dec(uint64_t(v));
    }

    // "0x" followed by at least `width` hexadecimal digits.
    line& hex(uint64_t v, unsigned width = 1) noexcept
    {
        put("0x");
        unsigned n = 16;
        while (n > width && n > 1 && !((v >> (4 * (n - 1))) & 0xF))
            --n;
        while (n)
            put("0123456789abcdef"[(v >> (4 * --n)) & 0xF]);
        return *this;
    }

    // "YYYY-MM-DD HH:MM:SS.mmm UTC" for nanoseconds since the Unix epoch.
    line& utc(uint64_t ns) noexcept
    {
        uint64_t seconds = ns / 1000000000u;
        const uint64_t millis = ns / 1000000u % 1000;
        int64_t days = int64_t(seconds / 86400);
        const uint64_t rest = seconds % 86400;
        // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
        days += 719468;
        const int64_t era = days / 146097;
        const uint64_t doe = uint64_t(days - era * 146097);
        const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        const uint64_t mp = (5 * doy + 2) / 153;
        const uint64_t day = doy - (153 * mp + 2) / 5 + 1;
        const uint64_t month = mp < 10 ? mp + 3 : mp - 9;
        const uint64_t year = yoe + uint64_t(era) * 400 + (month <= 2);
        dec(year, 4).put('-').dec(month, 2).put('-').dec(day, 2).put(' ');
        dec(rest / 3600, 2).put(':').dec(rest / 60 % 60, 2).put(':').dec(rest % 60, 2).put('.').dec(millis, 3);
        return put(" UTC");
    }

private:
    char data_[Capacity];
    size_t size_ = 0;
};

}  // namespace hyperbios::text

#endif
