// hyperbios::snprintf (<hyperbios/format.hpp>) on the host: every conversion,
// flag, width, precision and length modifier against expected text, truncation
// at every buffer size, and a sweep against the C library's snprintf where the
// two must agree.
#include <hyperbios/format.hpp>

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

// Formats into a buffer larger than any text here and checks the returned length.
template <typename... Args>
std::string format(const char* fmt, Args... args)
{
    char buffer[512];
    const size_t length = hyperbios::snprintf(buffer, sizeof buffer, fmt, args...);
    EXPECT_EQ(length, std::string(buffer).size()) << "format \"" << fmt << "\"";
    return buffer;
}

TEST(Format, PlainTextAndPercent)
{
    EXPECT_EQ(format("plain text"), "plain text");
    EXPECT_EQ(format(""), "");
    EXPECT_EQ(format("100%%"), "100%");
    EXPECT_EQ(format("%%%d%%", 5), "%5%");
}

TEST(Format, Strings)
{
    EXPECT_EQ(format("[%s]", "kernel"), "[kernel]");
    EXPECT_EQ(format("[%10s]", "kernel"), "[    kernel]");
    EXPECT_EQ(format("[%-10s]", "kernel"), "[kernel    ]");
    EXPECT_EQ(format("[%.3s]", "kernel"), "[ker]");
    EXPECT_EQ(format("[%6.2s]", "kernel"), "[    ke]");
    EXPECT_EQ(format("[%-*.*s]", 6, 2, "kernel"), "[ke    ]");
    EXPECT_EQ(format("[%*s]", -6, "ab"), "[ab    ]");  // a negative '*' width left-aligns
    EXPECT_EQ(format("[%.*s]", -1, "kernel"), "[kernel]");  // a negative '*' precision is none
    EXPECT_EQ(format("[%s]", static_cast<const char*>(nullptr)), "[(null)]");
    EXPECT_EQ(format("[%2s]", "kernel"), "[kernel]");  // a width never cuts
}

TEST(Format, StringPrecisionReadsNoFurther)
{
    const char unterminated[4] = {'a', 'b', 'c', 'd'};
    EXPECT_EQ(format("%.4s|", unterminated), "abcd|");
}

TEST(Format, Characters)
{
    EXPECT_EQ(format("%c%c%c", 'H', 'B', '!'), "HB!");
    EXPECT_EQ(format("[%3c]", 'x'), "[  x]");
    EXPECT_EQ(format("[%-3c]", 'x'), "[x  ]");
}

TEST(Format, SignedDecimal)
{
    EXPECT_EQ(format("%d %i", 42, -42), "42 -42");
    EXPECT_EQ(format("%d", 0), "0");
    EXPECT_EQ(format("%d", INT_MIN), "-2147483648");
    EXPECT_EQ(format("%d", INT_MAX), "2147483647");
    EXPECT_EQ(format("[%5d]", -42), "[  -42]");
    EXPECT_EQ(format("[%-5d]", -42), "[-42  ]");
    EXPECT_EQ(format("[%05d]", -42), "[-0042]");
    EXPECT_EQ(format("[%+d] [% d] [%+d]", 7, 7, -7), "[+7] [ 7] [-7]");
    EXPECT_EQ(format("[%.4d]", 7), "[0007]");
    EXPECT_EQ(format("[%8.4d]", -7), "[   -0007]");
    EXPECT_EQ(format("[%08.4d]", 7), "[    0007]");  // a precision turns '0' off
    EXPECT_EQ(format("[%.0d]", 0), "[]");
    EXPECT_EQ(format("[%-05d]", 3), "[3    ]");  // '-' wins over '0'
}

