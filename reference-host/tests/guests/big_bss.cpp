// 48 MiB of bss: does not fit a 32 MiB guest.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>

namespace {
volatile unsigned char big[48 << 20];  // volatile: the store below must stay
}

extern "C" void kernel_main(uint32_t, uint32_t)
{
    big[sizeof big - 1] = 1;
    (void)hyperbios::power::shutdown(big[sizeof big - 1] == 1 ? 0 : 1);
}
