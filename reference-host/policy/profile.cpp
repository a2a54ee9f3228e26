#include "policy/profile.hpp"

#include <algorithm>

namespace hbvm {

namespace abi = hyperbios::abi;

bool profile::offers(abi::service s) const { return std::find(services.begin(), services.end(), s) != services.end(); }

bool profile::denies(abi::function f) const { return std::find(denied.begin(), denied.end(), f) != denied.end(); }

namespace {

std::vector<profile> make_profiles()
{
    profile full{"full", "every service of the specification", {}, {}};
    for (const abi::service_desc& s : abi::services)
        full.services.push_back(s.id);
    // A machine the guest cannot restart: POWER.reboot is present but refused,
    // as spec 8.3 allows. The conformance suite certifies it too, which is how
    // a DENIED call is shown to have no effect (HB-CALL-005).
    profile no_reboot = full;
    no_reboot.name = "no-reboot";
    no_reboot.description = "every service; POWER.reboot is refused with DENIED";
    no_reboot.denied.push_back(abi::function::power_reboot);
    // The least a useful host offers: an outside vendor's first host looks like
    // this, and the conformance driver certifies it CONFORMANT by default (its
    // profile is what the host advertises). The Restricted profile issue turns
    // profiles into data files.
    profile minimal{"minimal", "BASE, CONSOLE, TIME and POWER only", {}, {}};
    for (abi::service s : {abi::service::base, abi::service::console, abi::service::time, abi::service::power})
        minimal.services.push_back(s);
    return {full, no_reboot, minimal};
}

const std::vector<profile>& profiles()
{
    static const std::vector<profile> all = make_profiles();
    return all;
}

}  // namespace

const profile& full_profile() { return profiles().front(); }

const profile* find_profile(std::string_view name)
{
    for (const profile& p : profiles())
        if (p.name == name)
            return &p;
    return nullptr;
}

std::vector<std::string> profile_names()
{
    std::vector<std::string> names;
    for (const profile& p : profiles())
        names.push_back(p.name);
    return names;
}

}  // namespace hbvm
