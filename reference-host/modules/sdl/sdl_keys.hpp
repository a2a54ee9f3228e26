// What SDL reports, in INP's words (spec 15.4): evdev key and button codes,
// and the character a key typed.
#ifndef HBVM_MODULES_SDL_KEYS_HPP
#define HBVM_MODULES_SDL_KEYS_HPP

#include <SDL.h>

#include <cstdint>

namespace hbvm::sdl {

// The evdev code of a key (KEY_A 30), or 0 for a key INP has no code for.
uint16_t evdev_key(SDL_Scancode scancode);

// The evdev code of a mouse button (BTN_LEFT 0x110), or 0.
uint16_t evdev_button(uint8_t sdl_button);

// The first character of SDL's UTF-8 text, or 0 when it is not valid UTF-8.
uint32_t first_code_point(const char* utf8);

}  // namespace hbvm::sdl

#endif
