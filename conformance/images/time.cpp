// TIME service (spec chapter 7).
#include "image.hpp"

namespace conformance {

namespace {

// POSIX days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + int64_t(doe) - 719468;
}

// __DATE__ is "Mmm dd yyyy" (day space-padded), the compiler's local date; or
// the date of SOURCE_DATE_EPOCH in a reproducible build.
constexpr int64_t build_day()
{
    constexpr const char* date = __DATE__;
    constexpr const char* months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    unsigned month = 0;
    for (unsigned m = 0; m < 12; ++m)
        if (date[0] == months[3 * m] && date[1] == months[3 * m + 1] && date[2] == months[3 * m + 2])
            month = m + 1;
    if (month == 0)
        return -1;
    const unsigned day = unsigned(date[4] == ' ' ? 0 : date[4] - '0') * 10 + unsigned(date[5] - '0');
    const int64_t year = (date[7] - '0') * 1000 + (date[8] - '0') * 100 + (date[9] - '0') * 10 + (date[10] - '0');
    return days_from_civil(year, month, day);
}
static_assert(days_from_civil(1970, 1, 1) == 0 && days_from_civil(2000, 3, 1) == 11017);
static_assert(build_day() >= 1, "__DATE__ is not in the \"Mmm dd yyyy\" form");

// Midnight UTC starting the day before the build date: __DATE__ is a local
// date, up to a day ahead of UTC.
constexpr uint64_t build_day_start_ns = uint64_t(build_day() - 1) * 86400ull * 1000000000ull;

}  // namespace

void run_checks()
{
    auto first = hb::time::monotonic_ns();
    uint64_t last = first.value;
    bool ok = first.ok(), never_back = true;
    for (int i = 0; i < 2000; ++i) {
        auto now = hb::time::monotonic_ns();
        ok = ok && now.ok();
        never_back = never_back && now.value >= last;
        last = now.value;
    }
    check("HB-TIME-001", ok, "monotonic_ns returns SUCCESS");
    check("HB-TIME-001", never_back, "2000 successive readings of monotonic_ns never decrease");

    // The clock must move: spin until it does (bounded, so a frozen clock fails instead of hanging).
    bool advanced = false;
    for (uint64_t i = 0; i < 20'000'000 && !advanced; ++i)
        advanced = hb::time::monotonic_ns().value > first.value;
    check("HB-TIME-002", advanced, "monotonic_ns advances");

    // The spec asks for the host's idea of the current UTC time and sets no
    // range. One bound is a fact: the present is not before this image was
    // built. It catches a clock in the wrong unit or from the wrong epoch
    // (milliseconds, or seconds, since 1970 are long before any build date).
    auto wall = hb::time::wallclock_ns();
    line when;
    when.put("got ").utc(wall.value).put(", the image was built on ").utc(build_day_start_ns);
    check("HB-TIME-003", wall.ok() && wall.value >= build_day_start_ns,
          "wallclock_ns returns SUCCESS and a UTC time not before the day this image was built", when.c_str());

    auto resolution = hb::time::resolution_ns();
    check("HB-TIME-004", resolution.ok() && resolution.value >= 1 && resolution.value <= 10'000'000,
          "resolution_ns is between 1 ns and 10 ms");
}

}  // namespace conformance
