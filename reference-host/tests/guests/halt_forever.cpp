// Halts with interrupts disabled: nothing can ever wake it.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>

extern "C" void kernel_main(uint32_t, uint32_t)
{
    hyperbios::fallback::debugcon_write("halt_forever: cli; hlt\n");
    hyperbios::arch::halt_forever();
}
