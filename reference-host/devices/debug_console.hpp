// Port 0xE9 debug console (as QEMU's isa-debugcon and Bochs' port E9 hack): bytes
// the guest writes go to stderr, a line at a time. A stalled stderr blocks the
// guest but never the host's ability to stop (core/host_io.hpp).
#ifndef HBVM_DEVICES_DEBUG_CONSOLE_HPP
#define HBVM_DEVICES_DEBUG_CONSOLE_HPP

#include "devices/device.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace hbvm {

// The device class "debugcon": the one debug console of the machine (stderr).
device_class debugcon_device_class();

class debug_console final : public device {
public:
    static constexpr uint16_t port = 0xE9;

    explicit debug_console(int fd) : fd_(fd) {}
    ~debug_console() override { flush(); }
    debug_console(const debug_console&) = delete;
    debug_console& operator=(const debug_console&) = delete;

    void put(uint8_t byte);
    void flush();
    void flush_output() override { flush(); }
    // Writes to 0xE9 are put(); a read answers 0xE9, as QEMU's and Bochs' do, so
    // a guest can tell the port is there.
    std::optional<io_reply> on_io(const io_access& access) override;

    // Told once when output fails (the bytes are dropped: the port has no status).
    std::function<void(const std::string&)> on_failure;

private:
    int fd_;
    std::string line_;
    bool failure_reported_ = false;
};

}  // namespace hbvm

#endif
