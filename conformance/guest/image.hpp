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
    conformance::learn_memory(magic, info);
#ifndef CONFORMANCE_RUNS_WITHOUT_HOST
    if (!hyperbios::detect().present) {
        conformance::note("no HyperBIOS host: this image tests nothing here");
        conformance::finish();
    }
#endif
    conformance::run_checks();
    conformance::finish();
}

#endif
