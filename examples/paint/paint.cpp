// paint: a kernel with a window, a mouse and a keyboard, and not one device
// driver. It draws a palette and a canvas on display 0 (DSP), paints with the
// left button of an absolute pointer (INP), takes the size the window is given
// (size_requested), and presents only the rectangle each stroke touched. Keys:
// 1-8 choose a colour (so does a click on the palette), C clears, Escape or
// closing the window ends it with exit code 0.
//
//     hbvm run build/examples/paint/paint.elf          (a window where $DISPLAY is set)
//
// It sleeps in EVT.wait between events: a still picture costs no host CPU.
// Without DSP or a pointer it says so and exits 2.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/detect.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/print.hpp>

namespace hb = hyperbios;
namespace dsp = hyperbios::dsp;
namespace inp = hyperbios::inp;

namespace {

constexpr uint8_t cannot_run_exit_code = 2;

// The canvas keeps one stride whatever the mode, so a resize keeps what was
// drawn where it was: present takes the stride from the guest.
constexpr uint32_t most_width = 1920, most_height = 1200, stride = most_width * 4;
alignas(4096) uint32_t frame[most_width * most_height];

constexpr uint32_t palette_height = 32, brush = 3;  // brush: a square of 2 * brush + 1
constexpr uint32_t colours[8] = {0x000000, 0xE03030, 0xF0A020, 0xF0E040, 0x40C040, 0x3080F0, 0x8040C0, 0xFFFFFF};
constexpr uint32_t paper = 0xF4F1E8, bar = 0x303030, frame_colour = 0xFFFFFF;

uint32_t width, height, generation;
unsigned chosen = 1;

// The rectangle drawn since the last present: x0 <= x < x1, y0 <= y < y1.
struct dirty_rect {
    uint32_t x0 = ~0u, y0 = ~0u, x1 = 0, y1 = 0;
    void add(uint32_t x, uint32_t y, uint32_t w, uint32_t h)
    {
        x0 = x < x0 ? x : x0;
        y0 = y < y0 ? y : y0;
        x1 = x + w > x1 ? x + w : x1;
        y1 = y + h > y1 ? y + h : y1;
    }
    bool empty() const { return x1 <= x0 || y1 <= y0; }
} dirty;

void fill(uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t colour)
{
    if (x >= width || y >= height)
        return;
    w = x + w > width ? width - x : w;
    h = y + h > height ? height - y : h;
    for (uint32_t r = y; r < y + h; ++r)
        for (uint32_t c = x; c < x + w; ++c)
            frame[r * most_width + c] = colour;
    dirty.add(x, y, w, h);
}

void draw_palette()
{
    fill(0, 0, width, palette_height, bar);
    const uint32_t swatch = palette_height - 8;
    for (unsigned i = 0; i < 8; ++i) {
        const uint32_t x = 4 + i * (swatch + 8);
        if (i == chosen)
            fill(x - 2, 2, swatch + 4, swatch + 4, frame_colour);
        fill(x, 4, swatch, swatch, colours[i]);
    }
}

void clear_canvas() { fill(0, palette_height, width, height > palette_height ? height - palette_height : 0, paper); }

void present_dirty()
{
    if (dirty.empty())
        return;
    (void)dsp::present(0, frame, stride, generation, dirty.x0, dirty.y0, dirty.x1 - dirty.x0, dirty.y1 - dirty.y0);
    dirty = {};
}

// A new mode: the canvas keeps what it had, new room is paper.
bool set_mode(uint32_t w, uint32_t h)
{
    w = w > most_width ? most_width : w;
    h = h > most_height ? most_height : h;
    const hb::result<uint64_t> mode = dsp::set_mode(0, uint16_t(w), uint16_t(h));
    if (!mode.ok())
        return false;
    const uint32_t old_width = width, old_height = height;
    width = w;
    height = h;
    generation = uint32_t(mode.value);
    if (w > old_width)
        fill(old_width, palette_height, w - old_width, h, paper);
    if (h > old_height)
        fill(0, old_height > palette_height ? old_height : palette_height, w, h - old_height, paper);
    draw_palette();
    dirty.add(0, 0, width, height);  // a new mode shows black until presented whole
    present_dirty();
    return true;
}

void dab(int32_t x, int32_t y)
{
    if (y - int32_t(brush) < int32_t(palette_height))
        return;
    fill(uint32_t(x > int32_t(brush) ? x - int32_t(brush) : 0), uint32_t(y - int32_t(brush)), 2 * brush + 1,
         2 * brush + 1, colours[chosen]);
}

// A stroke from (x0, y0) to (x1, y1), dab by dab (Bresenham).
void stroke(int32_t x0, int32_t y0, int32_t x1, int32_t y1)
{
    const int32_t dx = x1 > x0 ? x1 - x0 : x0 - x1, sx = x0 < x1 ? 1 : -1;
    const int32_t dy = y1 > y0 ? y0 - y1 : y1 - y0, sy = y0 < y1 ? 1 : -1;
    int32_t error = dx + dy;
    for (;;) {
        dab(x0, y0);
        if (x0 == x1 && y0 == y1)
            return;
        const int32_t e2 = 2 * error;
        if (e2 >= dy) {
            error += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            error += dx;
            y0 += sy;
        }
    }
}

void choose(unsigned colour)
{
    chosen = colour;
    draw_palette();
}

[[noreturn]] void end(uint8_t code)
{
    (void)hb::power::shutdown(code);
    for (;;)
        asm volatile("cli; hlt");
}

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    if (!hb::detect().present || dsp::count().value_or(0) < 1) {
        hb::print("paint: this host has no display (the DSP service); run it on hbvm\n");
        end(cannot_run_exit_code);
    }
    // The keyboard and the absolute pointer on display 0, whichever numbers they have.
    int keyboard = -1, pointer = -1;
    const uint64_t devices = inp::count().value_or(0);
    for (uint16_t d = 0; d < devices && d < 64; ++d) {
        inp::info_record info{};
        if (!inp::info(d, info).ok())
            continue;
        if (info.kind == hb::abi::inp_kind::keyboard && keyboard < 0)
            keyboard = d;
        if (info.kind == hb::abi::inp_kind::pointer && info.display == 0 && pointer < 0)
            pointer = d;
    }
    if (pointer < 0) {
        hb::print("paint: this host has no absolute pointer on display 0 (INP); give hbvm --input pointer\n");
        end(cannot_run_exit_code);
    }

