#include "devices/debug_console.hpp"

#include "core/host_io.hpp"

#include <cstring>
#include <unistd.h>

namespace hbvm {

void debug_console::put(uint8_t byte)
{
    line_.push_back(char(byte));
    if (byte == '\n' || line_.size() >= 4096)
        flush();
}

void debug_console::flush()
{
    if (line_.empty())
        return;
    const host_io::write_result r = host_io::write_all(fd_, std::as_bytes(std::span(line_.data(), line_.size())));
    line_.clear();
    if (r.what == host_io::write_result::kind::failed && !failure_reported_ && on_failure) {
        failure_reported_ = true;
        on_failure(std::string("debug console (port 0xE9) output failed (") + std::strerror(r.error) +
                   "); its bytes are dropped while it fails");
    }
}

std::optional<io_reply> debug_console::on_io(const io_access& access)
{
    if (access.port != port)
        return std::nullopt;
    if (!access.is_write)
        return io_reply{port, false};  // read-back, as QEMU and Bochs answer
    put(uint8_t(access.value));
    return io_reply{};
}

device_class debugcon_device_class()
{
    // No options yet: port 0xE9 writes to the process's stderr.
    return {"debugcon", "", nullptr, {}, {}, 1, true, nullptr,
            [](const std::vector<device_settings>&, const device_host& host) {
                std::vector<std::unique_ptr<device>> made;
                auto d = std::make_unique<debug_console>(STDERR_FILENO);
                d->on_failure = host.note;
                made.push_back(std::move(d));
                return made;
            }};
}

}  // namespace hbvm
