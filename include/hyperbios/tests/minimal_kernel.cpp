// The smallest kernel with the boot stub: checked to link with no undefined symbols.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>

extern "C" uint64_t hyperbios_uses_every_call(char* buffer, size_t size);

namespace {
char buffer[64];
}

extern "C" void kernel_main(uint32_t, uint32_t)
{
    (void)hyperbios_uses_every_call(buffer, sizeof buffer);
}
