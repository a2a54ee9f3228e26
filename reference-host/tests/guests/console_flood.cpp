// Writes N bytes to the console (the first kernel argument; default: for ever)
// in 64 KiB calls, then shuts down with 0, or 3 when a write failed. For tests of
// stalled, closed and non-blocking console readers.
#include "guest_args.hpp"

#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

namespace {
char chunk[65536];
}

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    namespace hb = hyperbios;
    const uint64_t total = test_guest::first_number_argument(magic, info, ~uint64_t(0));
    for (size_t i = 0; i < sizeof chunk; ++i)
        chunk[i] = char('a' + i % 26);
    hb::fallback::debugcon_write("console_flood: writing\n");
    bool failed = false;
    for (uint64_t done = 0; done < total;) {
        const uint64_t n = total - done < sizeof chunk ? total - done : sizeof chunk;
        auto r = hb::console::write(chunk, n);
        if (!r.ok() || r.value != n)
            failed = true;
        done += n;
    }
    hb::fallback::debugcon_write(failed ? "console_flood: a write failed\n" : "console_flood: done\n");
    (void)hb::power::shutdown(failed ? 3 : 0);
}
