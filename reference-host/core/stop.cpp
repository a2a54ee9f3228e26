#include "core/stop.hpp"

#include "core/error.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sstream>
#include <unistd.h>

namespace hbvm::stop {

namespace {

std::atomic<int> stop_signal{-1};  // -1: no stop; 0: --timeout; >0: the signal
std::atomic<std::chrono::steady_clock::rep> stop_time{0};
pthread_t vcpu_thread;
std::atomic<bool> prepared{false};
std::atomic<volatile uint8_t*> kick_flag{nullptr};
static_assert(std::atomic<volatile uint8_t*>::is_always_lock_free, "read from a signal handler");

int kick_signal() { return SIGRTMIN; }

// Signals whose default action ends the process and that can be caught; the
// synchronous fault signals (SIGSEGV, SIGBUS, ...) are left alone: a real fault
// must still end the process at once.
constexpr int ending_signals[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGALRM, SIGUSR1,  SIGUSR2,
                                  SIGVTALRM, SIGPROF, SIGIO,  SIGPWR,  SIGSTKFLT, SIGXCPU};

}  // namespace

sigset_t watched_signals()
{
    sigset_t set;
    sigemptyset(&set);
    for (int s : ending_signals)
        sigaddset(&set, s);
    for (int s = kick_signal() + 1; s <= SIGRTMAX; ++s)
        sigaddset(&set, s);
    return set;
}

bool is_ignored_signal(int signal) { return signal == SIGUSR1 || signal == SIGUSR2; }

unsigned prepare_process()
{
    unsigned reopened = 0;
    for (int fd = 0; fd <= 2; ++fd) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        // open() returns the lowest free descriptor, which is this one.
        const int null_fd = open("/dev/null", O_RDWR);
        if (null_fd == fd)
            reopened |= 1u << fd;
        else if (null_fd >= 0)
            close(null_fd);
    }

    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, nullptr);
    sigaction(SIGXFSZ, &ignore, nullptr);

    // No SA_RESTART: the kick must make blocking calls fail with EINTR.
    struct sigaction kick {};
    kick.sa_handler = [](int) {
        if (volatile uint8_t* flag = kick_flag.load())
            *flag = 1;
    };
    sigemptyset(&kick.sa_mask);
    sigaction(kick_signal(), &kick, nullptr);

    sigset_t watched = watched_signals();
    pthread_sigmask(SIG_BLOCK, &watched, nullptr);
    sigset_t kick_only;
    sigemptyset(&kick_only);
    sigaddset(&kick_only, kick_signal());
    pthread_sigmask(SIG_UNBLOCK, &kick_only, nullptr);

    vcpu_thread = pthread_self();
    prepared = true;
    return reopened;
}

void request(int signal)
{
    int none = -1;
    if (stop_signal.compare_exchange_strong(none, signal))
        stop_time = std::chrono::steady_clock::now().time_since_epoch().count();
}

bool requested() noexcept { return stop_signal.load(std::memory_order_relaxed) >= 0; }

std::chrono::steady_clock::duration since_request() noexcept
{
    if (!requested())
        return std::chrono::steady_clock::duration::zero();
    const std::chrono::steady_clock::time_point at{std::chrono::steady_clock::duration(stop_time.load())};
    return std::chrono::steady_clock::now() - at;
}

void kick_vcpu() noexcept
{
    if (prepared)
        pthread_kill(vcpu_thread, kick_signal());
}

void set_kick_flag(volatile uint8_t* flag) noexcept { kick_flag = flag; }

ending describe(double timeout_seconds, const std::string& during)
{
    const int signal = stop_signal.load();
    const std::string suffix = during.empty() ? "" : " " + during;
    if (signal == 0) {
        std::ostringstream s;
        s << timeout_seconds;
        return {exit_status::timed_out, (during.empty() ? "the guest was still running after " + s.str() +
                                                              " s (--timeout); stopped it"
                                                        : "--timeout (" + s.str() + " s) expired" + suffix)};
    }
    if (signal == quit_request)
        return {0, "stopped by the control socket's quit" + suffix};
    if (signal == window_closed_request)
        return {0, "stopped: a display was closed and the guest did not take the close request in time" + suffix};
    if (signal == SIGINT)
        return {exit_status::interrupted, "stopped by Ctrl-C (SIGINT)" + suffix};
    if (signal == SIGHUP)
        return {128 + SIGHUP, "stopped by SIGHUP (the terminal hung up)" + suffix};
    // glibc calls signal 29 POLL; kill(1) and most users call it IO.
    const char* name = signal == SIGIO ? "IO" : sigabbrev_np(signal);
    return {128 + signal, std::string("stopped by ") + (name ? "SIG" + std::string(name) : "signal " + std::to_string(signal)) +
                              suffix};
}

}  // namespace hbvm::stop
