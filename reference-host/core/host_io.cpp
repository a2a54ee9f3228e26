#include "core/host_io.hpp"

#include "core/stop.hpp"

#include <cerrno>
#include <poll.h>
#include <unistd.h>

namespace hbvm::host_io {

write_result write_all(int fd, std::span<const std::byte> bytes, std::chrono::milliseconds patience)
{
    size_t done = 0;
    while (done < bytes.size()) {
        // A stop interrupts a blocked write() with EINTR (or a short count), and
        // the loop comes back here.
        if (stop::requested() && stop::since_request() >= patience)
            return {write_result::kind::stopped, done, 0};
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n > 0) {
            done += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // Someone else set O_NONBLOCK on this description: wait until it is
            // writable, a little at a time so that a stop is noticed.
            pollfd p{fd, POLLOUT, 0};
            poll(&p, 1, 20);
            continue;
        }
        return {write_result::kind::failed, done, n == 0 ? EIO : errno};
    }
    return {write_result::kind::complete, done, 0};
}

}  // namespace hbvm::host_io
