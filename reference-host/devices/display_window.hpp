// A display's window: what a back-end module (modules/sdl) shows a display in,
// and what it tells the display back (a person resized or closed the window,
// typed, pointed). The two sides meet only through these abstract classes, so
// the module calls no function of hbvm_core (it links none: devices/module.hpp)
// and hbvm calls none of SDL's.
//
// Threads: the window runs on a thread of its own, which alone calls the
// window library. hbvm calls display_window from the vCPU thread and from the
// control socket's; display_window_host is called from the window's thread.
// Neither side may block the other: a stalled X server stalls the window's
// thread, never the guest or a stop (--timeout, Ctrl-C within 100 ms).
#ifndef HBVM_DEVICES_DISPLAY_WINDOW_HPP
#define HBVM_DEVICES_DISPLAY_WINDOW_HPP

#include <cstdint>
#include <string>
#include <vector>

namespace hbvm {

// The display as its window sees it. Implemented by hbvm (devices/display.cpp).
class display_window_host {
public:
    virtual ~display_window_host() = default;

    // The display's name ("display0"), for the window's title.
    virtual std::string name() const = 0;

    // True when the frame changed since `serial` (0 at first), with its size now.
    virtual bool frame_changed_since(uint64_t serial, uint32_t& width, uint32_t& height) const = 0;
    // Copies the frame, 0x00RRGGBB pixels, into `to` (rows `pitch` pixels
    // apart: a texture the window locked) and sets `serial` to its serial;
    // false, copying nothing, when its size is not width x height any more (the
    // mode changed meanwhile: ask again). Takes the display's lock for the copy.
    virtual bool copy_frame(uint64_t& serial, uint32_t* to, size_t pitch, uint32_t width, uint32_t height) = 0;

    // A person made the window `width` x `height` pixels (a size_requested event
    // for the guest; info's preferred size).
    virtual void size_changed(uint32_t width, uint32_t height) = 0;
    // A person asked to close the window: a close_requested event; the machine
    // ends if the guest does not take it within the display's close timeout.
    virtual void close_requested() = 0;
    // The window became visible or hidden (minimised): a visibility event.
    virtual void visibility_changed(bool visible) = 0;

    // Input, in evdev codes (spec 15.4), to the input devices bound to this
    // display: keys to every keyboard, an absolute position (in the display's
    // pixels) to the pointers bound to this display, motion to the relative
    // pointers, buttons and the wheel to both.
    virtual void key(uint16_t code, int32_t value, uint32_t unicode) = 0;
    virtual void pointer_position(int32_t x, int32_t y) = 0;
    virtual void pointer_motion(int32_t dx, int32_t dy) = 0;
    virtual void button(uint16_t code, bool pressed) = 0;
    virtual void wheel(int32_t vertical, int32_t horizontal) = 0;
    // True when a relative pointer takes this window's motion: the window then
    // grabs the mouse on a click (and lets go on its release hotkey).
    virtual bool wants_relative_motion() const = 0;

    // One "hbvm:" line on stderr (a problem the window met).
    virtual void note(const std::string& line) = 0;

    // True once the run is being stopped (--timeout, a signal, quit): a wait
    // for the window library to start gives up.
    virtual bool stopping() const = 0;
};

// A window showing one display. Created by the module's open_window on the
// vCPU thread at the guest's first set_mode or present.
class display_window {
public:
    // Closes the window. Waits for the window's thread for a short time only
    // (it may be stuck on a stalled X server); a thread that does not end is
    // left to the process's exit.
    virtual ~display_window() = default;

    // The frame or the mode changed: the window fetches it (copy_frame) on its
    // own thread. Never blocks.
    virtual void frame_changed() = 0;

    // How many frames the window has drawn (for --stats and bench-display).
    virtual uint64_t frames_drawn() const = 0;
};

}  // namespace hbvm

#endif
