// The smallest kernel with the boot stub: checked to link with no undefined symbols.
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>

extern "C" uint64_t hyperbios_uses_every_call(char* buffer, size_t size);
extern "C" uint64_t hyperbios_uses_kernel_helpers(char* buffer, size_t size, const hyperbios::boot::boot_info& boot);

namespace {
char buffer[64];
hyperbios::boot::boot_info boot;  // the boot-protocol reader must link freestanding too

// A default exception handler of the kernel's own that passes on to the built-in one.
void on_any_exception(hyperbios::interrupts::frame& f) noexcept { hyperbios::interrupts::crash_handler(f); }
}

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    hyperbios::interrupts::set_default_handler(on_any_exception);
    boot.read(magic, info);
    if (boot.is_ram(uint64_t(buffer), sizeof buffer) && boot.command_line())
        (void)(hyperbios_uses_every_call(buffer, sizeof buffer) +
               hyperbios_uses_kernel_helpers(buffer, sizeof buffer, boot));
}