TEST(Format, LengthModifiers)
{
    EXPECT_EQ(format("%ld", -9000000000L), "-9000000000");
    EXPECT_EQ(format("%lld", LLONG_MIN), "-9223372036854775808");
    EXPECT_EQ(format("%llu", ULLONG_MAX), "18446744073709551615");
    EXPECT_EQ(format("%lu", 18000000000000000000UL), "18000000000000000000");
    EXPECT_EQ(format("%zu", size_t(1) << 40), "1099511627776");
    EXPECT_EQ(format("%zd", ptrdiff_t(-5)), "-5");
    EXPECT_EQ(format("%zx", ~size_t(0)), "ffffffffffffffff");
    EXPECT_EQ(format("%jd %td", intmax_t(-1), ptrdiff_t(-2)), "-1 -2");
    EXPECT_EQ(format("%hhd %hhu", 0x1FF, 0x1FF), "-1 255");  // converted to (un)signed char
    EXPECT_EQ(format("%hd %hu", 0x18000, 0x18000), "-32768 32768");
    EXPECT_EQ(format("%llx", 0x123456789abcdefULL), "123456789abcdef");
    // An int argument's upper register half must not leak into %u or %x.
    EXPECT_EQ(format("%u %x", -1, -1), "4294967295 ffffffff");
}

TEST(Format, Hexadecimal)
{
    EXPECT_EQ(format("%x %X", 0xbeefu, 0xbeefu), "beef BEEF");
    EXPECT_EQ(format("%x", 0u), "0");
    EXPECT_EQ(format("[%08x]", 0xbeefu), "[0000beef]");
    EXPECT_EQ(format("[%-8x]", 0xbeefu), "[beef    ]");
    EXPECT_EQ(format("[%#x] [%#X] [%#x]", 0xbeefu, 0xbeefu, 0u), "[0xbeef] [0XBEEF] [0]");
    EXPECT_EQ(format("[%#010x]", 0xbeefu), "[0x0000beef]");  // zeros go after the prefix
    EXPECT_EQ(format("[%#10x]", 0xbeefu), "[    0xbeef]");
    EXPECT_EQ(format("[%.6x]", 0xbeefu), "[00beef]");
    EXPECT_EQ(format("%+x", 5u), "5");  // '+' only signs signed conversions
}

TEST(Format, Unsigned)
{
    EXPECT_EQ(format("%u", 4000000000u), "4000000000");
    EXPECT_EQ(format("[%6u]", 12u), "[    12]");
    EXPECT_EQ(format("[%06u]", 12u), "[000012]");
}

TEST(Format, Pointers)
{
    EXPECT_EQ(format("%p", reinterpret_cast<void*>(0x1000)), "0x1000");
    EXPECT_EQ(format("%p", reinterpret_cast<void*>(0xffff800000000000ull)), "0xffff800000000000");
    EXPECT_EQ(format("%p", static_cast<void*>(nullptr)), "(nil)");
    EXPECT_EQ(format("[%10p]", reinterpret_cast<void*>(0xabc)), "[     0xabc]");
    EXPECT_EQ(format("[%-10p]", reinterpret_cast<void*>(0xabc)), "[0xabc     ]");
}

// GCC and clang would reject these formats at compile time; the formatter must
// still do something visible and safe with them at run time.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
TEST(Format, UnknownDirectivesAreCopiedAsWritten)
{
    EXPECT_EQ(format("a%qb"), "a%qb");
    EXPECT_EQ(format("%n and %d", 5), "%n and 5");  // %n writes nothing and takes no argument
    EXPECT_EQ(format("%f|%d", 7), "%f|7");
    EXPECT_EQ(format("%ls|%d", 7), "%ls|7");
    EXPECT_EQ(format("cut at the end: %"), "cut at the end: %");
    EXPECT_EQ(format("cut at the end: %-08l"), "cut at the end: %-08l");
}
#pragma GCC diagnostic pop

