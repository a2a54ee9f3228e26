// Benchmark guest for bench-display: DSP.present of a whole 1024x768 frame
// (3 MiB) 300 times, then of a 64x64 rectangle (a stroke's worth) 3000 times,
// timed with TIME.monotonic_ns, without waiting for `presented` (what is timed
// is the copy the host makes before present returns). The frame changes
// before each present (one word), so that no host could skip a copy.
//
// Prints "present WIDTH x HEIGHT bytes B calls C total-ns T failures F" per
// size; exit status 0, or 1 when a call failed or there is no display.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

constexpr uint32_t width = 1024, height = 768;
alignas(4096) uint32_t frame[width * height];

void report(uint32_t w, uint32_t h, uint64_t calls, uint64_t ns, uint64_t failures)
{
    hb::text::line<160> out;
    out.put("present ").dec(w).put(" x ").dec(h).put(" bytes ").dec(uint64_t(w) * h * 4).put(" calls ").dec(calls)
        .put(" total-ns ").dec(ns).put(" failures ").dec(failures).put('\n');
    (void)hb::console::write(out.c_str());
}

uint64_t round(uint32_t generation, uint32_t w, uint32_t h, uint64_t calls, uint64_t& failures)
{
    const uint64_t start = hb::time::monotonic_ns().value_or(0);
    for (uint64_t i = 0; i < calls; ++i) {
        frame[(i * 64) % (uint64_t(w) * h)] = uint32_t(i);
        failures += !hb::dsp::present(0, frame, width * 4, generation, 0, 0, w, h).ok();
    }
    return hb::time::monotonic_ns().value_or(0) - start;
}

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    const hb::result<uint64_t> mode = hb::dsp::set_mode(0, width, height);
    if (!mode.ok()) {
        (void)hb::console::write("display_rounds: no display takes 1024x768\n");
        (void)hb::power::shutdown(1);
    }
    for (uint32_t i = 0; i < width * height; ++i)
        frame[i] = i * 2654435761u;
    uint64_t failures = 0;
    const uint64_t whole = round(uint32_t(mode.value), width, height, 300, failures);
    report(width, height, 300, whole, failures);
    const uint64_t failures_before = failures;
    const uint64_t small = round(uint32_t(mode.value), 64, 64, 3000, failures);
    report(64, 64, 3000, small, failures - failures_before);
    (void)hb::power::shutdown(failures ? 1 : 0);
}
