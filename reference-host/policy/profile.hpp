// Profiles: what a host offers and what it refuses, as data (TOML files; the
// format is documented in reference-host/profiles/README.md). The dispatcher
// applies the call-word rules (services, DENIED, rate limits) in one place; the
// devices apply the limits (disk windows, the largest display, RAM) where they
// create what the guest sees, so that the info calls report them; the back-end
// rules are checked when the machine is configured. No service handler looks at
// the profile.
#ifndef HBVM_POLICY_PROFILE_HPP
#define HBVM_POLICY_PROFILE_HPP

#include <hyperbios/abi.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hbvm {

// Where a rule of a profile was written ("ps3.toml:12"), for --trace and errors.
struct rule_source {
    std::string where;  // "" for rules made in code (tests)
};

// A window of a disk's sectors, the only part the guest sees (a PS3 storage
// region): guest sector 0 is the disk's `first_sector`.
struct disk_window {
    unsigned disk = 0;                 // the host's disk index (the order of --disk)
    uint64_t first_sector = 0;         // in the disk's own sectors
    std::optional<uint64_t> sectors;   // nullopt: to the end of the disk
    bool read_only = false;            // the window is read-only whatever --disk says
    rule_source source;
};

// At most `per_second` calls of `call` are let through in any one second (spec
// 2.1, step 6); only functions whose error table has AGAIN can be limited.
struct rate_limit {
    hyperbios::abi::function call{};
    uint32_t per_second = 0;
    rule_source source;
};

struct profile {
    static constexpr int format_version = 1;  // profile_version = 1

    std::string name;
    std::string description;
    std::vector<hyperbios::abi::service> services;   // offered to the guest
    std::vector<hyperbios::abi::function> denied;    // present, but refused with DENIED
    std::string path = {};                           // the file it came from ("builtin:ps3" for built-ins)
    rule_source services_source = {};
    std::vector<rule_source> denied_sources = {};    // one per entry of `denied`
    std::vector<disk_window> disks = {};             // at most one per disk
    uint64_t max_memory = 0;                         // bytes of guest RAM at most; 0: no cap
    rule_source max_memory_source = {};
    uint32_t max_display_width = 0, max_display_height = 0;  // 0: no limit
    rule_source max_display_source = {};
    std::optional<std::vector<std::string>> net_backends = {};  // nullopt: any back end
    rule_source net_backends_source = {};
    std::vector<rate_limit> rates = {};

    bool offers(hyperbios::abi::service s) const;
    bool denies(hyperbios::abi::function f) const;
    const rate_limit* rate_of(hyperbios::abi::function f) const;   // nullptr: not limited
    const disk_window* window_of(unsigned disk) const;             // nullptr: the whole disk
    bool allows_net_backend(std::string_view kind) const;

    // The rule that makes a call word refused or absent, for --trace: "profile
    // ps3 (ps3.toml:7) denies power.reboot". "" when the profile does not
    // concern the call.
    std::string rule_for(hyperbios::abi::function f) const;
    std::string rule_for(hyperbios::abi::service s) const;
};

// Reads a profile from TOML text. Throws hbvm::error (usage) naming `where`
// (a file name), the line and the problem: "ps3.toml:12: denied: no function
// 'power.rebot'; the functions of power are shutdown, reboot, reset_reason".
profile parse_profile(std::string_view text, const std::string& where);

// Reads the profile file at `path` (errors as parse_profile's).
profile load_profile_file(const std::string& path);

// Every service of the ABI, nothing denied (the built-in full.toml).
const profile& full_profile();

// The built-in profile called `name`, or nullptr.
std::shared_ptr<const profile> find_profile(std::string_view name);

// A built-in profile's name, or a file: what --profile takes. Throws
// hbvm::error (usage) with what is wrong.
std::shared_ptr<const profile> resolve_profile(const std::string& name_or_path);

// Names of the built-in profiles, for --help and error messages.
std::vector<std::string> profile_names();

// The TOML text of a built-in profile, or nullptr (hbvm --print-profile NAME).
const char* builtin_profile_text(std::string_view name);

}  // namespace hbvm

#endif
