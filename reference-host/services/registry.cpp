// The registry of service modules, and the set of them one machine runs.
//
// A list rather than self-registering static objects: hbvm_core is a static
// library, and the linker drops an object file nothing refers to, so a module
// that only registered itself from a static initialiser could silently vanish
// from hbvm (and its order would depend on the link). Here the order is written
// down, and it is the order of the reset hooks.
#include "services/services.hpp"

#include <stdexcept>

namespace hbvm {

// One line per module, in reset order; services/<name>.cpp defines make_<name>_module.
#define HBVM_SERVICE_MODULES(X) \
    X(base)                     \
    X(console)                  \
    X(time)                     \
    X(power)                    \
    X(block)                    \
    X(mem)                      \
    X(rng)                      \
    X(evt)                      \
    X(dsp)                      \
    X(inp)                      \
    X(net)                      \
    X(aud)

#define HBVM_DECLARE_MODULE(name) std::unique_ptr<service_module> make_##name##_module(const service_context&);
HBVM_SERVICE_MODULES(HBVM_DECLARE_MODULE)
#undef HBVM_DECLARE_MODULE

std::span<const service_module_entry> service_registry()
{
#define HBVM_MODULE_ENTRY(name) service_module_entry{#name, &make_##name##_module},
    static const service_module_entry registry[] = {HBVM_SERVICE_MODULES(HBVM_MODULE_ENTRY)};
#undef HBVM_MODULE_ENTRY
    return registry;
}

service_set::service_set(std::span<const service_module_entry> registry, const service_context& context,
                         dispatcher& d)
    : context_(context)
{
    for (const service_module_entry& entry : registry) {
        std::unique_ptr<service_module> module = entry.create(context_);
        if (!module)
            throw std::logic_error(std::string("service module '") + entry.name + "' was not created");
        module->add_handlers(d);
        modules_.push_back(std::move(module));
    }
}

void service_set::reset(boot_cause cause)
{
    for (const std::unique_ptr<service_module>& module : modules_)
        module->reset(cause);
}

}  // namespace hbvm
