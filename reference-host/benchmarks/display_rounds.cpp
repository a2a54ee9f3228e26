// Benchmark guest for bench-display. Its argument chooses what it measures:
//
//   0 (copies): DSP.present of a whole 1920x1080 frame (8 MiB) 100 times, then
//     of a 64x64 rectangle (a stroke's worth) 3000 times, timed with
//     TIME.monotonic_ns, without waiting for `presented` (what is timed is the
//     copy the host makes before present returns). The frame changes before
//     each present (one word), so that no host could skip a copy. Prints
//     "present W x H bytes B calls C total-ns T failures F" per size.
//   1 (paced): for 3 s, a changed 1920x1080 frame presented at every
//     `presented` event, as a game draws; prints "paced frames N total-ns T".
//   2 (input): shows a 320x240 frame (so that a window opens), then prints
//     "KEY code value read-ns R event-ns E" for each key event of INP device 0
//     (E: when the host queued it, R: when the guest read it), and ends at the
//     release of Escape.
//
// Exit status 0, or 1 when a call failed or there is no display.
#include "../tests/guests/guest_args.hpp"

#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

constexpr uint32_t width = 1920, height = 1080;
alignas(4096) uint32_t frame[width * height];

void say(const hb::text::line<200>& out) { (void)hb::console::write(out.c_str()); }

uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

uint64_t round(uint32_t generation, uint32_t w, uint32_t h, uint64_t calls, uint64_t& failures)
{
    const uint64_t start = now();
    for (uint64_t i = 0; i < calls; ++i) {
        frame[(i * 64) % (uint64_t(w) * h)] = uint32_t(i);
        failures += !hb::dsp::present(0, frame, width * 4, generation, 0, 0, w, h).ok();
    }
    return now() - start;
}

void copies(uint32_t generation)
{
    uint64_t failures = 0;
    struct size {
        uint32_t w, h, calls;
    };
    const size sizes[] = {{width, height, 100}, {64, 64, 3000}};
    for (const auto [w, h, calls] : sizes) {
        const uint64_t before = failures, ns = round(generation, w, h, calls, failures);
        hb::text::line<200> out;
        out.put("present ").dec(w).put(" x ").dec(h).put(" bytes ").dec(uint64_t(w) * h * 4).put(" calls ").dec(calls)
            .put(" total-ns ").dec(ns).put(" failures ").dec(failures - before).put('\n');
        say(out);
    }
    (void)hb::power::shutdown(failures ? 1 : 0);
}

void paced(uint32_t generation)
{
    const uint64_t start = now(), source = hb::evt::bit(hb::abi::evt_source::dsp_ready);
    uint64_t frames = 0;
    while (now() - start < 3'000'000'000ull) {
        frame[(frames * 4099) % (uint64_t(width) * height)] = uint32_t(frames);
        if (!hb::dsp::present(0, frame, width * 4, generation, 0, 0, width, height).ok())
            (void)hb::power::shutdown(1);
        for (bool shown = false; !shown;) {  // until this frame's `presented`
            (void)hb::evt::wait(start + 10'000'000'000ull, source);
            hb::dsp::event_record e{};
            while (hb::dsp::next_event(0, e).value_or(0) == sizeof e)
                shown = shown || e.type == hb::abi::dsp_event_type::presented;
        }
        ++frames;
    }
    hb::text::line<200> out;
    out.put("paced frames ").dec(frames).put(" total-ns ").dec(now() - start).put('\n');
    say(out);
    (void)hb::power::shutdown(0);
}

void input()
{
    const hb::result<uint64_t> mode = hb::dsp::set_mode(0, 320, 240);
    if (mode.ok())
        (void)hb::dsp::present(0, frame, width * 4, uint32_t(mode.value), 0, 0, 320, 240);
    (void)hb::console::write("input: ready\n");
    hb::inp::event_record events[16];
    for (;;) {
        (void)hb::evt::wait(hb::evt::no_deadline, hb::evt::bit(hb::abi::evt_source::inp_ready));
        const uint64_t read_at = now();
        const size_t n = hb::inp::read(0, events, 16).value_or(0);
        for (size_t i = 0; i < n; ++i) {
            if (events[i].type != hb::abi::inp_event_type::key)
                continue;
            hb::text::line<200> out;
            out.put("KEY ").dec(events[i].code).put(' ').dec(uint64_t(events[i].value)).put(" read-ns ").dec(read_at)
                .put(" event-ns ").dec(events[i].time_ns).put('\n');
            say(out);
            if (events[i].code == 1 && events[i].value == 0)
                (void)hb::power::shutdown(0);
        }
    }
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    const uint64_t what = test_guest::first_number_argument(magic, info, 0);
    if (what == 2)
        input();
    const hb::result<uint64_t> mode = hb::dsp::set_mode(0, width, height);
    if (!mode.ok()) {
        (void)hb::console::write("display_rounds: no display takes 1920x1080\n");
        (void)hb::power::shutdown(1);
    }
    for (uint32_t i = 0; i < width * height; ++i)
        frame[i] = i * 2654435761u;
    if (what == 1)
        paced(uint32_t(mode.value));
    copies(uint32_t(mode.value));
}
