#include "cli/options.hpp"

#include "core/error.hpp"
#include "core/guest_memory.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace hbvm {

namespace {

[[noreturn]] void bad(const std::string& what) { throw error(exit_status::usage, what); }

uint64_t parse_size(const std::string& text)
{
    errno = 0;
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
    uint64_t scale = 1;
    std::string_view suffix(end);
    if (suffix == "K" || suffix == "k")
        scale = 1ull << 10;
    else if (suffix == "M" || suffix == "m")
        scale = 1ull << 20;
    else if (suffix == "G" || suffix == "g")
        scale = 1ull << 30;
    else if (!suffix.empty())
        bad("expected a number with an optional K, M or G suffix, e.g. 256M");
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) || errno == ERANGE)
        bad("expected a number with an optional K, M or G suffix, e.g. 256M");
    const uint64_t bytes = value * scale;
    // RAM above 3 GiB lies from 4 GiB on (core/guest_memory.hpp, ram_layout); the
    // limit keeps the host's own tables for guest RAM small (accel/soft.cpp).
    if (value > ram_layout::max_size / scale || bytes < ram_layout::min_size || bytes > ram_layout::max_size)
        bad("guest RAM must be between 2M and 64G");
    if (bytes % 4096 != 0)
        bad("guest RAM must be a multiple of 4K");
    return bytes;
}

// A decimal number of seconds: digits, optionally a point and more digits. No
// signs, spaces, exponents or hexadecimal, which strtod would accept.
double parse_seconds(const std::string& text)
{
    constexpr double max_seconds = 365.0 * 24 * 3600;
    const size_t point = text.find('.');
    const std::string whole = text.substr(0, point);
    const std::string fraction = point == std::string::npos ? "" : text.substr(point + 1);
    auto digits = [](const std::string& t) { return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos; };
    const bool well_formed = digits(whole) && (point == std::string::npos || digits(fraction));
    const double value = well_formed ? std::strtod(text.c_str(), nullptr) : -1;
    if (!well_formed || !std::isfinite(value))
        bad("expected a number of seconds, e.g. 10 or 0.5");
    if (value > max_seconds)
        bad("at most 31536000 seconds (a year)");
    return value;
}

bool parse_flag(const std::string& text)
{
    if (text != "true" && text != "false")
        bad("expected true or false, not '" + text + "'");
    return text == "true";
}

const char* accelerator_name(accelerator_kind kind)
{
    switch (kind) {
    case accelerator_kind::automatic: return "auto";
    case accelerator_kind::soft: return "soft";
    case accelerator_kind::kvm: return "kvm";
    }
    return "auto";
}

std::string show_flag(bool value) { return value ? "true" : "false"; }

std::string show_seconds(double seconds)
{
    char text[64];
    if (seconds == std::floor(seconds) && seconds < 1e15)
        std::snprintf(text, sizeof text, "%.0f", seconds);
    else
        std::snprintf(text, sizeof text, "%.17g", seconds);
    return text;
}

