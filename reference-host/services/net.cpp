// NET: network interfaces (spec chapter 16). The queues, the link and the back
// ends live in the network devices (devices/network.hpp), fed by the back ends'
// threads; this module serves the calls and makes source 35 pending while an
// interface is ready — an eventfd the devices write wakes a waiting guest.
#include "services/services.hpp"

#include "core/event_hub.hpp"
#include "devices/device_set.hpp"
#include "devices/network.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/eventfd.h>
#include <unistd.h>

namespace hbvm {

namespace {

constexpr size_t header_length = 14;

class net_module final : public service_module, private event_source {
public:
    explicit net_module(const service_context& context)
        : interfaces_(context.devices.all<network>("net")), events_(context.events)
    {
        event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (event_fd_ < 0)
            throw std::runtime_error(std::string("eventfd failed: ") + std::strerror(errno));
        for (network* n : interfaces_)
            n->set_ready_handler([fd = event_fd_] {
                const uint64_t one = 1;
                (void)!write(fd, &one, sizeof one);
            });
        events_.attach(unsigned(abi::evt_source::net_ready), *this);
    }

    ~net_module() override
    {
        for (network* n : interfaces_)
            n->set_ready_handler({});  // a back end's thread must not write the fd closed below
        close(event_fd_);
    }

    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::net_count, [this](const call&) { return succeed(interfaces_.size()); });
        d.add(fn::net_info, [this](const call& c) {
            const abi::net_info record = interfaces_[c.arg(0)]->info();
            std::span<std::byte> out = c.out_buffer(1);
            std::copy_n(reinterpret_cast<const std::byte*>(&record), std::min(out.size(), sizeof record), out.begin());
            return succeed(sizeof record);
        });
        d.add(fn::net_ready, [this](const call& c) {
            uint64_t set = 0;
            const uint64_t first = c.arg(0);
            for (uint64_t i = 0; i < 64 && first + i < interfaces_.size(); ++i)
                if (interfaces_[first + i]->ready())
                    set |= uint64_t(1) << i;
            return succeed(set);
        });
        d.add(fn::net_link, [this](const call& c) {
            const bool up = interfaces_[c.arg(0)]->acknowledge_link();
            events_.note_change();
            return succeed(up ? abi::net_link::up : abi::net_link::down);
        });
        d.add(fn::net_send, [this](const call& c) {
            network& n = *interfaces_[c.arg(0)];
            const std::span<const std::byte> frame = c.in_buffer(1);
            if (frame.size() < header_length || frame.size() > n.config().mtu + header_length)
                return fail(abi::status::invalid_param);
            const std::span<const std::byte> parts[] = {frame};
            return sent(n.send(parts), frame.size());
        });
        d.add(fn::net_send_vectored, [this](const call& c) { return send_vectored(c); });
        d.add(fn::net_recv, [this](const call& c) {
            const std::optional<size_t> length = interfaces_[c.arg(0)]->receive(c.out_buffer(1));
            if (!length)
                return fail(abi::status::invalid_param);  // the frame stays (spec 16.9)
            events_.note_change();
            return succeed(*length);
        });
        d.add(fn::net_peek, [this](const call& c) { return succeed(interfaces_[c.arg(0)]->peek()); });
    }

    // Every queue empty; the MAC, the link and rx_dropped stay (spec 16.12).
    void reset(boot_cause) override
    {
        for (network* n : interfaces_)
            n->reset();
    }

private:
    call_result sent(network::sent result, size_t length)
    {
        events_.note_change();  // a send ends readiness by room (spec 16.5, rule 3)
        switch (result) {
        case network::sent::taken: return succeed(length);
        case network::sent::full: return fail(abi::status::again);
        case network::sent::link_down: return fail(abi::status::io_error);
        }
        return fail(abi::status::failed);
    }

    // The list and every segment are checked before anything is taken (HB-NET-008).
    call_result send_vectored(const call& c)
    {
        network& n = *interfaces_[c.arg(0)];
        const uint64_t list_length = c.arg(2);
        constexpr size_t entry = sizeof(abi::net_segment);
        if (list_length == 0 || list_length % entry != 0 || list_length / entry > network::max_segments)
            return fail(abi::status::invalid_param);
        // A copy of the list: the guest's view of it must not change between the
        // checks and the copy of the frame.
        std::vector<abi::net_segment> segments(list_length / entry);
        std::memcpy(segments.data(), c.in_buffer(1).data(), list_length);
        std::vector<std::span<const std::byte>> parts;
        uint64_t total = 0;
        for (const abi::net_segment& s : segments) {
            const auto range = c.guest_range_to_read(s.address, s.length);
            if (!range)
                return fail(abi::status::invalid_address);
            parts.push_back(*range);
            total += s.length;  // each at most the RAM's size: no overflow
        }
        if (total < header_length || total > n.config().mtu + header_length)
            return fail(abi::status::invalid_param);
        return sent(n.send(parts), total);
    }

    int wait_fd() const override { return event_fd_; }
    bool pending(bool readable) override
    {
        if (readable) {
            uint64_t count;
            (void)!read(event_fd_, &count, sizeof count);
        }
        return std::any_of(interfaces_.begin(), interfaces_.end(), [](const network* n) { return n->ready(); });
    }
    std::string name() const override { return "NET (network interfaces)"; }

    std::vector<network*> interfaces_;
    event_hub& events_;
    int event_fd_ = -1;
};

}  // namespace

std::unique_ptr<service_module> make_net_module(const service_context& context)
{
    return std::make_unique<net_module>(context);
}

}  // namespace hbvm
