// The entry of every conformance image: boot stub, memory discovery, the
// no-host rule, then the image's run_checks() and the SUMMARY.
//
// Without a HyperBIOS host an image tests nothing, says so and ends "all
// skipped" (exit 77) — except an image that defines CONFORMANCE_RUNS_WITHOUT_HOST
// (discovery), whose checks are about telling hosts apart.
#ifndef HYPERBIOS_CONFORMANCE_IMAGE_HPP
#define HYPERBIOS_CONFORMANCE_IMAGE_HPP

#include "raw.hpp"
#include "report.hpp"

#include <hyperbios/boot/multiboot.hpp>

// Declares a device place the image needs of the host ({place} in the driver's
// --host, conform.py PLACES) and the requirements that cannot be tested without
// it, comma-separated: HYPERBIOS_CONFORM_NEEDS(audio0, "HB-AUD-001,HB-AUD-004").
// The driver finds the string in the image's file before the run; a host
// command without {place} makes those requirements "not tested". It is a
// well-formed ELF note (owner "HyperBIOS", type 0x48424346), because
// multiboot.ld keeps .note.* sections in a PT_NOTE segment that loaders parse
// (QEMU looks there for the PVH entry): a bare string there would be misread.
#define HYPERBIOS_CONFORM_NEEDS(place, requirements)                                               \
    __asm__(".pushsection .note.hyperbios.conform, \"a\", @note\n"                                  \
            ".balign 4\n.long 10\n.long 2f - 1f\n.long 0x48424346\n.asciz \"HyperBIOS\"\n.balign 4\n" \
            "1: .asciz \"HYPERBIOS-CONFORM-NEEDS:{" #place "}:" requirements "\"\n2: .balign 4\n"       \
            ".popsection")

namespace conformance {
void run_checks();  // defined by each image

// Whether the host's discovery advertises service `s` (leaf B+2).
inline bool advertises(hyperbios::abi::service s)
{
    const hyperbios::host_info& host = hyperbios::detect();
    return host.present && uint16_t(s) < 32 &&
           ((hyperbios::arch::cpuid(host.base_leaf + hyperbios::abi::cpuid_leaf_services).eax >> uint16_t(s)) & 1);
}
}

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    // Every start is counted by the driver, so a reboot is proven from outside
    // (EXPECT-BOOTS), not taken from what the host answers.
    conformance::emit(conformance::line().put("BOOT"));
    conformance::learn_memory(magic, info);
    const hyperbios::host_info& host = hyperbios::detect();
    if (host.present) {
        // What discovery advertises decides which requirements apply (conform.py).
        conformance::info("services", hyperbios::arch::cpuid(host.base_leaf + hyperbios::abi::cpuid_leaf_services).eax);
        conformance::info("gates", host.gates);
        // Every image is a machine of its own: its first random bytes must differ
        // from every other machine's (HB-RNG-002), which only the driver can see.
        if (hyperbios::arch::cpuid(host.base_leaf + hyperbios::abi::cpuid_leaf_services).eax &
            (1u << uint16_t(hyperbios::abi::service::rng))) {
            uint64_t sample = 0;
            if (hyperbios::rng::fill(&sample, sizeof sample).ok())
                conformance::emit(conformance::line().put("EXPECT-UNIQUE HB-RNG-002 ").hex(sample, 16));
        }
    }
#ifndef CONFORMANCE_RUNS_WITHOUT_HOST
    if (!host.present) {
        conformance::note("no HyperBIOS host: this image tests nothing here");
        conformance::finish();
    }
#endif
    conformance::run_checks();
    conformance::finish();
}

#endif
