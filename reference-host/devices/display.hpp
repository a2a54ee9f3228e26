// A display (DSP, spec chapter 14): the frame the guest presented, its mode and
// generation, and its bounded queue of events. Back ends show the frame in a
// window (`sdl`, a back-end module: devices/display_window.hpp) or only keep it
// (`none`, for screenshots and tests); `auto`, the default, is `sdl` where an X
// or Wayland display is reachable and `none` elsewhere. The DSP service module
// (services/dsp.cpp) serves the calls; the control socket's commands write the
// frame as a PNG and ask for a size or a close as a person at a window would.
//
// A window opens at the guest's first set_mode or present, never for a guest
// that only uses the console. Its keyboard and pointer reach the input devices
// bound to the display (bind_inputs).
//
// Shared between threads: the vCPU (presents, set_mode, next_event), the control
// socket (screendump, requests) and a window's thread; every member function
// takes the display's lock.
#ifndef HBVM_DEVICES_DISPLAY_HPP
#define HBVM_DEVICES_DISPLAY_HPP

#include "devices/device.hpp"
#include "devices/display_window.hpp"

#include <hyperbios/abi.hpp>

#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <span>
#include <string>
#include <vector>

namespace hbvm {

namespace abi = hyperbios::abi;

class input;

class display : public device, private display_window_host {
public:
    enum class backend { none, sdl, automatic };

    struct settings {
        backend shown_by = backend::none;     // the user's default, auto, comes from settings_of
        std::string name;                    // 1-32 bytes, distinct within the machine
        uint32_t width = 1024, height = 768;  // the boot mode
        uint32_t max_width = 4096, max_height = 4096;
        uint32_t refresh_mhz = 0;            // 0: unknown (presented events at 60 Hz)
        std::string screenshot;              // a PNG of the last frame, written when a run ends ("" none)
        size_t queue_bound = 64;             // events before the queue overflows
        uint32_t close_timeout_ms = 5000;     // a close request not taken by then ends the run (0: never)
        device_settings given;               // as the user gave them, for the window's module
    };

    // An `sdl` display starts its window library here (the window itself opens
    // at the first frame): hbvm::error when it cannot.
    display(settings s, device_host host);
    ~display() override;
    display(const display&) = delete;
    display& operator=(const display&) = delete;

    // Returns to the boot mode (generation 1), black, with an empty queue.
    void reset();

    abi::dsp_info info() const;
    uint32_t generation() const;
    uint32_t width() const;
    uint32_t height() const;
    uint32_t refresh_mhz() const { return settings_.refresh_mhz; }

    // set_mode's change: black until the next present; returns the new generation.
    uint32_t set_mode(uint32_t width, uint32_t height);

    // Copies rows of `width` xrgb8888 pixels into the frame at (x, y + i) from
    // `rows[i]` (each exactly width * 4 bytes, checked by the caller).
    void put_rows(uint32_t x, uint32_t y, uint32_t width, std::span<const std::span<const std::byte>> rows);

    // The input devices whose events a window of this display feeds: every
    // keyboard, the pointers bound to display number `index`, and the relative
    // pointers. Called once, before the guest runs (by the DSP service).
    void bind_inputs(const std::vector<input*>& inputs, size_t index);

    // What a person at a window asks (also the control socket's commands): a
    // size_requested event (and info's preferred size), a close_requested event
    // (the run ends if the guest does not take it within the close timeout).
    void request_size(uint32_t width, uint32_t height);
    void request_close();

    // The event queue (spec 14.7): a full queue turns its last event into an
    // overflow that counts the events lost.
    void queue_event(uint32_t type, uint32_t a, uint32_t b, uint64_t time_ns);
    bool has_events() const;
    bool take_event(abi::dsp_event& out);

    // The frame as a PNG file (screendump, --display ...,screenshot=PATH).
    std::vector<std::byte> png() const;
    std::string write_screenshot(const std::string& path) const;

    // What is called, with the lock not held, when something outside the vCPU
    // (a window's thread, the control socket) queued an event, so that the
    // service can wake a waiting guest. Set by the service; it sets an empty one
    // before it goes, and the setter waits for a call in flight to return (the
    // window's thread may outlive the service by a moment at the end).
    void set_outside_event_handler(std::function<void()> handler);

    // Deliberate deviations, set only by hbvm --inject-fault (core/fault_injection).
    bool unpaced() const { return deviate_.unpaced; }

    // device
    void run_ended() override;
    void take_faults(const fault_injector& faults) override;
    std::vector<std::pair<std::string, control_command>> control_commands() override;

    const std::string& display_name() const { return settings_.name; }

private:
    // Shows the frame in the window, opening it first (an automatic display
    // decides here whether it gets one). Called without the lock.
    void show();
    void open_window(bool at_start);
    void queue_outside_event(uint32_t type, uint32_t a, uint32_t b);
    bool queue_event_reporting_close_loss(uint32_t type, uint32_t a, uint32_t b, uint64_t time_ns);
    void forget_close_request();
    void watch_close();

    // display_window_host, on the window's thread
    std::string name() const override { return settings_.name; }
    bool frame_changed_since(uint64_t serial, uint32_t& width, uint32_t& height) const override;
    bool copy_frame(uint64_t& serial, uint32_t* to, size_t pitch, uint32_t width, uint32_t height) override;
    void size_changed(uint32_t width, uint32_t height) override { request_size(width, height); }
    void close_requested() override { request_close(); }
    void visibility_changed(bool visible) override;
    void key(uint16_t code, int32_t value, uint32_t unicode) override;
    void pointer_position(int32_t x, int32_t y) override;
    void pointer_motion(int32_t dx, int32_t dy) override;
    void button(uint16_t code, bool pressed) override;
    void wheel(int32_t vertical, int32_t horizontal) override;
    bool wants_relative_motion() const override { return !relative_pointers_.empty(); }
    void note(const std::string& line) override;
    bool stopping() const override;

    settings settings_;
    device_host host_;
    unsigned audit_index_ = 0;  // the display's number in the access audit (policy/audit.hpp)
    struct {
        bool skip_last_row = false, unpaced = false, overflow_unmarked = false;
    } deviate_;
    mutable std::mutex lock_;
    uint32_t width_, height_, generation_ = 1;
    std::vector<uint32_t> frame_;  // width_ * height_ pixels, 0x00RRGGBB; empty while black
    uint64_t frame_serial_ = 1;    // counts changes of the frame, for the window
    std::deque<abi::dsp_event> queue_;
    uint32_t preferred_width_ = 0, preferred_height_ = 0;
    bool visible_ = false;

    // The window (none for `none`, none yet before the first frame).
    std::unique_ptr<display_window> window_;
    bool window_decided_ = false;  // vCPU thread only

    std::vector<input*> keyboards_, absolute_pointers_, relative_pointers_;
    std::mutex handler_lock_;  // guards on_outside_event_ and its calls
    std::function<void()> on_outside_event_;

    // A close request waits to be taken by the guest on a thread of its own.
    std::mutex close_lock_;
    std::condition_variable close_changed_;
    bool close_pending_ = false, closing_display_ = false;
    std::thread close_watcher_;
};

// The class entry (devices/registry.cpp): --display none[,name=,width=,height=,...].
device_class display_device_class();

}  // namespace hbvm

#endif
