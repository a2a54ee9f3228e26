// The `--audio sdl` output (sdl_audio.cpp), for the module's entry.
#ifndef HBVM_MODULES_SDL_AUDIO_HPP
#define HBVM_MODULES_SDL_AUDIO_HPP

#include "devices/audio_output.hpp"
#include "devices/device.hpp"

#include <memory>

std::unique_ptr<hbvm::audio_output> open_sdl_audio(const hbvm::device_settings& settings,
                                                   hbvm::audio_source& source);

#endif