std::vector<run_option> make_table()
{
    return {
        {"mem", true, true,
         [](run_options& o, const std::string& v) {
             o.machine.memory_size = parse_size(v);
             o.memory_given = true;
         },
         [](const run_options& o) { return std::to_string(o.machine.memory_size); }},
        {"accel", true, true,
         [](run_options& o, const std::string& v) {
             const auto kind = parse_accelerator_kind(v);
             if (!kind)
                 bad("expected auto, kvm or soft");
             o.machine.accel = *kind;
         },
         [](const run_options& o) { return toml_string(accelerator_name(o.machine.accel)); }},
        {"timeout", true, true,
         [](run_options& o, const std::string& v) { o.machine.timeout_seconds = parse_seconds(v); },
         [](const run_options& o) { return show_seconds(o.machine.timeout_seconds); }},
        {"trace", false, true, [](run_options& o, const std::string& v) { o.machine.trace = parse_flag(v); },
         [](const run_options& o) { return show_flag(o.machine.trace); }},
        {"stats", false, true, [](run_options& o, const std::string& v) { o.machine.stats = parse_flag(v); },
         [](const run_options& o) { return show_flag(o.machine.stats); }},
        {"end-report", true, true,
         [](run_options& o, const std::string& v) {
             if (v.empty())
                 bad("needs a file name");
             o.end_report_path = v;
         },
         [](const run_options& o) { return o.end_report_path.empty() ? "" : toml_string(o.end_report_path); }},
        {"screenshot", true, true,
         [](run_options& o, const std::string& v) {
             if (v.empty())
                 bad("needs a file name");
             o.screenshot_path = v;
         },
         // Shown as display 0's screenshot key once it is applied (main.cpp).
         [](const run_options& o) { return o.screenshot_path.empty() ? "" : toml_string(o.screenshot_path); }},
        {"profile", true, true,
         [](run_options& o, const std::string& v) { o.machine.policy = resolve_profile(v); },
         [](const run_options& o) {
             // A built-in by its name, a file by its path: either gives the same run.
             return toml_string(o.machine.policy->path.rfind("builtin:", 0) == 0 ? o.machine.policy->name
                                                                                : o.machine.policy->path);
         }},
        {"audit", true, true,
         [](run_options& o, const std::string& v) {
             if (v.empty())
                 bad("needs a file name");
             o.audit_path = v;
         },
         [](const run_options& o) { return o.audit_path.empty() ? "" : toml_string(o.audit_path); }},
        {"inject-fault", true, true,
         [](run_options& o, const std::string& v) {
             const auto f = parse_fault(v);
             if (!f)
                 bad("no such fault; 'hbvm --list-faults' names them");
             o.machine.injected_fault = *f;
         },
         [](const run_options& o) {
             for (const fault_info& f : all_faults())
                 if (f.id == o.machine.injected_fault)
                     return toml_string(f.name);
             return std::string();
         }},
        {"control", true, true,
         [](run_options& o, const std::string& v) {
             if (v.rfind("unix:", 0) != 0 || v.size() == 5)
                 bad("expected unix:PATH, e.g. unix:/tmp/vm.sock");
             o.control_address = v;
         },
         [](const run_options& o) { return o.control_address.empty() ? "" : toml_string(o.control_address); }},
        {"config", true, false, [](run_options& o, const std::string& v) { o.config_path = v; }, nullptr},
        {"print-config", false, false,
         [](run_options& o, const std::string& v) { o.print_config = parse_flag(v); }, nullptr},
    };
}

}  // namespace

const std::vector<run_option>& run_option_table()
{
    static const std::vector<run_option> table = make_table();
    return table;
}

const run_option* find_run_option(const std::string& name)
{
    for (const run_option& option : run_option_table())
        if (name == option.name)
            return &option;
    return nullptr;
}

std::string toml_string(const std::string& text)
{
    std::string quoted = "\"";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            quoted += '\\';
            quoted += c;
        } else if (u < 0x20 || u == 0x7F) {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\u%04X", unsigned(u));
            quoted += escape;
        } else {
            quoted += c;
        }
    }
    return quoted + "\"";
}

namespace {

// A setting's text as the TOML value that reads back as the same text: true and
// false and decimal integers bare (ro = true, sector = 4096), the rest quoted.
std::string toml_value(const std::string& text)
{
    const bool integer = !text.empty() && text.size() < 19 && text.find_first_not_of("0123456789") == std::string::npos &&
                         (text == "0" || text[0] != '0');
    return text == "true" || text == "false" || integer ? text : toml_string(text);
}

}  // namespace

std::string dump_config(const run_options& options)
{
    std::string out = "# The resolved configuration of this run: hbvm run --config FILE gives the same run.\n";
    out += "image = " + toml_string(options.machine.image_path) + "\n";
    out += "kernel-arguments = [";
    const std::vector<std::string> none;
    const std::vector<std::string>& arguments = options.kernel_arguments ? *options.kernel_arguments : none;
    for (size_t i = 0; i < arguments.size(); ++i) {
        if (i)
            out += ", ";
        out += toml_string(arguments[i]);
    }
    out += "]\n";
    for (const run_option& option : run_option_table()) {
        if (!option.in_file || !option.show)
            continue;
        const std::string value = option.show(options);
        if (!value.empty())
            out += std::string(option.name) + " = " + value + "\n";
    }
    for (const device_class& cls : options.machine.device_classes) {
        for (const device_settings& s : options.machine.devices) {
            if (s.device_class != cls.name || cls.keys.empty())
                continue;
            out += std::string("\n[[") + cls.name + "]]\n";
            for (const char* key : cls.keys)  // the class's order, whatever order the user gave
                if (const auto value = s.get(key))
                    out += std::string(key) + " = " + toml_value(*value) + "\n";
        }
    }
    return out;
}

}  // namespace hbvm
