// TIME service (spec chapter 7).
#include "image.hpp"

namespace conformance {

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

    auto wall = hb::time::wallclock_ns();
    constexpr uint64_t year_2020 = 1577836800ull * 1000000000ull;
    constexpr uint64_t year_2200 = 7258118400ull * 1000000000ull;
    line when;
    when.put("got ").utc(wall.value);
    check("HB-TIME-003", wall.ok() && wall.value > year_2020 && wall.value < year_2200,
          "wallclock_ns returns a UTC time between 2020 and 2200", when.c_str());

    auto resolution = hb::time::resolution_ns();
    check("HB-TIME-004", resolution.ok() && resolution.value >= 1 && resolution.value <= 10'000'000,
          "resolution_ns is between 1 ns and 10 ms");
}

}  // namespace conformance
