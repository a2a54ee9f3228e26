// Benchmark guest: its first act is a HyperBIOS call (POWER.shutdown), so the
// host's process ends right after the guest's first hypercall. Without a host
// (QEMU) it ends at the same point through the isa-debug-exit port.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

extern "C" void kernel_main(uint32_t, uint32_t)
{
    (void)hyperbios::power::shutdown(0);
    hyperbios::fallback::power_off_emulator(0);
}
