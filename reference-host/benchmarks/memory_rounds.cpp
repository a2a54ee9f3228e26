// Benchmark guest: memory-touching rounds, timed with the host's monotonic clock.
// A round reads (then, in a second loop, writes) one 64-bit word in each of 16
// pages, 4 KiB apart, in a 16 MiB buffer, and moves on by 8 bytes, so every round
// touches pages the engine must translate and check. N rounds from the kernel
// command line ("IMAGE N"). Prints "memory-read-16-pages N total-ns T" and
// "memory-write-16-pages ..."; the checksum keeps the reads from being optimised
// away.
#include "../tests/guests/guest_args.hpp"

#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

constexpr uint64_t pages = 16;
constexpr uint64_t page = 4096;
alignas(4096) uint64_t buffer[(16 << 20) / sizeof(uint64_t)];


void report(const char* what, uint64_t n, uint64_t ns, uint64_t checksum)
{
    hb::text::line<128> out;
    out.put(what).put(' ').dec(n).put(" total-ns ").dec(ns).put(" checksum ").hex(checksum).put('\n');
    (void)hb::console::write(out.c_str());
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    const uint64_t n = test_guest::first_number_argument(magic, info, 100000);
    if (!hb::present())
        hb::fallback::power_off_emulator(2);
    constexpr uint64_t words = sizeof buffer / sizeof buffer[0];
    constexpr uint64_t span = pages * page / sizeof(uint64_t);  // words covered by one round
    uint64_t checksum = 0;
    uint64_t t0 = hb::time::monotonic_ns().value;
    for (uint64_t r = 0, at = 0; r < n; ++r, at = (at + 1) % (words - span)) {
        const volatile uint64_t* p = buffer + at;
        for (uint64_t i = 0; i < pages; ++i)
            checksum += p[i * page / sizeof(uint64_t)];
    }
    uint64_t t1 = hb::time::monotonic_ns().value;
    report("memory-read-16-pages", n, t1 - t0, checksum);
    t0 = hb::time::monotonic_ns().value;
    for (uint64_t r = 0, at = 0; r < n; ++r, at = (at + 1) % (words - span)) {
        volatile uint64_t* p = buffer + at;
        for (uint64_t i = 0; i < pages; ++i)
            p[i * page / sizeof(uint64_t)] = r + i;
    }
    t1 = hb::time::monotonic_ns().value;
    report("memory-write-16-pages", n, t1 - t0, buffer[0]);
    (void)hb::power::shutdown(0);
}
