// INP: keyboards and pointers (spec chapter 15). The queues and states live in
// the input devices (devices/input.hpp), fed from other threads (the control
// socket, a window); this module serves the calls, keeps an absolute pointer's
// range on its display's mode, and makes source 34 pending while a queue is not
// empty — an eventfd the devices write wakes a waiting guest.
#include "services/services.hpp"

#include "core/error.hpp"
#include "core/event_hub.hpp"
#include "devices/device_set.hpp"
#include "devices/display.hpp"
#include "devices/input.hpp"
#include "devices/input_feed.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>

namespace hbvm {

namespace {

class inp_module final : public service_module, private event_source {
public:
    explicit inp_module(const service_context& context)
        : inputs_(context.devices.all<input>("input")), displays_(context.devices.all<display>("display")),
          events_(context.events)
    {
        event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (event_fd_ < 0)
            throw std::runtime_error(std::string("eventfd failed: ") + std::strerror(errno));
        for (input* in : inputs_) {
            const int d = in->config().display;
            if (in->config().kind == abi::inp_kind::pointer && d >= 0) {
                if (size_t(d) >= displays_.size())
                    throw error(exit_status::usage, "--input pointer,name=" + in->config().name + ": there is no display " +
                                                        std::to_string(d) + " (give --display first)");
                display* shown = displays_[size_t(d)];
                in->display_size = [shown] { return std::pair{shown->width(), shown->height()}; };
            }
            in->set_event_handler([fd = event_fd_] {
                const uint64_t one = 1;
                (void)!write(fd, &one, sizeof one);
            });
        }
        // A window of display i types into every keyboard and points with the
        // pointers bound to it (and the relative ones).
        for (size_t i = 0; i < displays_.size(); ++i)
            displays_[i]->bind_inputs(inputs_, i);
        events_.attach(unsigned(abi::evt_source::inp_ready), *this);
        // A feed (--input-feed) is read on a thread of its own, so that its
        // records reach the queues while the guest runs, waits or is paused.
        const std::vector<input_feed*> feeds = context.devices.all<input_feed>("input-feed");
        if (!feeds.empty()) {
            quit_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            feed_thread_ = std::thread([this, fd = feeds.front()->fd()] { read_feed(fd); });
        }
    }

    ~inp_module() override
    {
        if (feed_thread_.joinable()) {
            const uint64_t one = 1;
            (void)!write(quit_fd_, &one, sizeof one);
            feed_thread_.join();
            close(quit_fd_);
        }
        for (input* in : inputs_)
            in->set_event_handler({});  // a window's thread must not write the fd closed below
        close(event_fd_);
    }

    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::inp_count, [this](const call&) { return succeed(inputs_.size()); });
        d.add(fn::inp_info, [this](const call& c) {
            const input& in = *inputs_[c.arg(0)];
            abi::inp_info record{};
            record.size = sizeof record;
            record.version = 1;
            record.kind = in.config().kind;
            record.display = 0xFFFF;
            if (in.config().kind == abi::inp_kind::pointer)
                record.buttons = 0x7;  // left, right, middle
            if (in.config().kind == abi::inp_kind::pointer && in.config().display >= 0) {
                const display& shown = *displays_[size_t(in.config().display)];
                record.display = uint16_t(in.config().display);
                record.abs_max_x = shown.width() - 1;
                record.abs_max_y = shown.height() - 1;
            }
            record.queue_length = uint32_t(in.config().queue_length);
            std::memcpy(record.name, in.config().name.data(), std::min(in.config().name.size(), sizeof record.name));
            std::span<std::byte> out = c.out_buffer(1);
            std::copy_n(reinterpret_cast<const std::byte*>(&record), std::min(out.size(), sizeof record), out.begin());
            return succeed(sizeof record);
        });
        d.add(fn::inp_ready, [this](const call& c) {
            uint64_t set = 0;
            const uint64_t first = c.arg(0);
            for (uint64_t i = 0; i < 64 && first + i < inputs_.size(); ++i)
                if (inputs_[first + i]->has_events())
                    set |= uint64_t(1) << i;
            return succeed(set);
        });
        d.add(fn::inp_read, [this](const call& c) {
            std::span<std::byte> out = c.out_buffer(1);
            const std::vector<abi::inp_event> taken = inputs_[c.arg(0)]->take(out.size() / sizeof(abi::inp_event));
            if (!taken.empty())  // a zero-length buffer has no address to copy to (UBSan: memcpy of null)
                std::memcpy(out.data(), taken.data(), taken.size() * sizeof(abi::inp_event));
            events_.note_change();
            return succeed(taken.size() * sizeof(abi::inp_event));
        });
        d.add(fn::inp_state, [this](const call& c) {
            const abi::inp_state record = inputs_[c.arg(0)]->state();
            std::span<std::byte> out = c.out_buffer(1);
            std::copy_n(reinterpret_cast<const std::byte*>(&record), std::min(out.size(), sizeof record), out.begin());
            return succeed(sizeof record);
        });
    }

    // Every queue empty; keys held stay down in the state (spec 15.8).
    void reset(boot_cause) override
    {
        for (input* in : inputs_)
            in->reset();
    }

private:
    // Whole records into the devices they name; a record for a device that does
    // not exist or of an unknown type is skipped. Ends at the feed's end (its
    // writer closed it) or when the module goes.
    void read_feed(int fd)
    {
        unsigned char buffer[64 * input_feed::record_size];
        size_t held = 0;
        for (;;) {
            pollfd fds[2] = {{fd, POLLIN, 0}, {quit_fd_, POLLIN, 0}};
            if (poll(fds, 2, -1) < 0) {
                if (errno == EINTR)
                    continue;
                return;
            }
            if (fds[1].revents)
                return;
            const ssize_t n = read(fd, buffer + held, sizeof buffer - held);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                return;  // the writer is gone: nothing more will come
            if (n < 0)
                continue;
            held += size_t(n);
            size_t at = 0;
            for (; held - at >= input_feed::record_size; at += input_feed::record_size) {
                uint16_t device, type, code, reserved;
                int32_t value;
                uint32_t unicode;
                const unsigned char* r = buffer + at;
                std::memcpy(&device, r, 2), std::memcpy(&type, r + 2, 2), std::memcpy(&code, r + 4, 2);
                std::memcpy(&reserved, r + 6, 2), std::memcpy(&value, r + 8, 4), std::memcpy(&unicode, r + 12, 4);
                if (device < inputs_.size() && type >= abi::inp_event_type::key && type <= abi::inp_event_type::wheel)
                    inputs_[device]->queue(type, code, value, unicode);
            }
            std::memmove(buffer, buffer + at, held - at);
            held -= at;
        }
    }

    int wait_fd() const override { return event_fd_; }
    bool pending(bool readable) override
    {
        if (readable) {
            uint64_t count;
            (void)!read(event_fd_, &count, sizeof count);
        }
        return std::any_of(inputs_.begin(), inputs_.end(), [](const input* in) { return in->has_events(); });
    }
    std::string name() const override { return "INP (input devices)"; }

    std::vector<input*> inputs_;
    std::vector<display*> displays_;
    event_hub& events_;
    int event_fd_ = -1;
    int quit_fd_ = -1;
    std::thread feed_thread_;
};

}  // namespace

std::unique_ptr<service_module> make_inp_module(const service_context& context)
{
    return std::make_unique<inp_module>(context);
}

}  // namespace hbvm
