#include "devices/terminal.hpp"

#include <cerrno>
#include <poll.h>
#include <unistd.h>

namespace hbvm {

terminal::terminal(int input_fd, int output_fd) : in_(input_fd), out_(output_fd) {}

terminal::~terminal()
{
    if (raw_)
        tcsetattr(in_, TCSANOW, &saved_);
}

bool terminal::write(std::span<const std::byte> bytes)
{
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(out_, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += size_t(n);
    }
    return true;
}

long terminal::read_available(std::span<std::byte> buffer)
{
    if (buffer.empty() || input_eof_)
        return 0;
    // A terminal delivers keys as they are typed, without echo, only once the guest
    // starts reading; Ctrl-C still reaches the host (ISIG stays on).
    if (!raw_ && isatty(in_) && tcgetattr(in_, &saved_) == 0) {
        termios raw = saved_;
        raw.c_lflag &= tcflag_t(~(ICANON | ECHO));
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        raw_ = tcsetattr(in_, TCSANOW, &raw) == 0;
    }
    pollfd p{in_, POLLIN, 0};
    int ready = poll(&p, 1, 0);
    if (ready < 0)
        return errno == EINTR ? 0 : -1;
    if (ready == 0)
        return 0;
    if (p.revents & (POLLERR | POLLNVAL))
        return -1;
    ssize_t n = ::read(in_, buffer.data(), buffer.size());
    if (n < 0)
        return (errno == EINTR || errno == EAGAIN) ? 0 : -1;
    if (n == 0)
        input_eof_ = true;
    return long(n);
}

}  // namespace hbvm
