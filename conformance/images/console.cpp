// CONSOLE service (spec chapter 6).
#include "image.hpp"

namespace conformance {

namespace {
alignas(16) uint8_t arena[256];
}

void run_checks()
{
    using fn = hb::abi::function;

    // What reaches the console can only be seen outside: the driver checks it.
    const char first[] = "HyperBIOS conformance: console line one\n";
    const char second[] = "HyperBIOS conformance: console line two\n";
    expect_console("HB-CON-001", "HyperBIOS conformance: console line one");
    expect_console("HB-CON-002", "HyperBIOS conformance: console line one\nHyperBIOS conformance: console line two");
    auto w1 = hb::console::write(first, sizeof first - 1);
    auto w2 = hb::console::write(second, sizeof second - 1);
    check("HB-CON-001", w1.ok() && w1.value == sizeof first - 1 && w2.ok() && w2.value == sizeof second - 1,
          "write returns SUCCESS and the buffer's length");

    auto none = hb::console::write(static_cast<const void*>(first), 0);
    check("HB-GEN-004", none.ok() && none.value == 0, "write of zero bytes succeeds with 0");
    raw_result far = raw_call(fn::console_write, ~0ull - 3, 0);
    check("HB-GEN-004", far.code() == hb::status::success && far.value == 0,
          "write of zero bytes at an impossible address succeeds");

    if (ram_end) {
        raw_result past = raw_call(fn::console_write, ram_end - 4, 8);
        check_status("HB-GEN-003", hb::result<uint64_t>{past.code(), 0}, hb::status::invalid_address,
                     "write of a buffer straddling the end of RAM is INVALID_ADDRESS");
        raw_result outside = raw_call(fn::console_read, ram_end, 1);
        check_status("HB-GEN-003", hb::result<uint64_t>{outside.code(), 0}, hb::status::invalid_address,
                     "read into a buffer past RAM is INVALID_ADDRESS");
    } else {
        skip("HB-GEN-003", "console buffers outside RAM are INVALID_ADDRESS", "no memory size from the boot loader");
    }
    raw_result wrap = raw_call(fn::console_write, ~0ull - 15, 32);
    check_status("HB-GEN-003", hb::result<uint64_t>{wrap.code(), 0}, hb::status::invalid_address,
                 "write of a buffer that wraps past 2^64 is INVALID_ADDRESS");
    raw_result huge = raw_call(fn::console_read, uint64_t(arena), ~0ull);
    check_status("HB-GEN-003", hb::result<uint64_t>{huge.code(), 0}, hb::status::invalid_address,
                 "read with a length of 2^64 - 1 is INVALID_ADDRESS");

    // read never waits; what it returns is at most what was asked, and nothing beyond it is written.
    for (uint8_t& b : arena)
        b = 0xC3;
    const uint64_t before = hb::time::monotonic_ns().value_or(0);
    auto r = hb::console::read(&arena[16], 64);
    const uint64_t after = hb::time::monotonic_ns().value_or(0);
    check("HB-CON-003", r.ok() && r.value <= 64, "read returns SUCCESS and at most the buffer's length");
    check("HB-CON-003", after - before < 500'000'000ull, "read returns at once (under 0.5 s) instead of waiting");
    bool beyond_untouched = true;
    for (size_t i = 0; i < sizeof arena; ++i)
        if ((i < 16 || i >= 16 + (r.ok() ? r.value : 0)) && arena[i] != 0xC3)
            beyond_untouched = false;
    check("HB-CON-004", beyond_untouched, "read writes no byte beyond the count it returns");
    auto zero = hb::console::read(&arena[0], 0);
    check("HB-CON-003", zero.ok() && zero.value == 0, "read of zero bytes succeeds with 0");
}

}  // namespace conformance
