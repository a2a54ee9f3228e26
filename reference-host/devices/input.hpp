// An input device (INP, spec chapter 15): a keyboard or a pointer, its bounded
// queue of evdev-style events with the `dropped` marker, and the state the
// queued events add up to. Events come from a window's thread or the control
// socket (NAME-key, NAME-type, NAME-move, NAME-button, NAME-wheel); the INP
// service module (services/inp.cpp) serves the calls. Every member function
// takes the device's lock.
#ifndef HBVM_DEVICES_INPUT_HPP
#define HBVM_DEVICES_INPUT_HPP

#include "devices/device.hpp"

#include <hyperbios/abi.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace hbvm {

namespace abi = hyperbios::abi;

class input : public device {
public:
    struct settings {
        std::string name;           // 1-32 bytes, distinct within the machine
        uint16_t kind = 1;          // abi::inp_kind
        int display = -1;           // an absolute pointer's display, or -1 (relative)
        size_t queue_length = 256;  // events before the queue overflows
    };

    explicit input(settings s);

    const settings& config() const { return settings_; }

    // Empties the queue (spec 15.8: keys held stay down in the state).
    void reset();

    // Queues one event, updating the state; the oldest events stay, and a full
    // queue's last event becomes (or stays) `dropped`, counting the lost ones.
    void queue(uint16_t type, uint16_t code, int32_t value, uint32_t unicode = 0);

    bool has_events() const;
    // Takes up to `room` events, oldest first.
    std::vector<abi::inp_event> take(size_t room);
    abi::inp_state state() const;

    // What is called, without the lock, whenever an event was queued: the
    // service wakes a waiting guest. The service sets an empty one before it
    // goes; the setter waits for a call in flight (a window's or the control
    // socket's thread) to return.
    void set_event_handler(std::function<void()> handler);
    // For an absolute pointer: the display's size now (positions are clamped to it).
    std::function<std::pair<uint32_t, uint32_t>()> display_size;

    std::vector<std::pair<std::string, control_command>> control_commands() override;
    void take_faults(const fault_injector& faults) override;

private:
    void queue_locked(uint16_t type, uint16_t code, int32_t value, uint32_t unicode);

    settings settings_;
    struct {
        bool unclamped = false, dropped_unmarked = false;  // --inject-fault only
    } deviate_;
    mutable std::mutex lock_;
    std::mutex handler_lock_;  // guards on_event_ and its calls
    std::function<void()> on_event_;
    std::deque<abi::inp_event> queue_;
    std::array<uint8_t, 96> keys_{};
    uint32_t buttons_ = 0, modifiers_ = 0, abs_x_ = 0, abs_y_ = 0;
};

// The class entry: --input keyboard|pointer[,name=NAME][,display=N].
device_class input_device_class();

}  // namespace hbvm

#endif
