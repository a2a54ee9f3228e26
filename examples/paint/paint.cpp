// paint: a kernel with a window, a mouse and a keyboard, and not one device
// driver. It draws a scene and a palette on display 0 (DSP), shows its own
// cursor where the absolute pointer (INP) is, paints while the left button is
// held, types text where the button was last pressed, takes the size the
// window is given (size_requested: what was drawn stays where it was), and
// presents only the rectangles that changed. F1-F8 or a click on the palette
// choose a colour, F9 clears, Escape or closing the window ends it (exit 0).
//
//     hbvm run build/examples/paint/paint.elf          (a window where $DISPLAY is set)
//
// It sleeps in EVT.wait between events: a still picture costs no host CPU.
// Without DSP or a pointer it says so and exits 2.
#include "font.hpp"

#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/detect.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/print.hpp>

namespace hb = hyperbios;
namespace dsp = hyperbios::dsp;
namespace inp = hyperbios::inp;

namespace {

constexpr uint8_t cannot_run_exit_code = 2;

// The drawing (`canvas`) and what is presented (`frame`: the drawing with the
// cursor on top) keep one stride whatever the mode, so that a resize keeps
// what was drawn where it was: present takes the stride from the guest.
constexpr uint32_t most_width = 1920, most_height = 1200, stride = most_width * 4;
alignas(4096) uint32_t canvas[most_width * most_height];
alignas(4096) uint32_t frame[most_width * most_height];

constexpr uint32_t palette_height = 32, brush = 3;  // brush: a square of 2 * brush + 1
constexpr uint32_t colours[8] = {0x000000, 0xE03030, 0xF0A020, 0xF0E040, 0x40C040, 0x3080F0, 0x8040C0, 0xFFFFFF};
constexpr uint32_t paper = 0xF4F1E8, bar = 0x303030, frame_colour = 0xFFFFFF;
constexpr int text_scale = 2;  // the 5x7 font, each pixel a 2x2 square

// The arrow: 'X' black, 'o' white, '.' the picture below.
constexpr int cursor_width = 11, cursor_height = 16;
constexpr const char* cursor_rows[cursor_height] = {
    "X..........", "XX.........", "XoX........", "XooX.......", "XoooX......", "XooooX.....",
    "XoooooX....", "XooooooX...", "XoooooooX..", "XooooXXXXX.", "XooXooX....", "XoX.XooX...",
    "XX..XooX...", "X....XooX..", ".....XooX..", "......XX...",
};

uint32_t width, height, generation;
unsigned chosen = 1;
int32_t pointer_x = -100, pointer_y = -100;  // off the picture until the pointer moves
int32_t caret_x = 16, caret_y = palette_height + 16;

// What changed since the last present: x0 <= x < x1, y0 <= y < y1.
struct dirty_rect {
    int32_t x0 = 1 << 30, y0 = 1 << 30, x1 = -(1 << 30), y1 = -(1 << 30);
    void add(int32_t x, int32_t y, int32_t w, int32_t h)
    {
        x0 = x < x0 ? x : x0;
        y0 = y < y0 ? y : y0;
        x1 = x + w > x1 ? x + w : x1;
        y1 = y + h > y1 ? y + h : y1;
    }
} dirty;

// A rectangle cut to the mode: left <= x < right, top <= y < bottom (empty
// when left >= right or top >= bottom).
struct clipped {
    int32_t left, top, right, bottom;
    bool empty() const { return left >= right || top >= bottom; }
};

clipped clip(int32_t x, int32_t y, int32_t w, int32_t h)
{
    return {x < 0 ? 0 : x, y < 0 ? 0 : y, x + w > int32_t(width) ? int32_t(width) : x + w,
            y + h > int32_t(height) ? int32_t(height) : y + h};
}

void fill(int32_t x, int32_t y, int32_t w, int32_t h, uint32_t colour)
{
    const clipped c = clip(x, y, w, h);
    if (c.empty())
        return;
    for (int32_t r = c.top; r < c.bottom; ++r)
        for (int32_t col = c.left; col < c.right; ++col)
            canvas[r * most_width + col] = colour;
    dirty.add(c.left, c.top, c.right - c.left, c.bottom - c.top);
}

void draw_palette()
{
    fill(0, 0, int32_t(width), palette_height, bar);
    const int32_t swatch = palette_height - 8;
    for (unsigned i = 0; i < 8; ++i) {
        const int32_t x = 4 + int32_t(i) * (swatch + 8);
        if (i == chosen)
            fill(x - 2, 2, swatch + 4, swatch + 4, frame_colour);
        fill(x, 4, swatch, swatch, colours[i]);
    }
}

// One character at the caret, in the chosen colour; the caret moves on.
void type(uint32_t character)
{
    const paint_font::glyph g = paint_font::lookup(character);
    for (int r = 0; r < paint_font::glyph_height; ++r)
        for (int c = 0; c < paint_font::glyph_width; ++c)
            if (g.rows[r] >> (paint_font::glyph_width - 1 - c) & 1)
                fill(caret_x + c * text_scale, caret_y + r * text_scale, text_scale, text_scale, colours[chosen]);
    caret_x += (paint_font::glyph_width + 1) * text_scale;
}

void type(const char* text)
{
    while (*text)
        type(uint32_t(uint8_t(*text++)));
}

// The scene paint starts with: a sky, a sun, a hill and a house, titled.
void draw_scene()
{
    const int32_t w = int32_t(width), top = palette_height, h = int32_t(height) - top;
    fill(0, top, w, h, paper);
    for (int32_t y = 0; y < h * 2 / 3; ++y)  // the sky, lighter towards the horizon
        fill(0, top + y, w, 1, 0x80B0E0 + uint32_t(y * 0x30 / (h * 2 / 3)) * 0x010100);
    fill(0, top + h * 2 / 3, w, h - h * 2 / 3, 0x60A050);  // the ground
    const int32_t sun_x = w - 90, sun_y = top + 70;
    for (int32_t dy = -30; dy <= 30; ++dy)
        for (int32_t dx = -30; dx <= 30; ++dx)
            if (dx * dx + dy * dy <= 900)
                fill(sun_x + dx, sun_y + dy, 1, 1, 0xF8D040);
    const int32_t house_x = w / 2 - 60, house_y = top + h * 2 / 3 - 80;
    fill(house_x, house_y, 120, 80, 0xC06040);                  // the walls
    for (int32_t r = 0; r < 40; ++r) {                          // the roof
        const int32_t span = 140 * (r + 1) / 40;
        fill(house_x + 60 - span / 2, house_y - 40 + r, span, 1, 0x803020);
    }
    fill(house_x + 48, house_y + 40, 24, 40, 0x5A3A20);         // the door
    fill(house_x + 12, house_y + 16, 24, 20, 0xE8F0F8);         // a window
    caret_x = 16;
    caret_y = top + 16;
    const unsigned before = chosen;
    chosen = 7;  // white
    type("HYPERBIOS PAINT");
    chosen = before;
    caret_x = 16;
    caret_y = top + 16 + 2 * paint_font::glyph_height * text_scale;
}

// Copies the drawing into the frame over the rectangle, draws the cursor where
// it overlaps, and presents that rectangle.
void present(int32_t x, int32_t y, int32_t w, int32_t h)
{
    const clipped area = clip(x, y, w, h);
    if (area.empty())
        return;
    const int32_t left = area.left, top = area.top, right = area.right, bottom = area.bottom;
    for (int32_t r = top; r < bottom; ++r)
        for (int32_t c = left; c < right; ++c) {
            uint32_t pixel = canvas[r * most_width + c];
            const int32_t cx = c - pointer_x, cy = r - pointer_y;
            if (cx >= 0 && cy >= 0 && cx < cursor_width && cy < cursor_height) {
                const char shape = cursor_rows[cy][cx];
                pixel = shape == 'X' ? 0x000000 : shape == 'o' ? 0xFFFFFF : pixel;
            }
            frame[r * most_width + c] = pixel;
        }
    (void)dsp::present(0, frame, stride, generation, uint32_t(left), uint32_t(top), uint32_t(right - left),
                       uint32_t(bottom - top));
}

void present_dirty()
{
    if (dirty.x1 > dirty.x0 && dirty.y1 > dirty.y0)
        present(dirty.x0, dirty.y0, dirty.x1 - dirty.x0, dirty.y1 - dirty.y0);
    dirty = {};
}

void move_cursor(int32_t x, int32_t y)
{
    const int32_t old_x = pointer_x, old_y = pointer_y;
    pointer_x = x;
    pointer_y = y;
    present(old_x, old_y, cursor_width, cursor_height);  // the picture where the cursor was
    present(x, y, cursor_width, cursor_height);
}

// A new mode: the drawing keeps what it had, new room gets the scene's ground
// and sky colours as paper; the whole picture is presented (a new mode shows
// black until it is).
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
        fill(int32_t(old_width), palette_height, int32_t(w - old_width), int32_t(h), paper);
    if (h > old_height)
        fill(0, int32_t(old_height > palette_height ? old_height : palette_height), int32_t(w),
             int32_t(h - old_height), paper);
    draw_palette();
    dirty = {};
    present(0, 0, int32_t(width), int32_t(height));
    return true;
}

