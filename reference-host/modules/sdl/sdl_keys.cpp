#include "sdl_keys.hpp"

#include <array>

namespace hbvm::sdl {

namespace {

// SDL's scancodes are USB HID usages (keyboard page 0x07); INP speaks Linux's
// evdev codes (spec 15.4). The pairs of the keys of a PC keyboard, from both
// tables' definitions.
constexpr std::pair<SDL_Scancode, uint16_t> pairs[] = {
    {SDL_SCANCODE_A, 30}, {SDL_SCANCODE_B, 48}, {SDL_SCANCODE_C, 46}, {SDL_SCANCODE_D, 32},
    {SDL_SCANCODE_E, 18}, {SDL_SCANCODE_F, 33}, {SDL_SCANCODE_G, 34}, {SDL_SCANCODE_H, 35},
    {SDL_SCANCODE_I, 23}, {SDL_SCANCODE_J, 36}, {SDL_SCANCODE_K, 37}, {SDL_SCANCODE_L, 38},
    {SDL_SCANCODE_M, 50}, {SDL_SCANCODE_N, 49}, {SDL_SCANCODE_O, 24}, {SDL_SCANCODE_P, 25},
    {SDL_SCANCODE_Q, 16}, {SDL_SCANCODE_R, 19}, {SDL_SCANCODE_S, 31}, {SDL_SCANCODE_T, 20},
    {SDL_SCANCODE_U, 22}, {SDL_SCANCODE_V, 47}, {SDL_SCANCODE_W, 17}, {SDL_SCANCODE_X, 45},
    {SDL_SCANCODE_Y, 21}, {SDL_SCANCODE_Z, 44},
    {SDL_SCANCODE_1, 2}, {SDL_SCANCODE_2, 3}, {SDL_SCANCODE_3, 4}, {SDL_SCANCODE_4, 5},
    {SDL_SCANCODE_5, 6}, {SDL_SCANCODE_6, 7}, {SDL_SCANCODE_7, 8}, {SDL_SCANCODE_8, 9},
    {SDL_SCANCODE_9, 10}, {SDL_SCANCODE_0, 11},
    {SDL_SCANCODE_RETURN, 28}, {SDL_SCANCODE_ESCAPE, 1}, {SDL_SCANCODE_BACKSPACE, 14},
    {SDL_SCANCODE_TAB, 15}, {SDL_SCANCODE_SPACE, 57}, {SDL_SCANCODE_MINUS, 12},
    {SDL_SCANCODE_EQUALS, 13}, {SDL_SCANCODE_LEFTBRACKET, 26}, {SDL_SCANCODE_RIGHTBRACKET, 27},
    {SDL_SCANCODE_BACKSLASH, 43}, {SDL_SCANCODE_NONUSHASH, 43}, {SDL_SCANCODE_SEMICOLON, 39},
    {SDL_SCANCODE_APOSTROPHE, 40}, {SDL_SCANCODE_GRAVE, 41}, {SDL_SCANCODE_COMMA, 51},
    {SDL_SCANCODE_PERIOD, 52}, {SDL_SCANCODE_SLASH, 53}, {SDL_SCANCODE_CAPSLOCK, 58},
    {SDL_SCANCODE_F1, 59}, {SDL_SCANCODE_F2, 60}, {SDL_SCANCODE_F3, 61}, {SDL_SCANCODE_F4, 62},
    {SDL_SCANCODE_F5, 63}, {SDL_SCANCODE_F6, 64}, {SDL_SCANCODE_F7, 65}, {SDL_SCANCODE_F8, 66},
    {SDL_SCANCODE_F9, 67}, {SDL_SCANCODE_F10, 68}, {SDL_SCANCODE_F11, 87}, {SDL_SCANCODE_F12, 88},
    {SDL_SCANCODE_PRINTSCREEN, 99}, {SDL_SCANCODE_SCROLLLOCK, 70}, {SDL_SCANCODE_PAUSE, 119},
    {SDL_SCANCODE_INSERT, 110}, {SDL_SCANCODE_HOME, 102}, {SDL_SCANCODE_PAGEUP, 104},
    {SDL_SCANCODE_DELETE, 111}, {SDL_SCANCODE_END, 107}, {SDL_SCANCODE_PAGEDOWN, 109},
    {SDL_SCANCODE_RIGHT, 106}, {SDL_SCANCODE_LEFT, 105}, {SDL_SCANCODE_DOWN, 108},
    {SDL_SCANCODE_UP, 103}, {SDL_SCANCODE_NUMLOCKCLEAR, 69}, {SDL_SCANCODE_KP_DIVIDE, 98},
    {SDL_SCANCODE_KP_MULTIPLY, 55}, {SDL_SCANCODE_KP_MINUS, 74}, {SDL_SCANCODE_KP_PLUS, 78},
    {SDL_SCANCODE_KP_ENTER, 96}, {SDL_SCANCODE_KP_1, 79}, {SDL_SCANCODE_KP_2, 80},
    {SDL_SCANCODE_KP_3, 81}, {SDL_SCANCODE_KP_4, 75}, {SDL_SCANCODE_KP_5, 76},
    {SDL_SCANCODE_KP_6, 77}, {SDL_SCANCODE_KP_7, 71}, {SDL_SCANCODE_KP_8, 72},
    {SDL_SCANCODE_KP_9, 73}, {SDL_SCANCODE_KP_0, 82}, {SDL_SCANCODE_KP_PERIOD, 83},
    {SDL_SCANCODE_NONUSBACKSLASH, 86}, {SDL_SCANCODE_APPLICATION, 127}, {SDL_SCANCODE_KP_EQUALS, 117},
    {SDL_SCANCODE_LCTRL, 29}, {SDL_SCANCODE_LSHIFT, 42}, {SDL_SCANCODE_LALT, 56},
    {SDL_SCANCODE_LGUI, 125}, {SDL_SCANCODE_RCTRL, 97}, {SDL_SCANCODE_RSHIFT, 54},
    {SDL_SCANCODE_RALT, 100}, {SDL_SCANCODE_RGUI, 126},
};

constexpr std::array<uint16_t, SDL_NUM_SCANCODES> make_table()
{
    std::array<uint16_t, SDL_NUM_SCANCODES> table{};
    for (const auto& [scancode, code] : pairs)
        table[size_t(scancode)] = code;
    return table;
}

constexpr std::array<uint16_t, SDL_NUM_SCANCODES> table = make_table();

}  // namespace

uint16_t evdev_key(SDL_Scancode scancode)
{
    return size_t(scancode) < table.size() ? table[size_t(scancode)] : 0;
}

uint16_t evdev_button(uint8_t sdl_button)
{
    switch (sdl_button) {
    case SDL_BUTTON_LEFT: return 0x110;    // BTN_LEFT
    case SDL_BUTTON_RIGHT: return 0x111;   // BTN_RIGHT
    case SDL_BUTTON_MIDDLE: return 0x112;  // BTN_MIDDLE
    case SDL_BUTTON_X1: return 0x113;      // BTN_SIDE
    case SDL_BUTTON_X2: return 0x114;      // BTN_EXTRA
    default: return 0;
    }
}

uint32_t first_code_point(const char* utf8)
{
    const auto* s = reinterpret_cast<const unsigned char*>(utf8);
    if (s[0] < 0x80)
        return s[0];
    int length = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (length == 0 || s[0] > 0xF4)
        return 0;
    uint32_t c = s[0] & (0x7F >> length);
    for (int i = 1; i < length; ++i) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    // Not overlong, not a surrogate, within Unicode: a scalar value or nothing.
    static constexpr uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[length] || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
        return 0;
    return c;
}

}  // namespace hbvm::sdl
