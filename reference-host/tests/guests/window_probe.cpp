// A guest for the window tests (test_window.py): shows a known picture at the
// size display 0 is asked for, and prints on the debug port what it hears —
// "DSP type generation a b" for each display event but `presented`, "MODE w h
// generation" after each mode it sets, "INPUT dev type code value unicode
// modifiers" for each input event. Pixel (x, y) is 0x00RRGGBB with
// R = x * 4, G = y * 5, B = x ^ y (each modulo 256), as in display_probe.
//
// It starts in a 320x240 mode and answers a size_requested event by setting
// that size (up to 1920x1200) and presenting again, and a close_requested event
// by ending with status 0. With the argument 1 it never reads display events:
// it keeps its mode (the window scales it) and never takes a close request
// (the host's close timeout must end it). The release of Escape ends it with
// status 0.
#include "guest_args.hpp"

#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

#include <initializer_list>

namespace hb = hyperbios;

namespace {

constexpr uint32_t most_width = 1920, most_height = 1200;
alignas(4096) uint32_t framebuffer[most_width * most_height];

void put(const char* text) { hb::fallback::debug_write(text); }

void put_number(int64_t signed_value)
{
    if (signed_value < 0)
        put("-");
    uint64_t v = uint64_t(signed_value < 0 ? -signed_value : signed_value);
    char text[24];
    int n = 0;
    do
        text[n++] = char('0' + v % 10);
    while ((v /= 10) && n < 24);
    while (n)
        hb::fallback::debug_write(&text[--n], 1);
}

void put_numbers(const char* tag, std::initializer_list<int64_t> values)
{
    put(tag);
    for (int64_t v : values) {
        put(" ");
        put_number(v);
    }
    put("\n");
}

void show(uint32_t width, uint32_t height)
{
    const hb::result<uint64_t> mode = hb::dsp::set_mode(0, uint16_t(width), uint16_t(height));
    if (!mode.ok()) {
        put_numbers("MODE-REFUSED", {width, height});
        return;
    }
    for (uint32_t y = 0; y < height; ++y)
        for (uint32_t x = 0; x < width; ++x)
            framebuffer[y * width + x] = ((x * 4) & 0xFF) << 16 | ((y * 5) & 0xFF) << 8 | ((x ^ y) & 0xFF);
    if (!hb::dsp::present(0, framebuffer, width * 4, uint32_t(mode.value), 0, 0, width, height).ok())
        put("PRESENT-FAILED\n");
    put_numbers("MODE", {width, height, int64_t(mode.value)});
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    const bool deaf_to_display = test_guest::first_number_argument(magic, info, 0) == 1;
    const uint64_t inputs = hb::inp::count().value_or(0);
    show(320, 240);
    put_numbers("READY", {int64_t(inputs)});
    const uint64_t sources = hb::evt::bit(hb::abi::evt_source::dsp_ready) | hb::evt::bit(hb::abi::evt_source::inp_ready);
    hb::inp::event_record events[16];
    for (;;) {
        (void)hb::evt::wait(hb::evt::no_deadline, sources);
        hb::dsp::event_record e{};
        while (!deaf_to_display && hb::dsp::next_event(0, e).value_or(0) == sizeof e) {
            if (e.type == hb::abi::dsp_event_type::presented)
                continue;
            put_numbers("DSP", {e.type, e.generation, e.a, e.b});
            if (e.type == hb::abi::dsp_event_type::size_requested && e.a <= most_width && e.b <= most_height)
                show(e.a, e.b);
            if (e.type == hb::abi::dsp_event_type::close_requested)
                (void)hb::power::shutdown(0);
        }
        const uint64_t ready = hb::inp::ready(0).value_or(0);
        for (uint16_t dev = 0; dev < inputs; ++dev) {
            if (!((ready >> dev) & 1))
                continue;
            const size_t n = hb::inp::read(dev, events, 16).value_or(0);
            for (size_t i = 0; i < n; ++i) {
                const hb::inp::event_record& r = events[i];
                put_numbers("INPUT", {dev, r.type, r.code, r.value, r.unicode, r.modifiers});
                if (r.type == hb::abi::inp_event_type::key && r.code == 1 && r.value == 0)
                    (void)hb::power::shutdown(0);
            }
        }
    }
}
