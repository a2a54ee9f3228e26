// Ends a run on --timeout or a signal (core/stop.hpp explains the mechanism).
// The watched signals are blocked in every thread and read here from a
// signalfd, so no stop request ever runs inside a signal handler; the thread
// itself is woken for its own end through an eventfd, which nothing outside
// the process can write.
#ifndef HBVM_CORE_WATCHDOG_HPP
#define HBVM_CORE_WATCHDOG_HPP

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hbvm {

class watchdog {
public:
    // How often the stop is repeated once it fired: a request can land just before
    // the accelerator starts running or a blocking call starts, and be missed.
    static constexpr int repeat_ms = 20;

    // Starts the thread; `timeout_seconds` 0 means no limit. stop::prepare_process()
    // must have run.
    explicit watchdog(double timeout_seconds);
    ~watchdog();
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

    // What stops the guest (the accelerator's request_stop), run on the watchdog
    // thread when the stop fires and every repeat_ms after; empty while there is
    // no accelerator.
    void set_stop_action(std::function<void()> action);

    // Stops the run now, as a signal would (the control socket's quit): call
    // stop::request first. Callable from any thread.
    void stop_now();

    // Signals that were received and ignored (SIGUSR1, SIGUSR2), as "SIGUSR1 (2x)",
    // for one note at the end of the run. The watchdog never writes itself: a
    // stalled stderr must not stall the thread that stops the run.
    std::vector<std::string> ignored_signals() const;

private:
    void loop(int64_t timeout_ns);
    void fire();

    int signal_fd_ = -1;
    int wake_fd_ = -1;  // the run is over: the thread ends
    int stop_fd_ = -1;  // stop_now()
    mutable std::mutex mutex_;  // guards action_ and ignored_
    std::function<void()> action_;
    std::vector<std::pair<int, unsigned>> ignored_;
    std::thread thread_;
};

}  // namespace hbvm

#endif
