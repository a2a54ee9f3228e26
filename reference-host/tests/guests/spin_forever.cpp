// Never stops on its own: only --timeout or a signal ends it.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>

extern "C" void kernel_main(uint32_t, uint32_t)
{
    hyperbios::fallback::debugcon_write("spin_forever: spinning\n");
    for (;;)
        asm volatile("pause");
}
