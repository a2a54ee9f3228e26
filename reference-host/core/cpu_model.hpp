// The CPU every guest of the reference host sees, on either accelerator: one
// documented CPUID feature set, what both engines execute (the README lists it).
// Only the vendor, the family/model/stepping and the address sizes are the host
// CPU's own. Features the host CPU (or its KVM) lacks are taken out, on both
// engines alike, so that on one machine the two answer CPUID identically.
#ifndef HBVM_CORE_CPU_MODEL_HPP
#define HBVM_CORE_CPU_MODEL_HPP

#include "accel/accelerator.hpp"
#include "core/cpu_features.hpp"

#include <cstdint>
#include <vector>

namespace hbvm {


// The host CPU's own CPUID (the instruction, run by hbvm).
cpuid_entry host_cpuid(uint32_t leaf, uint32_t subleaf = 0);

// The guest's CPUID leaves 0..7 and 0x80000000..0x80000008, every subleaf 0,
// with the hypervisor bit set; leaves not listed read as zeros on both engines.
// Every feature is masked by the host CPU's own CPUID and, when given (KVM), by
// `supported`.
std::vector<cpuid_entry> guest_cpu_model(const std::vector<cpuid_entry>* supported = nullptr);

// What CPUID answers from `table` for (leaf, subleaf), by KVM's rule, so that
// the software engine answers leaves outside the table as KVM does: a listed
// leaf (subleaf too, where it matters) answers as listed; an unlisted leaf inside
// its class's range (basic, hypervisor 0x4000xx00, extended) reads zeros; beyond
// it, Intel-like vendors answer the highest basic leaf, AMD-like ones zeros.
cpuid_entry answer_cpuid(const std::vector<cpuid_entry>& table, uint32_t leaf, uint32_t subleaf);

}  // namespace hbvm

#endif
