// The CPUID leaves through which a guest discovers HyperBIOS (spec: Discovery).
#ifndef HBVM_CORE_DISCOVERY_HPP
#define HBVM_CORE_DISCOVERY_HPP

#include "accel/accelerator.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace hbvm {

struct discovery_info {
    uint32_t base_leaf;        // 0x4000xx00
    std::string vendor;        // exactly 12 bytes
    uint32_t interface_version;
    uint32_t gates;            // abi::gate_* flags
    uint16_t port;             // port-I/O gate
    uint32_t service_bitmap;
};

// Leaves base+0 .. base+2, each value in the field where the ABI table's
// discovery layout puts it; bits no field covers are zero.
std::vector<cpuid_entry> discovery_leaves(const discovery_info& info);

}  // namespace hbvm

#endif
