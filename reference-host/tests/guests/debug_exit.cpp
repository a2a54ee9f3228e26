// Ends the run through the QEMU-style exit port: 0x21 written to 0xF4 gives status 0x43.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>

extern "C" void kernel_main(uint32_t, uint32_t)
{
    hyperbios::arch::out32(hyperbios::fallback::qemu_debug_exit_port, 0x21);
    hyperbios::fallback::debugcon_write("debug_exit: still running after the exit port write\n");
    hyperbios::arch::halt_forever();
}
