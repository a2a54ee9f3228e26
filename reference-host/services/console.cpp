// CONSOLE: bytes to and from the user's terminal.
#include "services/services.hpp"

#include "core/event_hub.hpp"
#include "devices/device_set.hpp"
#include "devices/terminal.hpp"

namespace hbvm {

namespace {

// EVT source 32: pending while input waits for CONSOLE.read (spec 13.1), so a
// shell sleeps until a key arrives instead of polling.
class console_input_source final : public event_source {
public:
    explicit console_input_source(terminal& t) : terminal_(t) {}
    int wait_fd() const override { return terminal_.input_fd(); }
    bool pending(bool readable) override { return readable ? terminal_.input_waiting() : terminal_.input_held(); }
    std::string name() const override { return terminal_.input_fd() < 0 ? "console input, at its end" : "console input"; }

private:
    terminal& terminal_;
};

class console_module final : public service_module {
public:
    explicit console_module(const service_context& context)
        : terminal_(context.devices.one<terminal>("console")), events_(context.events), input_(terminal_)
    {
        events_.attach(unsigned(abi::evt_source::console_input), input_);
    }

    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::console_write, [this](const call& c) {
            std::span<const std::byte> bytes = c.in_buffer(0);
            return terminal_.write(bytes) ? succeed(bytes.size()) : fail(abi::status::io_error);
        });
        d.add(fn::console_read, [this](const call& c) {
            long n = terminal_.read_available(c.out_buffer(0));
            events_.note_change();  // the input source's level may have dropped
            return n < 0 ? fail(abi::status::io_error) : succeed(uint64_t(n));
        });
        d.add(fn::console_input_state, [this](const call&) {
            const bool ended = terminal_.input_ended();
            events_.note_change();  // looking may have found bytes (pending) or the end
            return succeed(ended ? abi::console_input_state::ended : abi::console_input_state::open);
        });
    }

    // Nothing to reset, on purpose: the terminal is the user's, not the guest's.
    // What the user typed and the guest has not read yet stays for the next boot,
    // as it stays on a serial line when the machine behind it resets.
    void reset(boot_cause) override {}

private:
    terminal& terminal_;
    event_hub& events_;
    console_input_source input_;
};

}  // namespace

std::unique_ptr<service_module> make_console_module(const service_context& context)
{
    return std::make_unique<console_module>(context);
}

}  // namespace hbvm