void dab(int32_t x, int32_t y)
{
    if (y - int32_t(brush) < int32_t(palette_height))
        return;
    fill(x - int32_t(brush), y - int32_t(brush), 2 * brush + 1, 2 * brush + 1, colours[chosen]);
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

// evdev key codes (spec 15.4)
constexpr uint16_t key_escape = 1, key_enter = 28, key_f1 = 59, key_f8 = 66, key_f9 = 67, btn_left = 0x110;

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
    draw_scene();
    present_dirty();
    hb::printf("paint: ready, %ux%u; paint with the left button, type where you clicked; F1-F8 or the palette "
               "choose a colour, F9 clears, Escape ends\n", width, height);

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
                    } else if (ev.type == hb::abi::inp_event_type::button && ev.code == btn_left) {
                        const bool on_palette = y < int32_t(palette_height);
                        painting = ev.value == 1 && !on_palette;
                        if (ev.value == 1 && on_palette && x >= 4 && uint32_t(x - 4) / palette_height < 8)
                            choose(unsigned(uint32_t(x - 4) / palette_height));
                        if (painting) {
                            caret_x = x;  // typing goes where the button was pressed
                            caret_y = y;
                            dab(x, y);
                        }
                    } else if (ev.type == hb::abi::inp_event_type::key && ev.value != 0) {
                        if (ev.code == key_escape)
                            end(0);
                        else if (ev.code >= key_f1 && ev.code <= key_f8)
                            choose(ev.code - key_f1);
                        else if (ev.code == key_f9)
                            draw_scene();
                        else if (ev.code == key_enter) {
                            caret_y += (paint_font::glyph_height + 3) * text_scale;
                            caret_x = 16;
                        } else if (ev.unicode >= 0x20 && ev.unicode < 0x7F)
                            type(ev.unicode);
                    } else if (ev.type == hb::abi::inp_event_type::dropped) {
                        painting = false;  // what was lost may have ended the stroke
                    }
                }
                present_dirty();
                move_cursor(x, y);
            }
        }
        present_dirty();
    }
}
