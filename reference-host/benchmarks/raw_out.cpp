// Benchmark guest: the barest exit a 64-bit guest can make, an OUT to an unused
// port, forever. The benchmark's exit handler counts them and ends the run.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/arch/x86_64/cpu.hpp>

extern "C" void kernel_main(uint32_t, uint32_t)
{
    for (;;)
        hyperbios::arch::out32(0x500, 0);
}
