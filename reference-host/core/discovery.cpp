#include "core/discovery.hpp"

#include <hyperbios/abi.hpp>

#include <cstring>
#include <stdexcept>
#include <string>

namespace hbvm {

namespace abi = hyperbios::abi;

namespace {

uint32_t& register_of(cpuid_entry& e, abi::cpuid_reg r)
{
    switch (r) {
    case abi::cpuid_reg::eax: return e.eax;
    case abi::cpuid_reg::ebx: return e.ebx;
    case abi::cpuid_reg::ecx: return e.ecx;
    case abi::cpuid_reg::edx: return e.edx;
    }
    throw std::logic_error("discovery: unknown CPUID register");
}

// Puts `value` into the `occurrence`-th field named `name` (vendor_signature has
// three), where the discovery table of the ABI says it goes. Bits no field
// covers stay zero (HB-GEN-002).
void place(std::vector<cpuid_entry>& leaves, const char* name, uint32_t value, unsigned occurrence = 0)
{
    for (const abi::discovery_field_desc& f : abi::discovery_fields) {
        if (std::strcmp(f.name, name) != 0 || occurrence-- != 0)
            continue;
        const uint32_t mask = abi::field_mask(f);
        if ((value << f.first_bit) & ~mask)
            throw std::logic_error(std::string("discovery: value does not fit the field ") + name);
        register_of(leaves.at(f.leaf), f.reg) |= value << f.first_bit;
        return;
    }
    throw std::logic_error(std::string("discovery: no field ") + name + " in the ABI table");
}

}  // namespace

std::vector<cpuid_entry> discovery_leaves(const discovery_info& info)
{
    if (info.vendor.size() != 12)
        throw std::logic_error("discovery: the vendor signature must be exactly 12 bytes");
    uint32_t vendor[3];
    std::memcpy(vendor, info.vendor.data(), 12);
    std::vector<cpuid_entry> leaves;
    for (uint32_t leaf = 0; leaf < abi::cpuid_leaf_count; ++leaf)
        leaves.push_back({info.base_leaf + leaf, 0, 0, 0, 0, 0});
    place(leaves, "max_leaf", info.base_leaf + abi::cpuid_leaf_count - 1);
    for (unsigned i = 0; i < 3; ++i)
        place(leaves, "vendor_signature", vendor[i], i);
    place(leaves, "interface_signature", abi::interface_signature);
    place(leaves, "interface_version", info.interface_version);
    place(leaves, "gates", info.gates);
    place(leaves, "gate_port", info.port);
    place(leaves, "service_bitmap", info.service_bitmap);
    return leaves;
}

}  // namespace hbvm
