// Draws a known picture on display 0 and checks what DSP answers, for the host's
// display tests (test_display.py): sets a 64x48 mode, fills a framebuffer in
// which pixel (x, y) is 0x00RRGGBB with R = x * 4, G = y * 5, B = x ^ y, presents
// it in two rectangles (left half, right half), waits for the `presented` event,
// then scribbles over the framebuffer (the host copied it: the screenshot must
// not show the scribble) and shuts down with 0 — or prints what went wrong on
// the debug port and shuts down with 1.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;

namespace {

constexpr uint32_t width = 64, height = 48, stride = 80 * 4;  // 16 pixels of padding a row
alignas(4096) uint32_t framebuffer[height * stride / 4];

[[noreturn]] void fail(const char* what)
{
    hb::fallback::debug_write("display_probe: ");
    hb::fallback::debug_write(what);
    hb::fallback::debug_write("\n");
    (void)hb::power::shutdown(1);
    for (;;)
        asm volatile("hlt");
}

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    if (hb::dsp::count().value_or(0) < 1)
        fail("no display");
    const hb::result<uint64_t> mode = hb::dsp::set_mode(0, width, height);
    if (!mode.ok() || mode.value != 2)
        fail("set_mode did not give generation 2");
    hb::dsp::info_record info{};
    if (!hb::dsp::info(0, info).ok() || info.width != width || info.height != height || info.generation != 2)
        fail("info does not report the new mode");
    for (uint32_t y = 0; y < height; ++y)
        for (uint32_t x = 0; x < width; ++x)
            framebuffer[y * (stride / 4) + x] = (x * 4) << 16 | (y * 5) << 8 | (x ^ y);
    const uint32_t generation = uint32_t(mode.value);
    if (!hb::dsp::present(0, framebuffer, stride, generation, 0, 0, width / 2, height).ok() ||
        !hb::dsp::present(0, framebuffer, stride, generation, width / 2, 0, width / 2, height).ok())
        fail("present failed");
    if (hb::dsp::present(0, framebuffer, stride, generation - 1, 0, 0, 1, 1).code != hb::status::invalid_param)
        fail("a present of an older generation was not INVALID_PARAM");
    // The host copied the rectangles: what the guest draws now is not shown.
    for (uint32_t& p : framebuffer)
        p = 0x00FF00FF;
    (void)hb::evt::set_mask(~hb::evt::bit(hb::abi::evt_source::dsp_ready));
    const uint64_t deadline = hb::time::monotonic_ns().value_or(0) + 2'000'000'000;
    hb::dsp::event_record event{};
    for (;;) {
        const hb::result<uint64_t> woke = hb::evt::wait(deadline, hb::evt::bit(hb::abi::evt_source::dsp_ready));
        if (!woke.ok() || woke.value == 0)
            fail("no presented event within 2 s");
        if (hb::dsp::next_event(0, event).value_or(0) == sizeof event &&
            event.type == hb::abi::dsp_event_type::presented)
            break;
    }
    if (event.a != 2 || event.generation != generation)
        fail("the presented event does not count the two presents of this generation");
    (void)hb::power::shutdown(0);
}
