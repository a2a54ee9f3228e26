// Service modules: one per service (services/<name>.cpp), each with the same shape —
// its devices and state, the handlers of its functions, and a reset hook the
// machine runs before every boot. The machine finds them in the registry
// (services/registry.cpp) and knows none of them by name: a module reaches the
// host through the service_context it is created with, and asks the machine to
// power off or reset through the requests its handlers return (core/dispatcher.hpp:
// request_power_off, request_reset).
#ifndef HBVM_SERVICES_SERVICES_HPP
#define HBVM_SERVICES_SERVICES_HPP

#include "core/dispatcher.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hbvm {

class clock_source;
class device_set;
class event_hub;

struct implementation_identity {
    uint64_t id;       // BASE.get_impl_id
    uint64_t version;  // BASE.get_impl_version: (major << 32) | (minor << 16) | patch
    std::string name;  // BASE.get_impl_name
};

// Everything of the host a module may use. The resources it names outlive the
// modules (the machine owns them), so a module may keep references to them. A
// new service finds its back ends among the devices; a host resource that is no
// device (the clock, the event path) is added here.
struct service_context {
    // The machine's devices (devices/device_set.hpp): a module takes the ones it
    // serves by class name, e.g. devices.all<disk>("disk").
    const device_set& devices;
    const clock_source& clock;
    implementation_identity identity;
    uint64_t ram_size;  // guest RAM in bytes, fixed for the machine's life
    event_hub& events;  // the one event path: services attach their sources (core/event_hub.hpp)
};

// Why the guest is about to boot.
enum class boot_cause {
    power_on,  // the first boot of this machine
    reset,     // a boot after a reset the guest asked for
};

class service_module {
public:
    virtual ~service_module() = default;

    // Adds the handler of every function of the module's service. Handlers may
    // keep references to the module and to `d`: the module lives as long as the
    // dispatcher uses them.
    virtual void add_handlers(dispatcher& d) = 0;

    // Runs before every boot, the first one included, before the guest's first
    // instruction: returns the module's devices and state to what a fresh boot
    // sees. A module that keeps something across a reset (POWER its reset reason)
    // does so here, on purpose and with a comment saying why. Pure virtual so that
    // no module forgets to say what a reset means for it.
    virtual void reset(boot_cause cause) = 0;
};

struct service_module_entry {
    const char* name;  // for diagnostics and tests: the service's name in the ABI table
    std::function<std::unique_ptr<service_module>(const service_context&)> create;
};

// Every service module of the reference host, in the order their reset hooks run.
std::span<const service_module_entry> service_registry();

// The modules of one machine: created from a registry, their handlers added to
// one dispatcher.
class service_set {
public:
    // The set keeps its own copy of `context`, which its modules refer to; `d`
    // must outlive every call to their handlers.
    service_set(std::span<const service_module_entry> registry, const service_context& context, dispatcher& d);
    service_set(const service_set&) = delete;  // the modules refer to context_
    service_set& operator=(const service_set&) = delete;

    // Runs every module's reset hook, in registry order. The machine calls this
    // before every boot.
    void reset(boot_cause cause);

    size_t size() const { return modules_.size(); }

private:
    const service_context context_;
    std::vector<std::unique_ptr<service_module>> modules_;
};

}  // namespace hbvm

#endif
