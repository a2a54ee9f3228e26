// Reads the console and writes back what it read, for ever: a guest that puts
// the terminal in byte-at-a-time mode, for tests of terminal restoration.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

extern "C" void kernel_main(uint32_t, uint32_t)
{
    namespace hb = hyperbios;
    (void)hb::console::write("console_echo: type something\n");
    char buffer[64];
    for (;;) {
        auto r = hb::console::read(buffer, sizeof buffer);
        if (r.ok() && r.value > 0)
            (void)hb::console::write(buffer, r.value);
        asm volatile("pause");
    }
}
