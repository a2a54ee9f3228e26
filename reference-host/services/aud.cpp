// AUD: sound output streams (spec chapter 17). The queues, the pacing and the
// back ends live in the audio devices (devices/audio.hpp), played by their own
// threads; this module serves the calls and makes source 36 pending while a
// stream is ready — an eventfd the devices write wakes a waiting guest.
#include "services/services.hpp"

#include "core/event_hub.hpp"
#include "devices/audio.hpp"
#include "devices/device_set.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/eventfd.h>
#include <unistd.h>

namespace hbvm {

namespace {

class aud_module final : public service_module, private event_source {
public:
    explicit aud_module(const service_context& context)
        : streams_(context.devices.all<audio>("audio")), events_(context.events)
    {
        event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (event_fd_ < 0)
            throw std::runtime_error(std::string("eventfd failed: ") + std::strerror(errno));
        for (audio* a : streams_)
            a->set_ready_handler([fd = event_fd_] {
                const uint64_t one = 1;
                (void)!write(fd, &one, sizeof one);
            });
        events_.attach(unsigned(abi::evt_source::aud_ready), *this);
    }

    ~aud_module() override
    {
        for (audio* a : streams_)
            a->set_ready_handler({});  // a player thread must not write the fd closed below
        close(event_fd_);
    }

    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::aud_count, [this](const call&) { return succeed(streams_.size()); });
        d.add(fn::aud_info, [this](const call& c) { return record(c, streams_[c.arg(0)]->info()); });
        d.add(fn::aud_ready, [this](const call& c) {
            uint64_t set = 0;
            const uint64_t first = c.arg(0);
            for (uint64_t i = 0; i < 64 && first + i < streams_.size(); ++i)
                if (streams_[first + i]->ready())
                    set |= uint64_t(1) << i;
            return succeed(set);
        });
        d.add(fn::aud_open, [this](const call& c) {
            uint32_t chosen = 0;
            if (!streams_[c.arg(0)]->open(uint16_t(c.arg(1)), uint16_t(c.arg(2)), uint32_t(c.arg(3)), chosen))
                return fail(abi::status::invalid_param);
            events_.note_change();
            return succeed(chosen);
        });
        d.add(fn::aud_write, [this](const call& c) {
            const std::span<const std::byte> data = c.in_buffer(1);
            const int64_t taken = streams_[c.arg(0)]->write(data);
            events_.note_change();
            if (taken < 0)
                return fail(abi::status::invalid_param);
            if (taken == 0 && !data.empty())
                return fail(abi::status::again);
            return succeed(uint64_t(taken));
        });
        d.add(fn::aud_state, [this](const call& c) { return record(c, streams_[c.arg(0)]->state()); });
        d.add(fn::aud_set_low_water, [this](const call& c) {
            events_.note_change();
            return streams_[c.arg(0)]->set_low_water(uint32_t(c.arg(1))) ? succeed() : fail(abi::status::invalid_param);
        });
        d.add(fn::aud_drain, [this](const call& c) {
            events_.note_change();
            return streams_[c.arg(0)]->drain() ? succeed() : fail(abi::status::invalid_param);
        });
        d.add(fn::aud_close, [this](const call& c) {
            streams_[c.arg(0)]->close();
            events_.note_change();
            return succeed();
        });
    }

    // Every stream closed (spec 17.13).
    void reset(boot_cause) override
    {
        for (audio* a : streams_)
            a->reset();
    }

private:
    template <typename Record>
    static call_result record(const call& c, const Record& r)
    {
        std::span<std::byte> out = c.out_buffer(1);
        std::copy_n(reinterpret_cast<const std::byte*>(&r), std::min(out.size(), sizeof r), out.begin());
        return succeed(sizeof r);
    }

    int wait_fd() const override { return event_fd_; }
    bool pending(bool readable) override
    {
        if (readable) {
            uint64_t count;
            (void)!read(event_fd_, &count, sizeof count);
        }
        return std::any_of(streams_.begin(), streams_.end(), [](const audio* a) { return a->ready(); });
    }
    std::string name() const override { return "AUD (sound output)"; }

    std::vector<audio*> streams_;
    event_hub& events_;
    int event_fd_ = -1;
};

}  // namespace

std::unique_ptr<service_module> make_aud_module(const service_context& context)
{
    return std::make_unique<aud_module>(context);
}

}  // namespace hbvm
