// Devices: the host's back ends behind the services (a disk file, the user's
// terminal, the debug port), created from their settings in one place — the
// device registry (devices/registry.cpp) — as service modules are from theirs.
// Nothing above names a device class: the command line and the config file turn
// `--disk a.img,ro` or a `[[disk]]` table into device_settings, the registry
// checks and creates the devices of each class, and a service module finds the
// ones it serves by class name in the device_set (service_context.devices).
//
// A new device class is one file here (its device type and its class entry),
// one line in registry.cpp, the service module that uses it, and its tests. A
// back end that needs a heavy library (SDL2, libslirp) keeps only its class
// entry here and creates its devices in a module loaded when chosen
// (devices/module.hpp): its folder in modules/ holds the rest.
#ifndef HBVM_DEVICES_DEVICE_HPP
#define HBVM_DEVICES_DEVICE_HPP

#include "accel/accelerator.hpp"
#include "control/command.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hbvm {

class fault_injector;

// What a user gave for one device: key = value pairs, in the order given, keys
// unique. A bare word on the command line is a key set to "true" (`ro`); the
// unnamed first part of a command-line value is the class's `first_key`.
struct device_settings {
    std::string device_class;  // the class's name: "disk"
    std::string origin;        // where they came from, for messages: "--disk a.img,ro"
    std::vector<std::pair<std::string, std::string>> values;

    // The value of `key`, or nullopt when it was not given. Inline: a back-end
    // module (devices/module.hpp) uses it and links nothing of hbvm_core.
    std::optional<std::string> get(const std::string& key) const
    {
        for (const auto& [k, v] : values)
            if (k == key)
                return v;
        return std::nullopt;
    }
};

// What a device may ask of the machine it belongs to.
struct device_host {
    std::function<void(const std::string&)> note;  // one "hbvm:" line on stderr
    // Ends the run from any thread, as the control socket's quit does;
    // `request` says why (stop::request's values, core/stop.hpp). Empty in tests
    // that make devices without a machine.
    std::function<void(int request)> stop;
    // hbvm run --stats: devices say what they counted when a run ends.
    bool stats = false;
};

// One back end. A device is created before the machine boots and lives as long
// as the machine; what a reset means for it, its service module's reset hook says.
class device {
public:
    virtual ~device() = default;

    // A port access of the guest that this device serves (the debug console's
    // 0xE9), or nullopt when the port is not its own.
    virtual std::optional<io_reply> on_io(const io_access&) { return std::nullopt; }

    // Writes out what the device holds back (a partial line), so that the host's
    // own diagnostics come after it.
    virtual void flush_output() {}

    // A run of the machine ended (each boot's end, and the last): a display
    // writes its screenshot. On the vCPU thread, the guest stopped.
    virtual void run_ended() {}

    // Takes what `hbvm --inject-fault` asks this kind of device to get wrong.
    virtual void take_faults(const fault_injector&) {}

    // The commands the device adds to the control socket (`--control`), by
    // name: a display's screenshot, a network's port forwarding. Names are
    // unique in the machine: a class with several devices puts their names in
    // (`net0-hostfwd-add`). A command runs on the socket's thread.
    virtual std::vector<std::pair<std::string, control_command>> control_commands() { return {}; }
};

// A kind of device: its name is the command-line option (`--disk`) and the
// config file's table (`[[disk]]`).
struct device_class {
    const char* name;
    // The help block of its option, as --help shows it (and hbvm(1) from it).
    const char* help;
    // The key of the unnamed first part of a command-line value ("path" for
    // `--disk a.img`), or nullptr when every part is key=value.
    const char* first_key;
    // The keys the class takes; a key not listed is a usage error that names them.
    std::vector<const char*> keys;
    // Keys a command-line value may give as a bare word, meaning "true" (`ro`).
    std::vector<const char*> flags;
    // The most devices of the class one machine takes (0: no limit).
    size_t most;
    // True when one device with no settings is made if none is given (the terminal).
    bool implicit;
    // Checks the settings of every device of the class together — values,
    // defaults, names unique — and fills in defaults. Throws hbvm::error (usage,
    // 64) naming the problem; nothing is opened yet.
    std::function<void(std::vector<device_settings>&)> check;
    // Creates the devices from checked settings, in order. Throws hbvm::error
    // (e.g. bad_disk, 66) naming the file or resource that failed.
    std::function<std::vector<std::unique_ptr<device>>(const std::vector<device_settings>&, const device_host&)>
        create;
};

// Every device class of the reference host, in the order they are created.
std::span<const device_class> device_registry();

// The class named `name` in `registry`, or nullptr.
const device_class* find_device_class(std::span<const device_class> registry, std::string_view name);

// Parses a command-line value of `cls`'s option ("a.img,ro,name=x") into
// settings; throws hbvm::error (usage) naming what is wrong. A value cannot hold
// a comma inside a part: the config file can.
device_settings parse_device_option(const device_class& cls, const std::string& text);

// Checks every class's settings (device_class::check), adds the implicit
// devices, and refuses settings of a class the registry does not have.
void check_device_settings(std::span<const device_class> registry, std::vector<device_settings>& settings);

}  // namespace hbvm

#endif
