// The config file of `hbvm run --config FILE`: TOML, with the options of the
// command line as keys (mem = "256M", accel = "soft", trace = true), the image
// and the kernel arguments (image = "k.elf", kernel-arguments = ["a", "b c"]),
// and the devices as arrays of tables named after their class, whose keys are
// the class's (a [[disk]] with path = "a,b.img": a path the command line cannot
// give). The command line overrides the file: an option given in both takes
// the command line's value, and a device class given on the command line
// replaces that class's devices of the file.
#ifndef HBVM_CLI_CONFIG_FILE_HPP
#define HBVM_CLI_CONFIG_FILE_HPP

#include "cli/options.hpp"

#include <string>

namespace hbvm {

// Reads `path` into `options`. Throws hbvm::error (usage) naming the file, the
// line and the problem ("vm.toml:3: mem: guest RAM must be between 2M and 64G").
void load_config_file(const std::string& path, run_options& options);

}  // namespace hbvm

#endif