    dsp::info_record shown{};
    (void)dsp::info(0, shown);
    const uint32_t want_width = shown.preferred_width ? shown.preferred_width : shown.width;
    const uint32_t want_height = shown.preferred_height ? shown.preferred_height : shown.height;
    width = height = 0;
    if (!set_mode(want_width, want_height) && !set_mode(640, 480)) {
        hb::print("paint: the display takes neither its own size nor 640x480\n");
        end(cannot_run_exit_code);
    }
    clear_canvas();
    present_dirty();
    hb::printf("paint: ready, %ux%u; paint with the left button; 1-8 or a click on the palette choose a colour, "
               "C clears, Escape ends\n", width, height);

    const uint64_t sources = hb::evt::bit(hb::abi::evt_source::dsp_ready) | hb::evt::bit(hb::abi::evt_source::inp_ready);
    int32_t x = 0, y = 0;
    bool painting = false;
    inp::event_record events[32];
    for (;;) {
        (void)hb::evt::wait(hb::evt::no_deadline, sources);
        dsp::event_record e{};
        while (dsp::next_event(0, e).value_or(0) == sizeof e) {
            if (e.type == hb::abi::dsp_event_type::size_requested && e.a >= 1 && e.b >= 1)
                (void)set_mode(e.a, e.b);
            else if (e.type == hb::abi::dsp_event_type::close_requested)
                end(0);
        }
        const int inputs[2] = {pointer, keyboard};
        for (int device : inputs) {
            if (device < 0)
                continue;
            size_t n;
            while ((n = inp::read(uint16_t(device), events, 32).value_or(0)) > 0) {
                for (size_t i = 0; i < n; ++i) {
                    const inp::event_record& ev = events[i];
                    if (ev.type == hb::abi::inp_event_type::absolute) {
                        const int32_t before_x = x, before_y = y;
                        (ev.code == 0 ? x : y) = ev.value;
                        if (painting)
                            stroke(before_x, before_y, x, y);
                    } else if (ev.type == hb::abi::inp_event_type::button && ev.code == 0x110) {  // BTN_LEFT
                        painting = ev.value == 1 && y >= int32_t(palette_height);
                        if (ev.value == 1 && y < int32_t(palette_height) && x >= 4 &&
                            uint32_t(x - 4) / (palette_height) < 8)
                            choose(unsigned(uint32_t(x - 4) / palette_height));
                        if (painting)
                            dab(x, y);
                    } else if (ev.type == hb::abi::inp_event_type::key && ev.value == 1) {
                        if (ev.code == 1)  // KEY_ESC
                            end(0);
                        if (ev.code >= 2 && ev.code <= 9)  // KEY_1 .. KEY_8
                            choose(ev.code - 2u);
                        if (ev.code == 46) {  // KEY_C
                            clear_canvas();
                        }
                    } else if (ev.type == hb::abi::inp_event_type::dropped) {
                        painting = false;  // what was lost may have ended the stroke
                    }
                }
                present_dirty();
            }
        }
        present_dirty();
    }
}
