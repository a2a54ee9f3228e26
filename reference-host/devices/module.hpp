// Back-end modules: device back ends that need a heavy library (SDL2 for a
// window or a sound card, libslirp for user-mode networking) live in shared objects that hbvm
// loads only when a device of theirs is chosen, as QEMU loads ui-sdl. A
// console-only guest then pays nothing for them at start-up, and the core
// package depends on none of their libraries.
//
// A module is `hbvm-<name>.so`, built from modules/<name>/ in the same tree as
// the hbvm that loads it. It exports one C function, HBVM_MODULE_ENTRY, that
// returns a module_entry. hbvm refuses a module built for another interface or
// another hbvm version: the types below cross the boundary as C++ objects, so
// both sides must be compiled from the same headers (and share one C++ runtime,
// libstdc++.so — why hbvm is linked dynamically against it).
//
// A module may use the headers of hbvm but links none of hbvm_core: it is
// linked with --no-undefined against its own libraries only, so a call into
// the core fails at its build, not at a user's start. What it needs of the
// host it is handed (device_host).
#ifndef HBVM_DEVICES_MODULE_HPP
#define HBVM_DEVICES_MODULE_HPP

#include "devices/audio_output.hpp"
#include "devices/device.hpp"
#include "devices/display_window.hpp"
#include "devices/network_backend.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hbvm {

// Changes whenever module_entry or what it passes changes shape.
inline constexpr uint32_t module_interface_version = 4;

struct module_entry {
    uint32_t interface_version;  // module_interface_version as the module was built
    const char* hbvm_version;    // HBVM_VERSION_STRING as the module was built
    const char* name;            // "sdl": the file is hbvm-sdl.so
    // Creates the devices of `device_class` from settings its class entry has
    // checked, in order; throws hbvm::error naming what failed (a library that
    // cannot open a window, say). A class the module does not serve is a
    // std::logic_error.
    std::vector<std::unique_ptr<device>> (*create)(const std::string& device_class,
                                                    const std::vector<device_settings>& settings,
                                                    const device_host& host);
    // Opens a window for the display `settings` describe (devices/display_window.hpp),
    // or is nullptr in a module without windows. Starts the window library on
    // the window's own thread and returns once it runs; the window itself
    // appears at the first frame_changed. Throws hbvm::error naming what failed
    // (no X server reachable, say).
    // (The optional entries below default to nullptr: a module leaves out what it does not have.)
    std::unique_ptr<display_window> (*open_window)(const device_settings& settings, display_window_host& host) = nullptr;
    // Starts the network back end that `settings` (a --net device's, checked)
    // describe for the interface `port`, or is nullptr in a module without
    // networks. Throws hbvm::error naming what failed.
    std::unique_ptr<network_backend> (*open_network)(const device_settings& settings, network_port& port) = nullptr;
    // Makes the sound output that `settings` (an --audio stream's, checked)
    // describe for the stream `source` (devices/audio_output.hpp), or is
    // nullptr in a module without sound. Throws hbvm::error naming what failed
    // (the library's audio cannot start).
    std::unique_ptr<audio_output> (*open_audio)(const device_settings& settings, audio_source& source) = nullptr;
};

}  // namespace hbvm

// What a module defines: `HBVM_MODULE_ENTRY { static const hbvm::module_entry e{...}; return &e; }`.
#define HBVM_MODULE_ENTRY_SYMBOL "hbvm_module_entry"
#define HBVM_MODULE_ENTRY extern "C" __attribute__((visibility("default"))) const hbvm::module_entry* hbvm_module_entry()

#endif
