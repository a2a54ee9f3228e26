#include "devices/terminal.hpp"

#include "core/fault_injection.hpp"
#include "core/host_io.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <unistd.h>

namespace hbvm {

terminal::terminal(int input_fd, int output_fd) : in_(input_fd), out_(output_fd) {}

terminal::~terminal()
{
    if (!raw_)
        return;
    // The watchdog may be kicking this thread while the run ends: retry on EINTR.
    // On a terminal that hung up this fails, and there is nothing left to restore.
    while (tcsetattr(in_, TCSANOW, &saved_) != 0 && errno == EINTR) {
    }
}

void terminal::report(bool& reported, const std::string& what)
{
    if (!reported && on_failure)
        on_failure(what);
    reported = true;
}

bool terminal::write(std::span<const std::byte> bytes)
{
    std::vector<std::byte> distorted;
    if (distort_output) {
        distorted.assign(bytes.begin(), bytes.end());
        distort_output(distorted);
        bytes = distorted;
    }
    const host_io::write_result r = host_io::write_all(out_, bytes);
    if (r.what == host_io::write_result::kind::failed)
        report(output_failure_reported_, std::string("console output failed (") + std::strerror(r.error) +
                                             "); CONSOLE.write answers IO_ERROR while it fails");
    return r.what == host_io::write_result::kind::complete;
}

void terminal::enter_byte_mode()
{
    // A terminal delivers keys as they are typed, without echo, only once the guest
    // shows interest in input; Ctrl-C still reaches the host (ISIG stays on). Only in
    // the foreground: a background process changing the mode would be stopped by
    // SIGTTOU, and would change the mode under the shell.
    if (!raw_ && isatty(in_) && tcgetpgrp(in_) == getpgrp() && tcgetattr(in_, &saved_) == 0) {
        termios raw = saved_;
        raw.c_lflag &= tcflag_t(~(ICANON | ECHO));
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        raw_ = tcsetattr(in_, TCSANOW, &raw) == 0;
    }
}

long terminal::read_available(std::span<std::byte> buffer)
{
    if (buffer.empty())
        return 0;
    if (!held_.empty()) {
        const size_t n = std::min(buffer.size(), held_.size());
        std::copy_n(held_.begin(), n, buffer.begin());
        held_.erase(held_.begin(), held_.begin() + long(n));
        return long(n);
    }
    return read_descriptor(buffer);
}

bool terminal::input_waiting()
{
    if (!held_.empty())
        return true;
    std::byte chunk[4096];
    const long n = read_descriptor(chunk);
    if (n > 0)
        held_.assign(chunk, chunk + n);
    return n > 0;
}

bool terminal::input_ended()
{
    if (!held_.empty())
        return false;
    if (!input_eof_)
        input_waiting();  // reads what is there; finds the end if it has come
    return held_.empty() && input_eof_;
}

long terminal::read_descriptor(std::span<std::byte> buffer)
{
    if (input_eof_)
        return 0;
    enter_byte_mode();
    pollfd p{in_, POLLIN, 0};
    const int ready = poll(&p, 1, 0);
    if (ready < 0 && errno == EINTR)
        return 0;
    if (ready < 0 || (p.revents & (POLLERR | POLLNVAL))) {
        input_failed_ = true;
        report(input_failure_reported_, "console input failed; CONSOLE.read answers IO_ERROR while it fails");
        return -1;
    }
    if (ready == 0)
        return 0;
    const ssize_t n = ::read(in_, buffer.data(), buffer.size());
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        input_failed_ = true;
        report(input_failure_reported_, std::string("console input failed (") + std::strerror(errno) +
                                            "); CONSOLE.read answers IO_ERROR while it fails");
        return -1;
    }
    if (n == 0)
        input_eof_ = true;
    return long(n);
}

device_class console_device_class()
{
    // No options yet: the terminal is the process's own stdin and stdout.
    return {"console", "", nullptr, {}, {}, 1, true, nullptr,
            [](const std::vector<device_settings>&, const device_host& host) {
                std::vector<std::unique_ptr<device>> made;
                auto t = std::make_unique<terminal>(STDIN_FILENO, STDOUT_FILENO);
                t->on_failure = host.note;
                made.push_back(std::move(t));
                return made;
            }};
}

void terminal::take_faults(const fault_injector& faults) { distort_output = faults.console_output_distortion(); }

}  // namespace hbvm
