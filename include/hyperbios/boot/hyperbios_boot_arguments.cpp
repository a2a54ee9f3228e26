// hb_boot_arguments_joined (<hyperbios/boot/hyperbios_boot.h>) for C kernels on
// libhyperbios-boot.a: kernel_arguments::joined over the loader's command line.
// An archive member of its own, so that the boot-protocol reader's ~7 KiB of
// .bss is linked only into kernels that call it.
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/hyperbios_boot.h>

extern "C" size_t hb_boot_arguments_joined(uint32_t loader_magic, uint32_t loader_info, char* buffer, size_t capacity)
{
    static hyperbios::boot::boot_info boot;  // constant-initialised: in .bss, no guard
    boot.read(loader_magic, loader_info);
    return boot.arguments().joined(buffer, capacity);
}
