// The one event path of the machine (spec chapter 13): every timer and every
// device that can become ready is a numbered source with a pending bit. The data
// stays with the source's service (console bytes in the terminal, a timer's
// expirations in its timerfd); the hub only asks each source for its level, so a
// flood on one source cannot overflow another's.
//
// The hub also holds what the machine needs to deliver events: the mask and the
// interrupt vector the guest set through EVT, the HLT wait (wait()), and a
// watcher thread that wakes the vCPU when a source becomes pending while the
// guest runs with delivery enabled.
//
// Waiting is ppoll() on the sources' descriptors: the kernel keeps their
// readiness, so a source that became pending just before a wait makes it return
// at once (no lost wake-up), and a waiting guest costs the host no CPU.
#ifndef HBVM_CORE_EVENT_HUB_HPP
#define HBVM_CORE_EVENT_HUB_HPP

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <poll.h>
#include <string>
#include <thread>
#include <vector>

namespace hbvm {

// What a service attaches to the hub for each of its sources.
class event_source {
public:
    // A descriptor that becomes readable when the source may have become
    // pending, or -1 when nothing can make it pending now (a disarmed timer,
    // console input at its end).
    virtual int wait_fd() const = 0;

    // The source's level now; `readable`: wait_fd() polled readable just before.
    // Called on the vCPU thread only.
    virtual bool pending(bool readable) = 0;

    // For diagnostics, with why it cannot become pending when wait_fd() is -1:
    // "timer 3", "console input (at its end)".
    virtual std::string name() const = 0;

protected:
    ~event_source() = default;
};

class event_hub {
public:
    static constexpr unsigned max_sources = 64;  // a set is one 64-bit register
    static constexpr uint64_t no_deadline = ~uint64_t(0);

    event_hub();
    ~event_hub();
    event_hub(const event_hub&) = delete;
    event_hub& operator=(const event_hub&) = delete;

    // A service offers source `number`; the source outlives the hub's use of it.
    void attach(unsigned number, event_source& source);
    uint64_t attached() const { return attached_; }

    // Which sources of `which` are pending now (one ppoll over their
    // descriptors). Only the sources asked are looked at: asking console input
    // reads the terminal (and puts it in byte-at-a-time mode).
    uint64_t pending(uint64_t which = ~uint64_t(0));

    // Blocks until a source of `sources` is pending or CLOCK_MONOTONIC reaches
    // `deadline_ns`; returns which of `sources` are pending. Empty when it cannot return: no
    // deadline and no source of the set can become pending (`why` says what is
    // missing), or a stop was requested (stop::requested()).
    std::optional<uint64_t> wait(uint64_t sources, uint64_t deadline_ns, std::string* why = nullptr);

    // What the guest set through EVT; as at boot: every source masked, no vector.
    uint64_t mask() const { return mask_; }
    uint8_t vector() const { return vector_; }
    void set_mask(uint64_t mask);
    void set_vector(uint8_t vector);
    void reset();

    // A service changed a source's level or the hub's settings (CONSOLE.read took
    // bytes, a timer was acknowledged): the machine looks at events after the call.
    void note_change() { changed_ = true; }

    // The host's own business while the vCPU waits (a pause asked through the
    // control socket): interrupt() wakes a wait() in progress, which calls
    // on_interrupt on the waiting thread and then goes on waiting as before, so
    // the guest sees nothing of it. Callable from any thread.
    void interrupt();
    std::function<void()> on_interrupt;
    bool take_change()
    {
        const bool c = changed_;
        changed_ = false;
        return c;
    }

    // Watches `sources` from a thread of the hub while the guest runs: the first
    // of them to become readable calls `wake` (from that thread), once; watch()
    // again re-arms it. An empty set stops watching.
    void watch(uint64_t sources, std::function<void()> wake);

    // Why sources that wait() found unable to wake cannot: "nothing it waits for
    // can become pending (timer 3, console input)".
    std::string describe_unwakeable(uint64_t sources) const;

private:
    void watcher_loop();
    // The descriptors of the sources of `which` that have one, into fds (room for
    // max_sources), and their numbers.
    nfds_t descriptors(uint64_t which, pollfd* fds, unsigned (&number_of)[max_sources]) const;

    event_source* sources_[max_sources] = {};
    uint64_t attached_ = 0;
    uint64_t mask_ = ~uint64_t(0);
    uint8_t vector_ = 0;
    bool changed_ = false;

    // The watcher: it polls watch_fds_ and control_fd_ (an eventfd that
    // watch() writes to make it pick up a new set).
    std::mutex watch_mutex_;
    std::vector<int> watch_fds_;
    std::function<void()> wake_;
    bool quit_ = false;
    int control_fd_ = -1;
    int interrupt_fd_ = -1;  // interrupt(): an eventfd wait() polls besides the sources'
    std::thread watcher_;
};

}  // namespace hbvm

#endif
