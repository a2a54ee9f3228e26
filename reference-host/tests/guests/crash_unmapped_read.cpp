// Reads at 3 GiB, inside the boot stub's identity map but outside guest RAM: far
// past its end, or at the start of the hole below 4 GiB when RAM lies above it.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>

extern "C" void kernel_main(uint32_t, uint32_t)
{
    hyperbios::fallback::debugcon_write("crash_unmapped_read: reading 0xC0000000\n");
    volatile uint64_t* far_away = reinterpret_cast<volatile uint64_t*>(0xC0000000ull);
    uint64_t value = *far_away;
    asm volatile("" : : "r"(value));
    hyperbios::fallback::debugcon_write("crash_unmapped_read: the read returned\n");
}
