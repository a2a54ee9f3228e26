// A display (DSP, spec chapter 14): the frame the guest presented, its mode and
// generation, and its bounded queue of events. Back ends show the frame (a
// window) or only keep it (`none`, for screenshots and tests); the DSP service
// module (services/dsp.cpp) serves the calls, and the control socket's
// `screendump` writes the frame as a PNG.
//
// Shared between threads: the vCPU (presents, set_mode, next_event), the control
// socket (screendump, requests) and a window's thread; every member function
// takes the display's lock.
#ifndef HBVM_DEVICES_DISPLAY_HPP
#define HBVM_DEVICES_DISPLAY_HPP

#include "devices/device.hpp"

#include <hyperbios/abi.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace hbvm {

namespace abi = hyperbios::abi;

class display : public device {
public:
    struct settings {
        std::string name;                    // 1-32 bytes, distinct within the machine
        uint32_t width = 1024, height = 768;  // the boot mode
        uint32_t max_width = 4096, max_height = 4096;
        uint32_t refresh_mhz = 0;            // 0: unknown (presented events at 60 Hz)
        std::string screenshot;              // a PNG of the last frame, written when a run ends ("" none)
        size_t queue_bound = 64;             // events before the queue overflows
    };

    explicit display(settings s);

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

    // The event queue (spec 14.7): a full queue turns its last event into an
    // overflow that counts the events lost.
    void queue_event(uint32_t type, uint32_t a, uint32_t b, uint64_t time_ns);
    bool has_events() const;
    bool take_event(abi::dsp_event& out);

    // The frame as a PNG file (screendump, --display ...,screenshot=PATH).
    std::vector<std::byte> png() const;
    std::string write_screenshot(const std::string& path) const;

    // Called with the lock not held when something outside the vCPU queued an
    // event, so that the service can wake a waiting guest.
    std::function<void()> on_outside_event;

    // device
    void flush_output() override;
    std::vector<std::pair<std::string, control_command>> control_commands() override;

    const std::string& name() const { return settings_.name; }

private:
    settings settings_;
    mutable std::mutex lock_;
    uint32_t width_, height_, generation_ = 1;
    std::vector<uint32_t> frame_;  // width_ * height_ pixels, 0x00RRGGBB
    std::deque<abi::dsp_event> queue_;
};

// The class entry (devices/registry.cpp): --display none[,name=,width=,height=,...].
device_class display_device_class();

}  // namespace hbvm

#endif
