// DSP: displays (spec chapter 14). The frames, modes and event queues live in
// the display devices (devices/display.hpp); this module serves the calls,
// checks a present's record and rows before a byte moves, and paces the
// `presented` events at the display's refresh: event source 33 is pending while
// a display's queue is not empty, and a timerfd wakes a waiting guest when a
// `presented` event falls due or another thread queued an event.
#include "services/services.hpp"

#include "core/event_hub.hpp"
#include "devices/clock.hpp"
#include "devices/device_set.hpp"
#include "devices/display.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/timerfd.h>
#include <unistd.h>

namespace hbvm {

namespace {

// Reads a little-endian field of the present record (it is copied, not mapped).
template <typename T>
T field(std::span<const std::byte> record, size_t offset)
{
    T v;
    std::memcpy(&v, record.data() + offset, sizeof v);
    return v;
}

class dsp_module final : public service_module, private event_source {
public:
    explicit dsp_module(const service_context& context)
        : displays_(context.devices.all<display>("display")), events_(context.events)
    {
        timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (timer_fd_ < 0)
            throw std::runtime_error(std::string("timerfd_create failed: ") + std::strerror(errno) +
                                     " (DSP paces its presented events with one)");
        pacing_.resize(displays_.size());
        for (display* d : displays_)
            d->set_outside_event_handler([this] { arm_at(0); });
        events_.attach(unsigned(abi::evt_source::dsp_ready), *this);
    }

    ~dsp_module() override
    {
        for (display* d : displays_)
            d->set_outside_event_handler({});  // a window's thread must not reach this module any more
        close(timer_fd_);
    }

    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::dsp_count, [this](const call&) { return succeed(displays_.size()); });
        d.add(fn::dsp_info, [this](const call& c) {
            const abi::dsp_info record = displays_[c.arg(0)]->info();
            std::span<std::byte> out = c.out_buffer(1);
            std::copy_n(reinterpret_cast<const std::byte*>(&record), std::min(out.size(), sizeof record), out.begin());
            return succeed(sizeof record);
        });
        d.add(fn::dsp_set_mode, [this](const call& c) {
            display& dev = *displays_[c.arg(0)];
            const abi::dsp_info now = dev.info();
            if (c.arg(1) > now.max_width || c.arg(2) > now.max_height)
                return fail(abi::status::invalid_param);
            pacing_[c.arg(0)] = {};  // frames of the old mode are not shown any more
            return succeed(dev.set_mode(uint32_t(c.arg(1)), uint32_t(c.arg(2))));
        });
        d.add(fn::dsp_present, [this](const call& c) { return present(c); });
        d.add(fn::dsp_ready, [this](const call& c) {
            materialise_due();
            uint64_t set = 0;
            const uint64_t first = c.arg(0);
            for (uint64_t i = 0; i < 64 && first + i < displays_.size(); ++i)
                if (displays_[first + i]->has_events())
                    set |= uint64_t(1) << i;
            return succeed(set);
        });
        d.add(fn::dsp_next_event, [this](const call& c) {
            materialise_due();
            std::span<std::byte> out = c.out_buffer(1);
            abi::dsp_event event{};
            if (!displays_[c.arg(0)]->take_event(event))
                return succeed(0);
            events_.note_change();
            std::copy_n(reinterpret_cast<const std::byte*>(&event), std::min(out.size(), sizeof event), out.begin());
            return succeed(sizeof event);
        });
    }

    // Each display back to its boot mode, black, its queue empty (spec 14.9).
    void reset(boot_cause) override
    {
        for (display* d : displays_)
            d->reset();
        std::fill(pacing_.begin(), pacing_.end(), pacing{});
        arm_at(~uint64_t(0));
    }

private:
    // The presents not yet covered by a `presented` event, and when it falls due.
    struct pacing {
        uint32_t frames = 0;
        uint64_t due_ns = 0;
        uint64_t last_presented_ns = 0;
    };

    static uint64_t period_ns(const display& d)
    {
        const uint32_t mhz = d.refresh_mhz();
        return mhz ? 1000000000000ull / mhz : 1000000000ull / 60;
    }

