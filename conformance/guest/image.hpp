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

namespace conformance {
void run_checks();  // defined by each image
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
