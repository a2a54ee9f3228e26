#include "core/discovery.hpp"

#include <hyperbios/abi.hpp>

#include <cstring>
#include <stdexcept>

namespace hbvm {

namespace abi = hyperbios::abi;

std::vector<cpuid_entry> discovery_leaves(const discovery_info& info)
{
    if (info.vendor.size() != 12)
        throw std::logic_error("discovery: the vendor signature must be exactly 12 bytes");
    uint32_t vendor[3];
    std::memcpy(vendor, info.vendor.data(), 12);
    const uint32_t base = info.base_leaf;
    return {
        {base + abi::cpuid_leaf_vendor, 0, base + abi::cpuid_leaf_count - 1, vendor[0], vendor[1], vendor[2]},
        {base + abi::cpuid_leaf_interface, 0, abi::interface_signature, info.interface_version, info.gates, info.port},
        {base + abi::cpuid_leaf_services, 0, info.service_bitmap, 0, 0, 0},
    };
}

}  // namespace hbvm
