// Executes UD2: the host must stop the VM with a register dump, not crash.
// Without the boot stub's IDT, so that the exception reaches the host as a triple
// fault (the default crash handler is tested by crash_null_pointer).
#define HYPERBIOS_BOOT_NO_INTERRUPTS
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>

extern "C" void kernel_main(uint32_t, uint32_t)
{
    hyperbios::fallback::debugcon_write("crash_invalid_opcode: executing ud2\n");
    asm volatile("ud2");
}
