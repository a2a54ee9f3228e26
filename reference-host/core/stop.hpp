// Stopping a run from outside the guest: --timeout and signals. The state is
// process-wide because signals are. The rule it serves (README, "Stopping"):
// whatever the guest or the outside world does, --timeout, SIGINT and SIGTERM
// end hbvm within 100 ms, with one "hbvm:" line and a documented status.
//
// How: every signal that would end the process is blocked in every thread and
// taken by the watchdog thread (core/watchdog), which records the stop here,
// asks the accelerator to stop and then *kicks* the vCPU thread (the main
// thread) every 20 ms with an internal signal whose handler does nothing. The
// kick makes any system call the vCPU thread is blocked in (KVM_RUN, a write to
// a stalled pipe, opening a FIFO) return EINTR, and every blocking loop of the
// host checks stop::requested() on EINTR. An outside process can send the kick
// signal too; all it causes is a spurious EINTR, which every loop retries.
#ifndef HBVM_CORE_STOP_HPP
#define HBVM_CORE_STOP_HPP

#include <chrono>
#include <csignal>
#include <cstdint>
#include <exception>
#include <string>

namespace hbvm::stop {

// Prepares the process; call first in main(), before any thread exists:
//  - reopens file descriptors 0, 1 and 2 on /dev/null when they are closed, so
//    that /dev/kvm and the VM never take them; returns which were (bit n: fd n);
//  - ignores SIGPIPE and SIGXFSZ: a write to a closed pipe or past `ulimit -f`
//    becomes an error the host reports, not a silent death;
//  - blocks the signals the watchdog takes, in this thread and so in every thread
//    created later;
//  - installs the kick handler and records this thread as the one to kick.
unsigned prepare_process();

// The signals the watchdog takes (blocked everywhere).
sigset_t watched_signals();

// True for the watched signals that only produce a note (SIGUSR1, SIGUSR2).
bool is_ignored_signal(int signal);

// What request() takes for a stop asked for through the control socket (quit).
inline constexpr int quit_request = 1000;
// What request() takes when a person closed a display's window and the guest
// did not take the close request in time (devices/display.hpp).
inline constexpr int window_closed_request = 1001;

// Records the stop; the first request wins. `signal` is 0 for --timeout,
// quit_request for the control socket's quit.
void request(int signal);

bool requested() noexcept;

// Time since the stop was requested (zero when it was not).
std::chrono::steady_clock::duration since_request() noexcept;

// Interrupts a blocking system call of the vCPU thread (the thread that called
// prepare_process). Callable from any thread.
void kick_vcpu() noexcept;

// A byte the kick's signal handler sets to 1 (nullptr: none): KVM's
// kvm_run.immediate_exit, so that a kick arriving just before KVM_RUN starts
// still makes it return at once instead of being lost.
void set_kick_flag(volatile uint8_t* flag) noexcept;

// Thrown by host work outside the guest (opening or reading the image) when a
// stop request interrupts it; `during` says what was interrupted.
class interrupted : public std::exception {
public:
    explicit interrupted(std::string during) : during_(std::move(during)) {}
    const char* what() const noexcept override { return during_.c_str(); }
    const std::string& during() const noexcept { return during_; }

private:
    std::string during_;
};

// How a stopped run ends: the process exit status and the "hbvm:" line.
struct ending {
    int status;
    std::string message;
};
// `timeout_seconds` is --timeout, for the message; `during` says what hbvm was
// doing when the stop came when that was not running the guest ("" otherwise).
ending describe(double timeout_seconds, const std::string& during = "");

}  // namespace hbvm::stop

#endif
