// What discovery (detect.hpp) found: is there a HyperBIOS host, and what does it
// offer? A header of its own so that the library's state (detail/state.hpp) can
// hold one without pulling in discovery.
#ifndef HYPERBIOS_HOST_INFO_HPP
#define HYPERBIOS_HOST_INFO_HPP

#include <hyperbios/abi.hpp>

namespace hyperbios {

struct host_info {
    bool present;                // a HyperBIOS interface was found
    bool hypervisor_bit;         // CPUID.1:ECX[31] was set
    uint32_t base_leaf;          // CPUID leaf of the HyperBIOS range (0x4000xx00)
    char vendor[13];             // vendor signature of leaf base+0, NUL-terminated
    uint32_t interface_version;  // (major << 16) | minor
    uint32_t gates;              // abi::gate_* flags
    uint16_t port;               // port of the port-I/O gate
    uint32_t service_bitmap;     // bit n set: service n is offered

    constexpr bool has_service(abi::service s) const noexcept
    {
        return present && uint16_t(s) < 32 && (service_bitmap >> uint16_t(s)) & 1u;
    }
};

}  // namespace hyperbios

#endif
