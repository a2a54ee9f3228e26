// Finds and loads back-end modules (devices/module.hpp) when a device of theirs
// is chosen, and never before: nothing here runs for a console-only guest.
#ifndef HBVM_DEVICES_MODULE_LOADER_HPP
#define HBVM_DEVICES_MODULE_LOADER_HPP

#include "devices/module.hpp"

#include <functional>
#include <string>
#include <vector>

namespace hbvm {

// Where hbvm looks for hbvm-<name>.so, the first folder that has it wins: each
// folder of $HBVM_MODULE_PATH (colon-separated), then lib/hyperbios/modules
// beside the folder hbvm runs from (<prefix>/bin/hbvm finds
// <prefix>/lib/hyperbios/modules: the build tree's build/bin and an installed
// /usr/bin alike, wherever the tree or the prefix was moved).
std::vector<std::string> module_search_path();

// Loads hbvm-<name>.so from the first folder of `search_path` that has it, once
// per process (a module stays loaded until exit: its devices' code lives in it),
// and returns its entry. Throws hbvm::error (host_failure) naming the file, the
// folders searched, and what to do: a module not found, one that does not load
// (a library of its missing), or one built for another interface or hbvm version.
// `wanted_by` names what asked for it in messages: "--display sdl".
const module_entry& load_module(const std::string& name, const std::string& wanted_by,
                                const std::vector<std::string>& search_path = module_search_path());

// True once a module was loaded in this process.
bool any_module_loaded();

// A device_class::create for a class whose devices a module makes: loads the
// module when the first device of the class is created, then hands it the
// settings. The class entry (name, help, keys, checks) stays in hbvm, so --help,
// the config file and --print-config need no module.
std::function<std::vector<std::unique_ptr<device>>(const std::vector<device_settings>&, const device_host&)>
create_in_module(const char* module, const char* device_class);

}  // namespace hbvm

#endif
