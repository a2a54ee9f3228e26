// Profiles: what a host offers, as data. The dispatcher applies the profile in one
// place and discovery reflects it.
#ifndef HBVM_POLICY_PROFILE_HPP
#define HBVM_POLICY_PROFILE_HPP

#include <hyperbios/abi.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace hbvm {

struct profile {
    std::string name;
    std::string description;
    std::vector<hyperbios::abi::service> services;   // offered to the guest
    std::vector<hyperbios::abi::function> denied;    // present, but refused with DENIED

    bool offers(hyperbios::abi::service s) const;
    bool denies(hyperbios::abi::function f) const;
};

// Every service of the ABI, nothing denied.
const profile& full_profile();

// The named profile, or nullptr.
const profile* find_profile(std::string_view name);

// Names of all profiles, for --help and error messages.
std::vector<std::string> profile_names();

}  // namespace hbvm

#endif
