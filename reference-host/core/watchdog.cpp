#include "core/watchdog.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>
#include <pthread.h>

namespace hbvm {

namespace {
// SIGUSR1 only wakes the watchdog when the run is over.
sigset_t watched_signals()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    return set;
}
}  // namespace

void watchdog::block_stop_signals()
{
    sigset_t set = watched_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

watchdog::watchdog(double timeout_seconds, std::function<void()> stop) : stop_(std::move(stop))
{
    thread_ = std::thread([this, timeout_seconds] { loop(timeout_seconds); });
}

watchdog::~watchdog()
{
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
}

void watchdog::loop(double timeout_seconds)
{
    const sigset_t set = watched_signals();
    using clock = std::chrono::steady_clock;
    const bool has_deadline = timeout_seconds > 0;
    const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                             std::chrono::duration<double>(has_deadline ? timeout_seconds : 0));
    while (fired_ == cause::none) {
        timespec wait{3600, 0};
        if (has_deadline) {
            auto left = deadline - clock::now();
            if (left <= clock::duration::zero()) {
                fired_ = cause::timeout;
                break;
            }
            auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
            wait = {time_t(ns / 1000000000), long(ns % 1000000000)};
        }
        int sig = sigtimedwait(&set, nullptr, &wait);
        if (sig == SIGUSR1)
            return;
        if (sig == SIGINT || sig == SIGTERM)
            fired_ = sig == SIGINT ? cause::interrupt : cause::terminate;
    }
    // Ask again every 100 ms until the run is over: an accelerator can miss a request
    // that lands just before it starts running (Unicorn clears its stop flag then).
    for (;;) {
        stop_();
        const timespec again{0, 100000000};
        if (sigtimedwait(&set, nullptr, &again) == SIGUSR1)
            return;
    }
}

}  // namespace hbvm
