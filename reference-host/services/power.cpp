// POWER: shutdown with an exit code, reboot, and why this boot happened. The machine acts on the request after
// the call; the guest never sees these calls return on success.
#include "services/services.hpp"

namespace hbvm {

void register_power_service(dispatcher& d, const power_state& state)
{
    using fn = abi::function;
    d.add(fn::power_shutdown, [](const call& c) {
        call_result r = succeed();
        r.request = {machine_request::kind::shutdown, uint8_t(c.arg(0)), {}};
        return r;
    });
    d.add(fn::power_reboot, [](const call&) {
        call_result r = succeed();
        r.request = {machine_request::kind::reboot, 0, {}};
        return r;
    });
    d.add(fn::power_reset_reason, [&state](const call&) { return succeed(state.reset_reason); });
}

}  // namespace hbvm
