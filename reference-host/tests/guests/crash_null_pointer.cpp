// Reads through a null pointer. The boot stub leaves page 0 unmapped, so this
// faults; its default handler reports the page fault (CR2 0) on the console and
// shuts down with exit code 70, on every accelerator.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>

extern "C" void kernel_main(uint32_t, uint32_t)
{
    hyperbios::fallback::debugcon_write("crash_null_pointer: reading address 0\n");
    volatile const uint64_t* null = nullptr;
    asm volatile("" : "+r"(null));  // the compiler must not prove it null
    (void)*null;
    hyperbios::fallback::debugcon_write("crash_null_pointer: the read did not fault\n");
    hyperbios::arch::halt_forever();
}
