#include "devices/debug_console.hpp"

#include "core/host_io.hpp"

#include <cstring>

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

}  // namespace hbvm
