// EVT: timers, the pending set, waiting, the mask and the interrupt vector
// (spec chapter 13). The sources themselves live with their services and report
// through the machine's event hub (core/event_hub.hpp); this module owns the
// timers, which are sources 0-7.
//
// A timer counts its expirations on CLOCK_MONOTONIC, the clock of
// TIME.monotonic_ns: the n-th periodic expiration is at deadline + n x period
// however late anyone looks (no drift), never before, and an acknowledgement
// returns every expiration since the last one, so a timer that falls behind
// reports missed periods instead of queueing them. A Linux timerfd armed at the
// next deadline wakes whoever waits for it.
#include "services/services.hpp"

#include "core/error.hpp"
#include "core/event_hub.hpp"
#include "devices/clock.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/timerfd.h>
#include <unistd.h>

namespace hbvm {

namespace {

constexpr unsigned timer_count = 8;             // spec: at least 8
constexpr uint64_t minimum_period_ns = 10000;   // spec 13.2: shorter periods are INVALID_PARAM

timespec to_timespec(uint64_t ns) { return {time_t(ns / 1000000000u), long(ns % 1000000000u)}; }

// A timer's expirations are arithmetic on CLOCK_MONOTONIC (the n-th is at
// deadline + n x period), so a timer is pending the moment the clock reaches a
// deadline it has not had acknowledged -- with no wait for the kernel's timer
// interrupt, which on a busy or nested machine comes well after the clock has
// passed (a timer armed with a past deadline was seen not pending yet). The
// timerfd only wakes waiters: it is armed at the first deadline not yet
// acknowledged, and its own count is drained and ignored.
class timer final : public event_source {
public:
    explicit timer(unsigned number) : number_(number)
    {
        fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (fd_ < 0)
            throw error(exit_status::host_failure,
                        std::string("timerfd_create failed: ") + std::strerror(errno) + " (EVT needs one per timer)");
    }
    ~timer() { close(fd_); }
    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;

    int wait_fd() const override { return armed_ ? fd_ : -1; }
    bool pending(bool) override { return armed_ && expirations_by(monotonic_now_ns()) > acknowledged_; }
    std::string name() const override { return "timer " + std::to_string(number_) + (armed_ ? "" : ", not armed"); }

    void set(uint64_t deadline_ns, uint64_t period_ns)
    {
        deadline_ = deadline_ns;
        period_ = period_ns;
        acknowledged_ = 0;
        armed_ = true;
        wake_at(deadline_);
    }

    void cancel()
    {
        armed_ = false;
        const itimerspec off{};
        timerfd_settime(fd_, 0, &off, nullptr);
        drain();
    }

    uint64_t acknowledge()
    {
        if (!armed_)
            return 0;
        const uint64_t due = expirations_by(monotonic_now_ns());
        const uint64_t count = due - acknowledged_;
        acknowledged_ = due;
        drain();
        if (period_ == 0 && count)
            cancel();  // a one-shot timer that expired stays quiet until armed again
        else
            wake_at(next_deadline());
        return count;
    }

private:
    // Expirations up to `now`: deadline + n x period for n = 0, 1, ... (one for a
    // one-shot timer).
    uint64_t expirations_by(uint64_t now) const
    {
        if (now < deadline_)
            return 0;
        return period_ == 0 ? 1 : (now - deadline_) / period_ + 1;
    }

    // The first deadline not acknowledged yet; all ones when it is past what the
    // clock can hold (never reached).
    uint64_t next_deadline() const
    {
        if (period_ == 0)
            return acknowledged_ ? ~uint64_t(0) : deadline_;
        if (acknowledged_ > (~uint64_t(0) - deadline_) / period_)
            return ~uint64_t(0);
        return deadline_ + acknowledged_ * period_;
    }

    void wake_at(uint64_t at)
    {
        // it_value 0 would disarm: a deadline of 0 is simply long past.
        const itimerspec spec{{0, 0}, to_timespec(at ? at : 1)};
        timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
        drain();
    }

    void drain()
    {
        uint64_t ignored;
        while (read(fd_, &ignored, sizeof ignored) == sizeof ignored) {
        }
    }

    unsigned number_;
    int fd_ = -1;
    bool armed_ = false;
    uint64_t deadline_ = 0, period_ = 0;
    uint64_t acknowledged_ = 0;  // expirations timer_ack has returned since the timer was armed
};

class evt_module final : public service_module {
public:
    explicit evt_module(const service_context& context) : events_(context.events)
    {
        for (unsigned t = 0; t < timer_count; ++t) {
            timers_[t] = std::make_unique<timer>(t);
            events_.attach(t, *timers_[t]);
        }
    }

    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::evt_timer_count, [](const call&) { return succeed(timer_count); });
        d.add(fn::evt_timer_set, [this](const call& c) {
            const uint64_t period = c.arg(2);
            if (period != 0 && period < minimum_period_ns)
                return fail(abi::status::invalid_param);
            timers_[c.arg(0)]->set(c.arg(1), period);
            events_.note_change();
            return succeed(0);
        });
        d.add(fn::evt_timer_cancel, [this](const call& c) {
            timers_[c.arg(0)]->cancel();
            events_.note_change();
            return succeed(0);
        });
        d.add(fn::evt_timer_ack, [this](const call& c) {
            const uint64_t expirations = timers_[c.arg(0)]->acknowledge();
            events_.note_change();
            return succeed(expirations);
        });
        d.add(fn::evt_poll, [this](const call&) { return succeed(events_.pending()); });
        d.add(fn::evt_wait, [this](const call& c) {
            std::string why;
            if (!events_.wait(c.arg(1), c.arg(0), &why) && !why.empty())
                return request_halt_forever("the guest waits (EVT.wait) with no deadline, and " + why +
                                            "; nothing can wake it");
            // Returns the whole pending set (spec 13.4). After a stop request the
            // run ends right after this call, and the answer is never seen.
            return succeed(events_.pending());
        });
        d.add(fn::evt_set_mask, [this](const call& c) {
            const uint64_t previous = events_.mask();
            events_.set_mask(c.arg(0));
            return succeed(previous);
        });
        d.add(fn::evt_set_vector, [this](const call& c) {
            const uint64_t vector = c.arg(0);
            if (vector != 0 && vector < 32)
                return fail(abi::status::invalid_param);  // the CPU's exception vectors
            const uint64_t previous = events_.vector();
            events_.set_vector(uint8_t(vector));
            return succeed(previous);
        });
    }

    // A reset disarms every timer and returns the mask and vector to their boot
    // values (every source masked, no vector): a rebooted guest starts quiet.
    void reset(boot_cause) override
    {
        for (auto& t : timers_)
            t->cancel();
        events_.reset();
    }

private:
    event_hub& events_;
    std::array<std::unique_ptr<timer>, timer_count> timers_;
};

}  // namespace

std::unique_ptr<service_module> make_evt_module(const service_context& context)
{
    return std::make_unique<evt_module>(context);
}

}  // namespace hbvm
