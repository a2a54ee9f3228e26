// libhyperbios-boot.a (CMake target hyperbios_boot): the boot stub of
// <hyperbios/boot/multiboot.hpp>, prebuilt, for kernels with no C++ file of their
// own -- a kernel written in C is its .c files, this library and the linker
// script <hyperbios/boot/multiboot.ld>:
//
//   - the Multiboot header and the PVH note (both ways in),
//   - 32-bit entry -> long mode with the first 4 GiB identity-mapped, x87/SSE on,
//     thread-local storage (the linker script defines the four __hyperbios_tls_*
//     symbols, as multiboot.ld does; a script without TLS sets
//     __hyperbios_tls_tcb = 0 and the other three to 0), a 64 KiB stack,
//   - the IDT with the default crash handler (it reports an unhandled exception on
//     the HyperBIOS console, or the emulators' debug port, and shuts down with
//     exit code 70), then the kernel's constructors (.init_array), then
//
//         void kernel_main(uint32_t loader_magic, uint32_t loader_info);
//
//     which the kernel defines (extern "C" linkage: a plain C function).
//
// The linker takes an object from an archive only for a symbol something asks
// for, and the kernel's files ask for nothing of the stub. GNU ld asks for the
// linker script's ENTRY (hyperbios_boot_entry32); for any other linker or
// script, link with -Wl,--undefined=hyperbios_boot_entry32 -- the target
// hyperbios_boot carries that option for whatever links it.
#include <hyperbios/boot/multiboot.hpp>
