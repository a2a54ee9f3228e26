// Discovery (spec chapter 3): the CPUID leaves, read raw, and the guest rules for
// telling a HyperBIOS host from other hypervisors and from bare hardware.
#define CONFORMANCE_RUNS_WITHOUT_HOST
#include "image.hpp"

namespace conformance {

namespace {

using hb::arch::cpuid;

// The vendor signature (EBX, ECX, EDX of leaf B) is printable ASCII, padded at
// its end with NUL bytes when shorter than 12 (spec 3.2).
bool printable_signature(uint32_t ebx, uint32_t ecx, uint32_t edx)
{
    const uint32_t words[3] = {ebx, ecx, edx};
    unsigned length = 12;
    for (unsigned i = 0; i < 12; ++i) {
        const uint8_t c = uint8_t(words[i / 4] >> (8 * (i % 4)));
        if (i < length && c == 0)
            length = i;  // the padding starts: only NULs may follow
        else if (i < length && (c < 0x20 || c > 0x7E))
            return false;
        else if (i >= length && c != 0)
            return false;
    }
    return length > 0;
}

}  // namespace

void run_checks()
{
    const bool hypervisor_bit = cpuid(1).ecx & hb::abi::cpuid_hypervisor_bit;
    const hb::host_info& host = hb::detect();

    if (!hypervisor_bit) {
        // Bare hardware or an emulator without the bit (Bochs): the library must
        // give up without touching the hypervisor range.
        check("HB-DISC-010", !host.present && !host.hypervisor_bit,
              "without CPUID.1:ECX[31] the guest library reports no host");
        skip("HB-DISC-011", "signature, not vendor, identifies HyperBIOS",
             "a guest-side rule, exercised under a hypervisor without HyperBIOS such as QEMU");
        note("no hypervisor bit: there is no host to test");
        return;
    }
    if (!host.present) {
        // A hypervisor without HyperBIOS (QEMU's TCGTCGTCGTCG, KVM's KVMKVMKVM).
        check("HB-DISC-011", !host.present, "a hypervisor without the HBIO signature is not taken for HyperBIOS");
        skip("HB-DISC-010", "no hypervisor bit means no host",
             "a guest-side rule, exercised on a machine without the hypervisor bit such as Bochs");
        note("a hypervisor without HyperBIOS: there is no host to test");
        return;
    }
    skip("HB-DISC-010", "no hypervisor bit means no host",
         "a guest-side rule, exercised on a machine without the hypervisor bit such as Bochs");
    skip("HB-DISC-011", "signature, not vendor, identifies HyperBIOS",
         "a guest-side rule, exercised under a hypervisor without HyperBIOS such as QEMU");

    check("HB-DISC-001", hypervisor_bit, "CPUID.1:ECX[31] is set");

    // Scan by hand, independent of the library.
    uint32_t base = 0, found = 0;
    for (uint32_t b = hb::abi::cpuid_scan_first; b <= hb::abi::cpuid_scan_last; b += hb::abi::cpuid_scan_step) {
        const uint32_t top = cpuid(b).eax;
        if (top >= b + 2 && top <= b + 0xFF && cpuid(b + 1).eax == hb::abi::interface_signature) {
            if (!found)
                base = b;
            ++found;
        }
    }
    check("HB-DISC-002", found >= 1 && base == host.base_leaf,
          "the HyperBIOS range sits at a 0x100-step base with a valid highest leaf");
    check("HB-DISC-003", cpuid(base + 1).eax == hb::abi::interface_signature,
          "leaf B+1 EAX is the interface signature 0x4F494248");

    const auto head = cpuid(base);
    check("HB-DISC-004", printable_signature(head.ebx, head.ecx, head.edx),
          "the vendor signature is printable ASCII, padded with NUL bytes to 12 when shorter");

    // Leaves above B + 2, up to max_leaf, are reserved: all zero (spec 3.1).
    const uint32_t max_leaf = head.eax;
    bool above_zero = true;
    line nonzero;
    for (uint32_t leaf = base + 3; leaf <= max_leaf && leaf <= base + 0xFF && above_zero; ++leaf) {
        const auto r = cpuid(leaf);
        if (r.eax | r.ebx | r.ecx | r.edx) {
            above_zero = false;
            nonzero.put("leaf ").hex(leaf).put(": ").hex(r.eax).put(' ').hex(r.ebx).put(' ').hex(r.ecx).put(' ').hex(
                r.edx);
        }
    }
    line above;
    above.put("every leaf from B+3 to max_leaf (").hex(max_leaf).put(", ").dec(max_leaf > base + 2 ? max_leaf - base - 2 : 0)
        .put(" leaves) reads as zero");
    check("HB-DISC-012", above_zero, above.c_str(), nonzero.c_str());

    const auto iface = cpuid(base + 1);
    auto version = hb::base::spec_version();
    check("HB-DISC-005", version.ok() && iface.ebx == version.value,
          "leaf B+1 EBX equals BASE.get_spec_version");
    // The spec names no port as invalid, 0 included: the port EDX advertises is
    // shown to be the gate's by a call made through it.
    const uint16_t advertised_port = uint16_t(iface.edx);
    const auto through_advertised = hb::arch::port_gate_call(
        advertised_port, uint64_t(hb::abi::function::base_get_spec_version), 0, 0, 0, 0, 0);
    line gate_detail;
    gate_detail.put("port ").hex(advertised_port).put(": status ").sdec(through_advertised.status).put(", value ").hex(
        through_advertised.value);
    check("HB-DISC-006",
          (iface.ecx & hb::abi::gate_port_io) && through_advertised.status == 0 &&
              through_advertised.value == iface.ebx,
          "leaf B+1 advertises the port-I/O gate, and a call through the port in EDX bits 15:0 is served",
          gate_detail.c_str());
    check("HB-GEN-002", (iface.ecx & ~hb::abi::gate_flags_defined) == 0 && (iface.edx >> 16) == 0,
          "reserved bits of leaf B+1 ECX and EDX are zero");

    const auto services = cpuid(base + 2);
    bool bitmap_matches = true;
    for (uint16_t id = 0; id < 32; ++id) {
        auto probe = hb::base::probe_service(hb::abi::service(id));
        const bool offered = probe.ok() && probe.value != 0;
        if (offered != bool((services.eax >> id) & 1))
            bitmap_matches = false;
    }
    check("HB-DISC-007", bitmap_matches, "leaf B+2 EAX has bit n set exactly for the services probe_service reports");
    check("HB-GEN-002", services.ebx == 0 && services.ecx == 0 && services.edx == 0,
          "reserved registers of leaf B+2 are zero");

    // Every HyperBIOS leaf must read the same whatever ECX holds: the values
    // hosts most likely special-case (0, 1, 2, 0xFF, 0x1234, 0x80000000,
    // 0xFFFFFFFF), each single bit and each all-ones mask, and a pseudo-random
    // sweep, each compared with a read at ECX = 0.
    uint32_t subleaves[256];
    size_t count = 0;
    for (uint32_t v : {0u, 1u, 2u, 3u, 0xFFu, 0x100u, 0x1234u, 0xFFFFu, 0x10000u, 0x7FFFFFFFu, 0x80000000u,
                       0xFFFFFFFFu})
        subleaves[count++] = v;
    for (unsigned bit = 0; bit < 32; ++bit) {
        subleaves[count++] = 1u << bit;
        subleaves[count++] = (1u << bit) - 1;
    }
    uint32_t x = 0x48425044u;  // xorshift32, fixed seed: a failure reproduces
    while (count < sizeof subleaves / sizeof subleaves[0]) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        subleaves[count++] = x;
    }
    bool stable = true;
    line differs;
    for (uint32_t leaf = base; leaf <= base + 2 && stable; ++leaf) {
        const auto reference = cpuid(leaf, 0);
        for (size_t i = 0; i < count && stable; ++i) {
            const auto r = cpuid(leaf, subleaves[i]);
            if (r.eax != reference.eax || r.ebx != reference.ebx || r.ecx != reference.ecx || r.edx != reference.edx) {
                stable = false;
                differs.put("leaf ").hex(leaf).put(" with ECX ").hex(subleaves[i]).put(": ").hex(r.eax).put(' ').hex(
                    r.ebx).put(' ').hex(r.ecx).put(' ').hex(r.edx).put(", with ECX 0: ").hex(reference.eax).put(
                    ' ').hex(reference.ebx).put(' ').hex(reference.ecx).put(' ').hex(reference.edx);
            }
        }
    }
    check("HB-DISC-008", stable,
          "the HyperBIOS leaves read the same every time, whatever ECX holds (256 values of ECX per leaf)",
          differs.c_str());
}

}  // namespace conformance
