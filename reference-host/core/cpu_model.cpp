#include "core/cpu_model.hpp"

#include <hyperbios/abi.hpp>

#include <cpuid.h>
#include <cstring>

namespace hbvm {

namespace {

// "HyperBIOS virtual CPU", the brand string of leaves 0x80000002..4 (48 bytes).
constexpr char brand[48] = "HyperBIOS virtual CPU";

// The features of `leaf` (register `reg`: 0 EAX .. 3 EDX) that this machine can
// give on both engines: the host CPU's own, and, with `supported` (KVM), KVM's.
// Masking by the host CPU on the software engine too keeps the two engines'
// CPUID identical on one machine.
uint32_t supported_mask(const std::vector<cpuid_entry>* supported, uint32_t leaf, int reg)
{
    const cpuid_entry host = host_cpuid(leaf);
    const uint32_t host_regs[] = {host.eax, host.ebx, host.ecx, host.edx};
    uint32_t mask = host_regs[reg];
    if (!supported)
        return mask;
    for (const cpuid_entry& e : *supported)
        if (e.leaf == leaf && e.subleaf == 0) {
            const uint32_t regs[] = {e.eax, e.ebx, e.ecx, e.edx};
            return mask & regs[reg];
        }
    return 0;  // KVM offers nothing in this leaf
}

}  // namespace

cpuid_entry host_cpuid(uint32_t leaf, uint32_t subleaf)
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    __cpuid_count(leaf, subleaf, a, b, c, d);
    return {leaf, subleaf, a, b, c, d};
}

std::vector<cpuid_entry> guest_cpu_model(const std::vector<cpuid_entry>* supported)
{
    namespace f = cpu_features;
    const cpuid_entry vendor = host_cpuid(0);
    const cpuid_entry signature = host_cpuid(1);
    const cpuid_entry sizes = host_cpuid(0x80000008);
    std::vector<cpuid_entry> leaves;
    for (uint32_t leaf = 0; leaf <= f::max_basic_leaf; ++leaf)
        leaves.push_back({leaf, 0, 0, 0, 0, 0, false});
    for (uint32_t leaf = 0x80000000; leaf <= f::max_extended_leaf; ++leaf)
        leaves.push_back({leaf, 0, 0, 0, 0, 0, false});
    auto at = [&](uint32_t leaf) -> cpuid_entry& {
        return leaf < 0x80000000 ? leaves[leaf] : leaves[f::max_basic_leaf + 1 + (leaf - 0x80000000)];
    };
    at(0) = {0, 0, f::max_basic_leaf, vendor.ebx, vendor.ecx, vendor.edx, false};
    // Family, model and stepping as the host's; one logical processor, 64-byte
    // CLFLUSH lines, APIC ID 0.
    at(1) = {1, 0, signature.eax, 0x00000800,
             (f::leaf1_ecx & supported_mask(supported, 1, 2)) | hyperbios::abi::cpuid_hypervisor_bit,
             f::leaf1_edx & supported_mask(supported, 1, 3), false};
    at(7) = {7, 0, 0, f::leaf7_ebx & supported_mask(supported, 7, 1), 0, 0, true};
    at(0x80000000) = {0x80000000, 0, f::max_extended_leaf, vendor.ebx, vendor.ecx, vendor.edx, false};
    at(0x80000001) = {0x80000001, 0, signature.eax, 0, f::ext1_ecx & supported_mask(supported, 0x80000001, 2),
                      f::ext1_edx & supported_mask(supported, 0x80000001, 3), false};
    for (uint32_t i = 0; i < 3; ++i) {
        uint32_t r[4];
        std::memcpy(r, brand + 16 * i, 16);
        at(0x80000002 + i) = {0x80000002 + i, 0, r[0], r[1], r[2], r[3], false};
    }
    at(0x80000008) = {0x80000008, 0, sizes.eax & 0xFFFF, 0, 0, 0, false};
    return leaves;
}

namespace {
const cpuid_entry* find_entry(const std::vector<cpuid_entry>& table, uint32_t leaf, uint32_t subleaf)
{
    for (const cpuid_entry& e : table)
        if (e.leaf == leaf && (!e.subleaf_significant || e.subleaf == subleaf))
            return &e;
    return nullptr;
}
}  // namespace

cpuid_entry answer_cpuid(const std::vector<cpuid_entry>& table, uint32_t leaf, uint32_t subleaf)
{
    const cpuid_entry zeros{leaf, subleaf, 0, 0, 0, 0, false};
    if (const cpuid_entry* e = find_entry(table, leaf, subleaf))
        return *e;
    const cpuid_entry* basic = find_entry(table, 0, 0);
    if (!basic)
        return zeros;
    // "AuthenticAMD" and "HygonGenuine": EBX "Auth"/"Hygo"
    if (basic->ebx == 0x68747541 || basic->ebx == 0x6f677948)
        return zeros;
    const uint32_t class_leaf = (leaf >= 0x40000000 && leaf <= 0x4FFFFFFF) ? (leaf & 0xFFFFFF00) : (leaf & 0x80000000);
    const cpuid_entry* class_entry = find_entry(table, class_leaf, 0);
    if (class_entry && leaf <= class_entry->eax)
        return zeros;
    const cpuid_entry* highest = find_entry(table, basic->eax, subleaf);
    return highest ? cpuid_entry{leaf, subleaf, highest->eax, highest->ebx, highest->ecx, highest->edx, false} : zeros;
}

}  // namespace hbvm
