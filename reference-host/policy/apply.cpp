#include "policy/apply.hpp"

#include "core/diagnostics.hpp"
#include "core/error.hpp"
#include "core/fault_injection.hpp"

#include <algorithm>

namespace hbvm {

namespace abi = hyperbios::abi;

namespace {

[[noreturn]] void refuse(const std::string& what) { throw error(exit_status::usage, what); }

std::string size_text(uint64_t bytes)
{
    if (bytes % (1ull << 30) == 0)
        return std::to_string(bytes >> 30) + "G";
    if (bytes % (1ull << 20) == 0)
        return std::to_string(bytes >> 20) + "M";
    return std::to_string(bytes >> 10) + "K";
}

std::string rule(const profile& p, const rule_source& s)
{
    return "profile " + p.name + (s.where.empty() ? "" : " (" + s.where + ")");
}

// The service whose calls reach a device class's devices (none: always offered).
std::optional<abi::service> service_of(const std::string& device_class)
{
    if (device_class == "disk")
        return abi::service::block;
    if (device_class == "display")
        return abi::service::dsp;
    if (device_class == "input" || device_class == "input-feed")
        return abi::service::inp;
    if (device_class == "net")
        return abi::service::net;
    if (device_class == "audio")
        return abi::service::aud;
    return std::nullopt;
}

void set(device_settings& d, const std::string& key, const std::string& value)
{
    for (auto& [k, v] : d.values)
        if (k == key) {
            v = value;
            return;
        }
    d.values.emplace_back(key, value);
}

// A display's largest mode: the profile's, or the user's when it is smaller.
void cap_display(const profile& p, device_settings& d, const char* key, uint32_t cap)
{
    if (cap == 0)
        return;
    if (const auto given = d.get(key)) {
        char* end = nullptr;
        const unsigned long v = std::strtoul(given->c_str(), &end, 10);
        if (*end == 0 && !given->empty() && v > cap)
            refuse(d.origin + ": " + key + "=" + *given + " is beyond what " + rule(p, p.max_display_source) +
                   " allows (" + std::to_string(cap) + "); give at most " + std::to_string(cap) + ", or another profile");
        if (*end == 0 && !given->empty())
            return;  // a value the display's own check takes or refuses
    }
    set(d, key, std::to_string(cap));
}

}  // namespace

void apply_profile_to_defaults(const profile& p, std::vector<device_settings>& devices, fault injected)
{
    std::erase_if(devices, [&](const device_settings& d) {
        const auto s = service_of(d.device_class);
        return s && !p.offers(*s);
    });
    // The display made when none was given gets the profile's largest mode too
    // (a display given gets it, or keeps its own smaller one: nothing changes).
    if (injected != fault::policy_limit_unreported)
        for (device_settings& d : devices)
            if (d.device_class == "display") {
                cap_display(p, d, "max-width", p.max_display_width);
                cap_display(p, d, "max-height", p.max_display_height);
            }
}

void apply_profile(const profile& p, machine_config& config, bool memory_given)
{
    if (p.max_memory != 0 && config.memory_size > p.max_memory) {
        if (memory_given)
            refuse("--mem " + size_text(config.memory_size) + ": " + rule(p, p.max_memory_source) +
                   " caps guest RAM at " + size_text(p.max_memory) + " (the profile wins over --mem); give --mem " +
                   size_text(p.max_memory) + " or less, or another profile");
        config.memory_size = p.max_memory;
    }

    // Devices of services the profile does not offer: left out, said once per class.
    std::vector<std::string> left_out;
    std::erase_if(config.devices, [&](const device_settings& d) {
        const auto s = service_of(d.device_class);
        if (!s || p.offers(*s))
            return false;
        if (std::find(left_out.begin(), left_out.end(), d.device_class) == left_out.end()) {
            left_out.push_back(d.device_class);
            diagnostics::line("note: " + p.rule_for(*s) + ", so " + d.origin + " is left out (the guest could not reach it)");
        }
        return true;
    });

    // A window is a rule for disk N when it is given: ps3's read-only disk 1
    // concerns no machine with one disk, and says nothing to it.
    unsigned disk_index = 0;
    for (device_settings& d : config.devices) {
        if (d.device_class == "disk") {
            const unsigned index = disk_index++;
            const disk_window* w = p.window_of(index);
            if (!w)
                continue;
            // A value equal to the profile's is accepted: --print-config's
            // output, run again, gives the same run.
            const std::string first = std::to_string(w->first_sector);
            const std::optional<std::string> sectors =
                w->sectors ? std::optional<std::string>(std::to_string(*w->sectors)) : std::nullopt;
            if ((d.get("first-sector") && d.get("first-sector") != first) ||
                (d.get("sectors") && d.get("sectors") != sectors))
                refuse(d.origin + ": disk " + std::to_string(index) + "'s window is the profile's (" +
                       rule(p, w->source) + "); leave first-sector= and sectors= out, or use another profile");
            // --inject-fault policy-window-off-by-one: the window one sector early.
            const bool early = config.injected_fault == fault::policy_window_off_by_one && w->first_sector > 0;
            set(d, "first-sector", std::to_string(w->first_sector - (early ? 1 : 0)));
            if (sectors)
                set(d, "sectors", *sectors);
            if (w->read_only)
                set(d, "ro", "true");
        } else if (d.device_class == "display" && config.injected_fault != fault::policy_limit_unreported) {
            cap_display(p, d, "max-width", p.max_display_width);
            cap_display(p, d, "max-height", p.max_display_height);
        } else if (d.device_class == "net") {
            const std::string backend = d.get("backend").value_or("");
            const std::string kind = backend.substr(0, backend.find(':'));
            if (!p.allows_net_backend(kind)) {
                std::string allowed;
                for (const std::string& k : *p.net_backends)
                    allowed += (allowed.empty() ? "" : ", ") + k;
                refuse(d.origin + ": " + rule(p, p.net_backends_source) + " does not allow the network back end '" +
                       kind + "' (it allows " + (allowed.empty() ? std::string("none") : allowed) +
                       "); a profile file that lists it does");
            }
        }
    }
}

}  // namespace hbvm
