#include "core/watchdog.hpp"

#include "core/error.hpp"
#include "core/stop.hpp"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace hbvm {

watchdog::watchdog(double timeout_seconds)
{
    const sigset_t watched = stop::watched_signals();
    signal_fd_ = signalfd(-1, &watched, SFD_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_CLOEXEC);
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    if (signal_fd_ < 0 || wake_fd_ < 0 || stop_fd_ < 0)
        throw error(exit_status::host_failure, std::string("cannot set up signal handling: ") + std::strerror(errno));
    // The command line bounds the timeout (cli/main.cpp), so this cannot overflow.
    const auto timeout_ns = int64_t(std::llround(timeout_seconds * 1e9));
    thread_ = std::thread([this, timeout_ns] { loop(timeout_ns); });
}

watchdog::~watchdog()
{
    const uint64_t one = 1;
    while (write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
    thread_.join();
    close(signal_fd_);
    close(wake_fd_);
    close(stop_fd_);
}

void watchdog::stop_now()
{
    const uint64_t one = 1;
    while (write(stop_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void watchdog::set_stop_action(std::function<void()> action)
{
    std::lock_guard lock(mutex_);
    action_ = std::move(action);
}

std::vector<std::string> watchdog::ignored_signals() const
{
    std::lock_guard lock(mutex_);
    std::vector<std::string> names;
    for (auto [signal, count] : ignored_)
        names.push_back(std::string("SIG") + sigabbrev_np(signal) + (count > 1 ? " (" + std::to_string(count) + "x)" : ""));
    return names;
}

void watchdog::fire()
{
    {
        std::lock_guard lock(mutex_);
        if (action_)
            action_();
    }
    stop::kick_vcpu();
}

void watchdog::loop(int64_t timeout_ns)
{
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::nanoseconds(timeout_ns);
    pollfd fds[3] = {{wake_fd_, POLLIN, 0}, {signal_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    while (!stop::requested()) {
        int wait_ms = -1;
        if (timeout_ns > 0) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
            if (left <= 0) {
                stop::request(0);
                break;
            }
            wait_ms = int(std::min<int64_t>(left, 3600 * 1000));
        }
        if (poll(fds, 3, wait_ms) < 0 && errno != EINTR)
            break;  // cannot happen with valid descriptors; the run goes on without a watchdog
        if (fds[0].revents)
            return;  // the run is over
        if (fds[2].revents)
            break;  // stop_now: stop::request was called
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo info{};
            if (read(signal_fd_, &info, sizeof info) != ssize_t(sizeof info))
                continue;
            const int signal = int(info.ssi_signo);
            if (stop::is_ignored_signal(signal)) {
                std::lock_guard lock(mutex_);
                bool counted = false;
                for (auto& [s, count] : ignored_)
                    if (s == signal)
                        ++count, counted = true;
                if (!counted)
                    ignored_.push_back({signal, 1});
                continue;
            }
            stop::request(signal);
        }
    }
    // Stop now, then again every repeat_ms until the run is over.
    for (;;) {
        fire();
        if (poll(fds, 1, repeat_ms) > 0)
            return;
    }
}

}  // namespace hbvm
