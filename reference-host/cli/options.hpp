// The options of `hbvm run`, in one table that serves the command line
// (`--mem 256M`), the config file (`mem = "256M"`, cli/config_file.hpp) and the
// resolved-configuration dump (`--print-config`): an option is written once, so
// the three cannot disagree. Devices (`--disk`, `[[disk]]`) come from the device
// registry instead (devices/registry.cpp).
#ifndef HBVM_CLI_OPTIONS_HPP
#define HBVM_CLI_OPTIONS_HPP

#include "vm/machine.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hbvm {

// What `hbvm run` was told, from the config file and the command line.
struct run_options {
    machine_config machine;
    std::optional<std::string> image;                          // IMAGE (the machine's image_path once resolved)
    std::optional<std::vector<std::string>> kernel_arguments;  // after `--`, or kernel-arguments = [...]
    std::string end_report_path;                               // --end-report ("" without)
    std::string screenshot_path;                               // --screenshot: display 0's screenshot= ("" without)
    std::string control_address;                               // --control unix:PATH ("" without)
    std::string audit_path;                                    // --audit FILE ("" without): policy/audit.hpp
    std::string config_path;                                   // --config ("" without)
    bool print_config = false;                                 // --print-config
    bool memory_given = false;                                 // --mem or mem = (a profile's cap applies either way)
};

struct run_option {
    const char* name;  // "mem": --mem on the command line, mem = ... in a config file
    bool takes_value;  // false: a flag (--trace; trace = true in a file)
    bool in_file;      // false: command line only (--config, --print-config)
    // Sets the option from its text ("256M"; "true" or "false" for a flag).
    // Throws hbvm::error (usage) with what is wrong; the caller says where.
    std::function<void(run_options&, const std::string&)> set;
    // The option's resolved value as a TOML value ("134217728", "\"soft\""), or
    // "" when it has none to show (an unset --end-report).
    std::function<std::string(const run_options&)> show;
};

// Every option of `hbvm run` but the devices', in --help's order.
const std::vector<run_option>& run_option_table();

// The option named `name` ("mem"), or nullptr.
const run_option* find_run_option(const std::string& name);

// A TOML string with the characters TOML escapes escaped.
std::string toml_string(const std::string& text);

// The resolved configuration as a TOML config file that gives the same run:
// every option with its value (defaults included), the kernel arguments, and
// every device with its checked settings, in the registry's key order.
std::string dump_config(const run_options& options);

}  // namespace hbvm

#endif
