// POWER: shutdown with an exit code, reboot, and why this boot happened. The
// handlers ask the machine to power off or reset (core/dispatcher.hpp); the guest
// never sees those calls return on success. The reset reason is this module's
// state, and the one thing it carries across a reset.
#include "services/services.hpp"

#include <string>

namespace hbvm {

namespace {

class power_module final : public service_module {
public:
    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::power_shutdown, [](const call& c) {
            const uint8_t exit_code = uint8_t(c.arg(0));
            return request_power_off(exit_code, "the guest shut down (POWER.shutdown): exit status " +
                                                    std::to_string(exit_code));
        });
        d.add(fn::power_reboot, [this](const call&) {
            reboot_requested_ = true;
            return request_reset("guest requested a reboot");
        });
        d.add(fn::power_reset_reason, [this](const call&) { return succeed(reset_reason_); });
    }

    void reset(boot_cause cause) override
    {
        // Kept across the reset on purpose: the next boot asks why it happened. A
        // reset POWER.reboot did not ask for (none exists yet) reports power-on,
        // the only other reason the spec defines.
        reset_reason_ = cause == boot_cause::reset && reboot_requested_ ? abi::reset_guest_reboot
                                                                        : abi::reset_power_on;
        reboot_requested_ = false;
    }

private:
    uint64_t reset_reason_ = abi::reset_power_on;  // POWER.reset_reason for the current boot
    bool reboot_requested_ = false;                // POWER.reboot was served since the last reset
};

}  // namespace

std::unique_ptr<service_module> make_power_module(const service_context&)
{
    return std::make_unique<power_module>();
}

}  // namespace hbvm
