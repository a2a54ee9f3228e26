// The device layer's half of a profile: what the profile says about RAM and
// devices, applied to the machine's configuration before any device exists, so
// that each device is created with the profile's limits and its info call
// reports them (a disk's window is its capacity, a display's largest mode the
// profile's). The dispatcher applies the other half (services, DENIED, rate
// limits) on every call.
#ifndef HBVM_POLICY_APPLY_HPP
#define HBVM_POLICY_APPLY_HPP

#include "core/fault_injection.hpp"
#include "policy/profile.hpp"
#include "vm/machine.hpp"

namespace hbvm {

// Applies `p` to `config`:
//   - RAM: the profile's cap wins. A --mem above it is a usage error; without
//     --mem (`memory_given` false) the RAM is the default or the cap, whichever
//     is smaller.
//   - Devices of a service the profile does not offer are left out, each with a
//     note (the guest could not reach them).
//   - A disk with a window gets first-sector=, sectors= and, for a read-only
//     window, ro; a display gets the profile's largest mode as max-width= and
//     max-height=. A user's own value beyond the profile's is a usage error.
//   - A network back end the profile does not allow is a usage error.
// Errors name the option, the profile's rule (file:line) and the fix.
void apply_profile(const profile& p, machine_config& config, bool memory_given);

// After the device classes' checks, which add devices by default (a display
// when none was given): leaves out those of services the profile does not
// offer (nobody asked for them, so nothing is said), and gives a default
// display the profile's largest mode. `injected` is hbvm --inject-fault's.
void apply_profile_to_defaults(const profile& p, std::vector<device_settings>& devices, fault injected);

}  // namespace hbvm

#endif
