// Discovery: is there a HyperBIOS host, and what does it offer?
//
// Safe on any x86-64 CPU: CPUID.1:ECX[31] (hypervisor present) is checked before any
// hypervisor leaf is read, because bare metal and some emulators (Bochs) answer
// leaves 0x4000xxxx with unrelated data. Nothing here performs port I/O.
#ifndef HYPERBIOS_DETECT_HPP
#define HYPERBIOS_DETECT_HPP

#include <hyperbios/abi.hpp>
#include <hyperbios/arch/x86_64/cpu.hpp>
#include <hyperbios/detail/state.hpp>
#include <hyperbios/host_info.hpp>

namespace hyperbios {

namespace detail {

constexpr bool looks_like_range_head(uint32_t base, uint32_t max_leaf)
{
    // A range head names a highest leaf inside its own 0x100-leaf range.
    return max_leaf >= base + abi::cpuid_leaf_services && max_leaf < base + abi::cpuid_scan_step;
}

}  // namespace detail

// Reads the CPUID leaves afresh. Prefer detect(), which caches the answer.
inline host_info probe_host() noexcept
{
    host_info info{};
    if (!(arch::cpuid(abi::cpuid_hypervisor_bit_leaf).ecx & abi::cpuid_hypervisor_bit))
        return info;
    info.hypervisor_bit = true;
    for (uint32_t base = abi::cpuid_scan_first; base <= abi::cpuid_scan_last; base += abi::cpuid_scan_step) {
        arch::cpuid_result head = arch::cpuid(base + abi::cpuid_leaf_vendor);
        if (!detail::looks_like_range_head(base, head.eax))
            continue;
        arch::cpuid_result iface = arch::cpuid(base + abi::cpuid_leaf_interface);
        if (iface.eax != abi::interface_signature)
            continue;
        arch::cpuid_result services = arch::cpuid(base + abi::cpuid_leaf_services);
        info.present = (iface.ecx & abi::gate_port_io) != 0;
        info.base_leaf = base;
        const uint32_t words[3] = {head.ebx, head.ecx, head.edx};
        for (int w = 0; w < 3; ++w)
            for (int b = 0; b < 4; ++b)
                info.vendor[w * 4 + b] = char(words[w] >> (8 * b));
        info.vendor[12] = 0;
        info.interface_version = iface.ebx;
        info.gates = iface.ecx;
        info.port = uint16_t(iface.edx);
        info.service_bitmap = services.eax;
        return info;
    }
    return info;
}

// The host as first probed; later calls return the cached answer (kept in
// detail::state, which any linker script places: see detail/state.hpp).
inline const host_info& detect() noexcept
{
    detail::library_state& s = detail::state;
    if (!s.host_probed) {
        s.host = probe_host();
        s.host_probed = true;
    }
    return s.host;
}

inline bool present() noexcept { return detect().present; }

}  // namespace hyperbios

#endif
