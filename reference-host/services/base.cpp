// BASE: spec version, service probing, implementation identity. What it reports
// about the other services it asks the dispatcher, which knows what the profile
// offers and which functions have handlers.
#include "services/services.hpp"

#include <algorithm>

namespace hbvm {

namespace {

class base_module final : public service_module {
public:
    explicit base_module(const service_context& context) : identity_(context.identity) {}

    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::base_get_spec_version, [](const call&) { return succeed(abi::spec_version); });
        d.add(fn::base_probe_service, [&d](const call& c) { return succeed(d.service_version(c.arg(0))); });
        // What the profile permits, as the dispatcher applies it: one source, so
        // what a guest is told is what it gets.
        d.add(fn::base_permitted_functions, [&d](const call& c) { return succeed(d.permitted_functions(c.arg(0))); });
        d.add(fn::base_rate_limit, [&d](const call& c) { return succeed(d.rate_limit(c.arg(0))); });
        d.add(fn::base_get_impl_id, [this](const call&) { return succeed(identity_.id); });
        d.add(fn::base_get_impl_version, [this](const call&) { return succeed(identity_.version); });
        d.add(fn::base_get_impl_name, [this](const call& c) {
            // Copies what fits and reports the full length, so a guest can size its buffer.
            const std::string& name = identity_.name;
            std::span<std::byte> out = c.out_buffer(0);
            std::copy_n(reinterpret_cast<const std::byte*>(name.data()), std::min(out.size(), name.size()),
                        out.begin());
            return succeed(name.size());
        });
    }

    // Nothing to reset: the identity is fixed for the life of the host.
    void reset(boot_cause) override {}

private:
    const implementation_identity identity_;
};

}  // namespace

std::unique_ptr<service_module> make_base_module(const service_context& context)
{
    return std::make_unique<base_module>(context);
}

}  // namespace hbvm
