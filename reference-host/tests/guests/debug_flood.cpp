// Writes N numbered lines to the debug console, port 0xE9 (the first kernel
// argument; default: for ever), then shuts down with 0. For tests of a stalled or
// interrupted stderr.
#include "guest_args.hpp"

#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    namespace hb = hyperbios;
    const uint64_t lines = test_guest::first_number_argument(magic, info, ~uint64_t(0));
    for (uint64_t i = 0; i < lines; ++i) {
        char text[32] = "line ";
        int digits = 0;
        char reversed[20];
        uint64_t v = i;
        do
            reversed[digits++] = char('0' + v % 10);
        while ((v /= 10) != 0);
        int at = 5;
        while (digits)
            text[at++] = reversed[--digits];
        text[at++] = '\n';
        hb::fallback::debugcon_write(text, size_t(at));
    }
    (void)hb::power::shutdown(0);
}
