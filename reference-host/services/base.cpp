// BASE: spec version, service probing, implementation identity.
#include "services/services.hpp"

#include <algorithm>

namespace hbvm {

void register_base_service(dispatcher& d, const implementation_identity& identity)
{
    using fn = abi::function;
    d.add(fn::base_get_spec_version, [](const call&) { return succeed(abi::spec_version); });
    d.add(fn::base_probe_service, [&d](const call& c) { return succeed(d.service_version(c.arg(0))); });
    d.add(fn::base_get_impl_id, [id = identity.id](const call&) { return succeed(id); });
    d.add(fn::base_get_impl_version, [v = identity.version](const call&) { return succeed(v); });
    d.add(fn::base_get_impl_name, [name = identity.name](const call& c) {
        // Copies what fits and reports the full length, so a guest can size its buffer.
        std::span<std::byte> out = c.out_buffer(0);
        std::copy_n(reinterpret_cast<const std::byte*>(name.data()), std::min(out.size(), name.size()), out.begin());
        return succeed(name.size());
    });
}

}  // namespace hbvm