TEST(Format, TruncatesAtEveryCapacityAndReportsTheFullLength)
{
    const std::string full = "id=42 name=kernel hex=0xbeef";
    for (size_t capacity = 1; capacity <= full.size() + 2; ++capacity) {
        char buffer[64];
        std::memset(buffer, '#', sizeof buffer);
        const size_t needed =
            hyperbios::snprintf(buffer, capacity, "id=%d name=%s hex=%#x", 42, "kernel", 0xbeefu);
        EXPECT_EQ(needed, full.size()) << "capacity " << capacity;
        const size_t kept = std::min(capacity - 1, full.size());
        EXPECT_EQ(std::string(buffer), full.substr(0, kept)) << "capacity " << capacity;
        EXPECT_EQ(buffer[kept], '\0');
        for (size_t i = capacity; i < sizeof buffer; ++i)
            ASSERT_EQ(buffer[i], '#') << "wrote byte " << i << " with capacity " << capacity;
    }
}

TEST(Format, ZeroCapacityWritesNothing)
{
    char guard = '#';
    EXPECT_EQ(hyperbios::snprintf(&guard, 0, "%s", "abc"), 3u);
    EXPECT_EQ(guard, '#');
    EXPECT_EQ(hyperbios::snprintf(nullptr, 0, "%d-%d", 10, 20), 5u);
}

TEST(Format, PaddingLongerThanTheBufferIsCountedNotWritten)
{
    char buffer[8];
    EXPECT_EQ(hyperbios::snprintf(buffer, sizeof buffer, "%100d", 1), 100u);
    EXPECT_EQ(std::string(buffer), "       ");
    // A width past max_width is taken as max_width (and the compiler rightly warns).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-overflow"
    EXPECT_EQ(hyperbios::snprintf(buffer, sizeof buffer, "%99999999999d", 1), hyperbios::detail::format::max_width);
#pragma GCC diagnostic pop
}

// The formatter and the C library must agree wherever C defines the result.
TEST(Format, AgreesWithTheCLibrary)
{
    const char* const flags[] = {"", "-", "0", "+", " ", "#", "-+", "0#", "- "};
    const char* const widths[] = {"", "1", "5", "12"};
    const char* const precisions[] = {"", ".0", ".3", ".15"};
    const long long signed_values[] = {0, 1, -1, 42, -1234567, LLONG_MAX, LLONG_MIN};
    const unsigned long long unsigned_values[] = {0, 1, 0xbeef, 0xffffffffull, ULLONG_MAX};
    const char* const strings[] = {"", "a", "kernel", "a longer string"};
    size_t compared = 0;
    auto compare = [&](const std::string& directive, auto value) {
        char ours[256], theirs[256];
        const size_t our_length = hyperbios::snprintf(ours, sizeof ours, directive.c_str(), value);
        const int their_length = std::snprintf(theirs, sizeof theirs, directive.c_str(), value);
        ASSERT_EQ(std::string(ours), std::string(theirs)) << "directive " << directive;
        ASSERT_EQ(our_length, size_t(their_length)) << "directive " << directive;
        ++compared;
    };
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
    for (const char* f : flags)
        for (const char* w : widths)
            for (const char* p : precisions) {
                const std::string spec = std::string("%") + f + w + p;
                const bool hash = std::string(f).find('#') != std::string::npos;
                const bool zero = std::string(f).find('0') != std::string::npos;
                for (long long v : signed_values) {
                    if (!hash) {  // '#' with %d is undefined in C
                        compare(spec + "lld", v);
                        compare(spec + "d", int(v));
                    }
                }
                for (unsigned long long v : unsigned_values) {
                    if (!hash)
                        compare(spec + "llu", v);
                    compare(spec + "llx", v);
                    compare(spec + "X", unsigned(v));
                }
                if (!hash && !zero) {  // '#' and '0' with %s and %c are undefined in C
                    for (const char* s : strings)
                        compare(spec + "s", s);
                    if (!*p)
                        compare(spec + "c", int('q'));
                }
                const bool sign = std::string(f).find_first_of("+ ") != std::string::npos;
                if (!hash && !zero && !sign && !*p)  // C defines no flag but '-' for %p
                    for (unsigned long long v : unsigned_values)
                        if (v)
                            compare(spec + "p", reinterpret_cast<void*>(v));
            }
#pragma GCC diagnostic pop
    EXPECT_GT(compared, 2000u);
}

}  // namespace