    call_result present(const call& c)
    {
        display& dev = *displays_[c.arg(0)];
        const std::span<const std::byte> record = c.in_record(1);
        const uint64_t address = field<uint64_t>(record, 0);
        const uint32_t stride = field<uint32_t>(record, 8), format = field<uint32_t>(record, 12);
        const uint32_t generation = field<uint32_t>(record, 16), x = field<uint32_t>(record, 20);
        const uint32_t y = field<uint32_t>(record, 24), width = field<uint32_t>(record, 28);
        const uint32_t height = field<uint32_t>(record, 32), reserved = field<uint32_t>(record, 36);
        // Step 2 of spec 14.6, in 64-bit arithmetic so that nothing wraps.
        const uint64_t mode_width = dev.width(), mode_height = dev.height();
        if (reserved != 0 || format != abi::dsp_format::xrgb8888 || generation != dev.generation() || width == 0 ||
            height == 0 || uint64_t(x) + width > mode_width || uint64_t(y) + height > mode_height || stride % 4 != 0 ||
            stride < (uint64_t(x) + width) * 4)
            return fail(abi::status::invalid_param);
        // Step 3: every row of the rectangle in guest RAM, checked before a byte moves.
        std::vector<std::span<const std::byte>> rows;
        rows.reserve(height);
        for (uint64_t r = y; r < uint64_t(y) + height; ++r) {
            const uint64_t offset = r * stride + uint64_t(x) * 4;  // < 2^16 * 2^32 + 2^18: no wrap
            if (address > ~uint64_t(0) - offset)
                return fail(abi::status::invalid_address);
            const std::optional<std::span<const std::byte>> row = c.guest_range_to_read(address + offset, uint64_t(width) * 4);
            if (!row)
                return fail(abi::status::invalid_address);
            rows.push_back(*row);
        }
        dev.put_rows(x, y, width, rows);
        // The `presented` event at the first refresh after now, at least a period
        // after the last one (spec 14.7, HB-DSP-009).
        pacing& p = pacing_[c.arg(0)];
        if (p.frames++ == 0) {
            const uint64_t period = period_ns(dev), now = monotonic_now_ns();
            p.due_ns = dev.unpaced() ? now : std::max((now / period + 1) * period, p.last_presented_ns + period);
            arm_at(earliest_due());
        }
        return succeed();
    }

    // Queues the `presented` events that fell due.
    void materialise_due()
    {
        const uint64_t now = monotonic_now_ns();
        for (size_t i = 0; i < displays_.size(); ++i) {
            pacing& p = pacing_[i];
            if (p.frames && now >= p.due_ns) {
                // Stamped with the refresh at which the frames were shown, not with
                // the moment the guest came to look (TIME.monotonic_ns is
                // CLOCK_MONOTONIC, as the pacing is).
                displays_[i]->queue_event(abi::dsp_event_type::presented, p.frames, 0, p.due_ns);
                p.last_presented_ns = p.due_ns;
                p.frames = 0;
            }
        }
        arm_at(earliest_due());
    }

    uint64_t earliest_due() const
    {
        uint64_t due = ~uint64_t(0);
        for (const pacing& p : pacing_)
            if (p.frames)
                due = std::min(due, p.due_ns);
        return due;
    }

    // Arms the timerfd at CLOCK_MONOTONIC time `at` (0: at once; all ones: disarm).
    void arm_at(uint64_t at)
    {
        itimerspec spec{};
        if (at != ~uint64_t(0)) {
            at = std::max<uint64_t>(at, 1);
            spec.it_value.tv_sec = time_t(at / 1000000000ull);
            spec.it_value.tv_nsec = long(at % 1000000000ull);
        }
        timerfd_settime(timer_fd_, at == ~uint64_t(0) ? 0 : TFD_TIMER_ABSTIME, &spec, nullptr);
    }

    // event_source
    int wait_fd() const override { return timer_fd_; }
    bool pending(bool readable) override
    {
        if (readable) {
            uint64_t expirations;
            (void)!read(timer_fd_, &expirations, sizeof expirations);
        }
        materialise_due();
        return std::any_of(displays_.begin(), displays_.end(), [](const display* d) { return d->has_events(); });
    }
    std::string name() const override { return "DSP (displays)"; }

    std::vector<display*> displays_;
    std::vector<pacing> pacing_;
    event_hub& events_;
    int timer_fd_ = -1;
};

}  // namespace

std::unique_ptr<service_module> make_dsp_module(const service_context& context)
{
    return std::make_unique<dsp_module>(context);
}

}  // namespace hbvm
