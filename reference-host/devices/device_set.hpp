// The devices of one machine, by class: created from their settings through the
// registry, or attached one by one (tests). A service module takes the devices
// it serves from here by class name; the machine forwards port accesses,
// flushes and injected faults to all of them without knowing any.
#ifndef HBVM_DEVICES_DEVICE_SET_HPP
#define HBVM_DEVICES_DEVICE_SET_HPP

#include "devices/device.hpp"

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hbvm {

class device_set {
public:
    device_set() = default;
    // Creates every device of `settings` (checked: check_device_settings) with
    // its class in `registry`, class by class in registry order.
    device_set(std::span<const device_class> registry, const std::vector<device_settings>& settings,
               const device_host& host);
    device_set(const device_set&) = delete;
    device_set& operator=(const device_set&) = delete;
    device_set(device_set&&) = default;  // the devices stay where they are: pointers to them hold
    device_set& operator=(device_set&&) = default;

    // A set of one device someone else owns (tests): e.g. a terminal as "console".
    static device_set of(const std::string& device_class, device& d)
    {
        device_set s;
        s.attach(device_class, d);
        return s;
    }

    // Adds a device someone else owns (a test's terminal or disk), after the
    // devices already of its class.
    void attach(const std::string& device_class, device& d)
    {
        classes_[device_class].push_back(&d);
        in_order_.push_back(&d);
    }

    // The devices of a class, in order (empty when there are none). The class
    // decides the type: asking for another is a host bug (std::logic_error).
    template <typename T>
    std::vector<T*> all(std::string_view device_class) const
    {
        std::vector<T*> found;
        const auto it = classes_.find(std::string(device_class));
        if (it == classes_.end())
            return found;
        for (device* d : it->second) {
            T* typed = dynamic_cast<T*>(d);
            if (!typed)
                throw std::logic_error("a device of class '" + std::string(device_class) + "' is not of the type asked");
            found.push_back(typed);
        }
        return found;
    }

    // The one device of a class that always has one (an implicit class).
    template <typename T>
    T& one(std::string_view device_class) const
    {
        const std::vector<T*> found = all<T>(device_class);
        if (found.size() != 1)
            throw std::logic_error("the machine has " + std::to_string(found.size()) + " devices of class '" +
                                   std::string(device_class) + "', not one");
        return *found.front();
    }

    // The reply of the device that serves this port access, or nullopt.
    std::optional<io_reply> on_io(const io_access& access);
    // Every device writes out what it holds back.
    void flush_output();
    // Every device hears that a run of the machine ended (device::run_ended).
    void run_ended();

    // Every device's control commands, in device order (device::control_commands).
    std::vector<std::pair<std::string, control_command>> control_commands() const;
    // Every device takes the faults --inject-fault asks of its kind.
    void take_faults(const fault_injector& faults);

private:
    std::vector<std::unique_ptr<device>> owned_;
    std::map<std::string, std::vector<device*>, std::less<>> classes_;
    std::vector<device*> in_order_;  // for on_io, flush and deviate
};

}  // namespace hbvm

#endif
