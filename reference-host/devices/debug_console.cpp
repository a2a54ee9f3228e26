#include "devices/debug_console.hpp"

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
    size_t done = 0;
    while (done < line_.size()) {
        ssize_t n = ::write(fd_, line_.data() + done, line_.size() - done);
        if (n <= 0)
            break;
        done += size_t(n);
    }
    line_.clear();
}

}  // namespace hbvm
