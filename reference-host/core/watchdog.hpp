// Ends a run on --timeout, SIGINT or SIGTERM. The signals are blocked in every
// thread and taken synchronously here, so the stop request never runs inside a
// signal handler.
#ifndef HBVM_CORE_WATCHDOG_HPP
#define HBVM_CORE_WATCHDOG_HPP

#include <atomic>
#include <functional>
#include <thread>

namespace hbvm {

class watchdog {
public:
    enum class cause { none, timeout, interrupt, terminate };

    // Call before any other thread starts, so they all inherit the blocked mask.
    static void block_stop_signals();

    // `stop` runs on the watchdog thread when the timeout (seconds; 0: none)
    // expires or a stop signal arrives, and again every 100 ms until destruction.
    watchdog(double timeout_seconds, std::function<void()> stop);
    ~watchdog();
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

    cause fired() const { return fired_.load(); }

private:
    void loop(double timeout_seconds);

    std::function<void()> stop_;
    std::atomic<cause> fired_{cause::none};
    std::thread thread_;
};

}  // namespace hbvm

#endif
