// CONSOLE: bytes to and from the user's terminal.
#include "services/services.hpp"

#include "devices/terminal.hpp"

namespace hbvm {

namespace {

class console_module final : public service_module {
public:
    explicit console_module(const service_context& context) : terminal_(context.console_terminal) {}

    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::console_write, [this](const call& c) {
            std::span<const std::byte> bytes = c.in_buffer(0);
            return terminal_.write(bytes) ? succeed(bytes.size()) : fail(abi::status::io_error);
        });
        d.add(fn::console_read, [this](const call& c) {
            long n = terminal_.read_available(c.out_buffer(0));
            return n < 0 ? fail(abi::status::io_error) : succeed(uint64_t(n));
        });
    }

    // Nothing to reset, on purpose: the terminal is the user's, not the guest's.
    // What the user typed and the guest has not read yet stays for the next boot,
    // as it stays on a serial line when the machine behind it resets.
    void reset(boot_cause) override {}

private:
    terminal& terminal_;
};

}  // namespace

std::unique_ptr<service_module> make_console_module(const service_context& context)
{
    return std::make_unique<console_module>(context);
}

}  // namespace hbvm
