#include "core/host_io.hpp"

#include "core/stop.hpp"

#include <cerrno>
#include <poll.h>
#include <unistd.h>

namespace hbvm::host_io {

write_result write_all(int fd, std::span<const std::byte> bytes, std::chrono::milliseconds patience)
{
    // The stop is checked only when a write was held up: a blocked write() ends
    // with EINTR (or a short count) when the watchdog kicks this thread. A write
    // that goes through is always made, so the closing line of a run gets out
    // however long after the stop request it comes.
    auto stopping = [patience] { return stop::requested() && stop::since_request() >= patience; };
    if (stopping()) {
        // Past its patience, a write that would block is not even started (it would
        // wait for the next kick): later lines on a stalled stderr cost nothing.
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
            return {write_result::kind::stopped, 0, 0};
    }
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n > 0) {
            done += size_t(n);
            if (done < bytes.size() && stopping())  // a reader that drains slowly cannot hold a stop
                return {write_result::kind::stopped, done, 0};
            continue;
        }
        if (n < 0 && errno == EINTR) {
            if (stopping())
                return {write_result::kind::stopped, done, 0};
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // Someone else set O_NONBLOCK on this description: wait until it is
            // writable, a little at a time so that a stop is noticed.
            if (stopping())
                return {write_result::kind::stopped, done, 0};
            pollfd p{fd, POLLOUT, 0};
            poll(&p, 1, 20);
            continue;
        }
        return {write_result::kind::failed, done, n == 0 ? EIO : errno};
    }
    return {write_result::kind::complete, done, 0};
}

}  // namespace hbvm::host_io
