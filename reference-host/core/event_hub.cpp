#include "core/event_hub.hpp"

#include "core/error.hpp"
#include "core/stop.hpp"
#include "devices/clock.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace hbvm {

namespace {

}  // namespace

event_hub::event_hub()
{
    control_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    interrupt_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (control_fd_ < 0 || interrupt_fd_ < 0)
        throw error(exit_status::host_failure, std::string("eventfd for the event watcher failed: ") +
                                                   std::strerror(errno));
}

event_hub::~event_hub()
{
    {
        std::lock_guard lock(watch_mutex_);
        quit_ = true;
    }
    const uint64_t one = 1;
    if (write(control_fd_, &one, sizeof one) < 0) {
        // The counter cannot overflow here; the watcher also sees quit_ on its next wake.
    }
    if (watcher_.joinable())
        watcher_.join();
    close(control_fd_);
    close(interrupt_fd_);
}

void event_hub::attach(unsigned number, event_source& source)
{
    if (number >= max_sources || sources_[number])
        throw std::logic_error("event_hub: source " + std::to_string(number) + " attached twice or out of range");
    sources_[number] = &source;
    attached_ |= uint64_t(1) << number;
}

void event_hub::set_mask(uint64_t mask)
{
    mask_ = mask;
    changed_ = true;
}

void event_hub::set_vector(uint8_t vector)
{
    vector_ = vector;
    changed_ = true;
}

void event_hub::reset()
{
    mask_ = ~uint64_t(0);
    vector_ = 0;
    changed_ = true;
    watch(0, {});
}

nfds_t event_hub::descriptors(uint64_t which, pollfd* fds, unsigned (&number_of)[max_sources]) const
{
    nfds_t n = 0;
    for (unsigned s = 0; s < max_sources; ++s) {
        if (!sources_[s] || !(which & (uint64_t(1) << s)))
            continue;
        const int fd = sources_[s]->wait_fd();
        if (fd >= 0) {
            fds[n] = {fd, POLLIN, 0};
            number_of[n++] = s;
        }
    }
    return n;
}

uint64_t event_hub::pending(uint64_t which)
{
    pollfd fds[max_sources];
    unsigned number_of[max_sources];
    const nfds_t n = descriptors(which, fds, number_of);
    bool readable[max_sources] = {};
    if (n > 0) {
        const timespec zero{0, 0};
        if (ppoll(fds, n, &zero, nullptr) > 0)
            for (nfds_t i = 0; i < n; ++i)
                readable[number_of[i]] = fds[i].revents & (POLLIN | POLLHUP | POLLERR);
    }
    uint64_t set = 0;
    for (unsigned s = 0; s < max_sources; ++s)
        if (sources_[s] && (which & (uint64_t(1) << s)) && sources_[s]->pending(readable[s]))
            set |= uint64_t(1) << s;
    return set;
}

std::optional<uint64_t> event_hub::wait(uint64_t sources, uint64_t deadline_ns, std::string* why)
{
    for (;;) {
        const uint64_t now_pending = pending(sources);
        if (now_pending)
            return now_pending;
        const uint64_t now = monotonic_now_ns();
        if (deadline_ns != no_deadline && now >= deadline_ns)
            return now_pending;
        if (stop::requested())
            return std::nullopt;
        pollfd fds[max_sources + 1];
        unsigned number_of[max_sources];
        const nfds_t n = descriptors(sources, fds, number_of);
        if (n == 0 && deadline_ns == no_deadline) {
            if (why)
                *why = describe_unwakeable(sources);
            return std::nullopt;
        }
        fds[n] = {interrupt_fd_, POLLIN, 0};
        // The kernel rounds a timeout up, never down; the loop re-checks the clock
        // anyway, so that no wait ends before its deadline.
        timespec timeout{};
        const timespec* limit = nullptr;
        if (deadline_ns != no_deadline) {
            const uint64_t left = deadline_ns - now;
            timeout = {time_t(left / 1000000000u), long(left % 1000000000u)};
            limit = &timeout;
        }
        // EINTR: the watchdog's kick (a stop, checked above on the next round) or
        // a wake from the watcher; either way the loop looks again.
        if (ppoll(fds, n + 1, limit, nullptr) > 0 && (fds[n].revents & POLLIN)) {
            uint64_t count;
            if (read(interrupt_fd_, &count, sizeof count) == ssize_t(sizeof count) && on_interrupt)
                on_interrupt();
        }
    }
}

void event_hub::interrupt()
{
    const uint64_t one = 1;
    while (write(interrupt_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

std::string event_hub::describe_unwakeable(uint64_t sources) const
{
    std::string names;
    for (unsigned s = 0; s < max_sources; ++s)
        if (sources_[s] && (sources & (uint64_t(1) << s))) {
            if (!names.empty())
                names += ", ";
            names += sources_[s]->name();
        }
    if (names.empty())
        return "it waits for no source this host has";
    return "nothing it waits for can become pending (" + names + ")";
}

void event_hub::watch(uint64_t sources, std::function<void()> wake)
{
    pollfd polled[max_sources];
    unsigned number_of[max_sources];
    std::vector<int> fds;
    for (nfds_t i = 0, n = descriptors(sources, polled, number_of); i < n; ++i)
        fds.push_back(polled[i].fd);
    {
        std::lock_guard lock(watch_mutex_);
        if (fds.empty() && watch_fds_.empty())
            return;  // nothing watched before or now: no need to disturb the watcher
        watch_fds_ = std::move(fds);
        wake_ = std::move(wake);
        if (!watcher_.joinable() && !watch_fds_.empty())
            watcher_ = std::thread([this] { watcher_loop(); });
    }
    const uint64_t one = 1;
    if (write(control_fd_, &one, sizeof one) < 0) {
        // Only EAGAIN is possible (the counter is full): the watcher has a wake-up waiting anyway.
    }
}

void event_hub::watcher_loop()
{
    std::vector<pollfd> fds;
    std::unique_lock lock(watch_mutex_);
    for (;;) {
        if (quit_)
            return;
        fds.assign(1, pollfd{control_fd_, POLLIN, 0});
        for (int fd : watch_fds_)
            fds.push_back({fd, POLLIN, 0});
        lock.unlock();
        const int ready = poll(fds.data(), fds.size(), -1);
        lock.lock();
        if (ready <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            uint64_t count;
            if (read(control_fd_, &count, sizeof count) < 0) {
                // EAGAIN: another round of the loop drained it already.
            }
            continue;  // a new set, or the end
        }
        // A watched source is readable: wake the vCPU once and watch nothing more
        // until the machine has looked (it re-arms with watch()).
        watch_fds_.clear();
        if (wake_)
            wake_();
    }
}

}  // namespace hbvm
