// libhyperbios-boot.a (CMake target hyperbios_boot): the boot stub of
// <hyperbios/boot/multiboot.hpp>, prebuilt, for kernels with no C++ file of their
// own -- a kernel written in C is its .c files, this library and the linker
// script <hyperbios/boot/multiboot.ld>:
//
//   - the Multiboot header and the PVH note (both ways in),
//   - 32-bit entry -> long mode with the first 4 GiB and all RAM the loader
//     reports identity-mapped (hb_boot_identity_map_end), x87/SSE on,
//     thread-local storage (the linker script defines the four __hyperbios_tls_*
//     symbols, as multiboot.ld does; a script without TLS sets
//     __hyperbios_tls_tcb = 0 and the other three to 0), a 64 KiB stack,
//   - the IDT with the default crash handler (it reports an unhandled exception on
//     the HyperBIOS console, or the emulators' debug port, and shuts down with
//     exit code 70), then the kernel's constructors (.init_array), then
//
//         void kernel_main(uint32_t loader_magic, uint32_t loader_info);
//
//     which the kernel defines (extern "C" linkage: a plain C function);
//   - for the kernel to call (<hyperbios/boot/hyperbios_boot.h>): exception
//     handlers, hb_interrupts_set_handler and hb_interrupts_set_default_handler,
//     defined at the end of this file, and its arguments as one string,
//     hb_boot_arguments_joined (hyperbios_boot_arguments.cpp).
//
// The linker takes an object from an archive only for a symbol something asks
// for, and the kernel's files ask for nothing of the stub. GNU ld asks for the
// linker script's ENTRY (hyperbios_boot_entry32); for any other linker or
// script, link with -Wl,--undefined=hyperbios_boot_entry32 -- the target
// hyperbios_boot carries that option for whatever links it.
#include <hyperbios/boot/multiboot.hpp>

// The C face of <hyperbios/interrupts.hpp> (<hyperbios/boot/hyperbios_boot.h>).
#include <hyperbios/boot/hyperbios_boot.h>

namespace {

namespace hi = hyperbios::interrupts;

// A C handler is the C++ handler it stands for: the frame is the same bytes,
// and a pointer and a reference are passed alike (RDI, x86-64 System V).
static_assert(sizeof(hb_interrupt_frame) == sizeof(hi::frame));
static_assert(offsetof(hb_interrupt_frame, r15) == offsetof(hi::frame, r15));
static_assert(offsetof(hb_interrupt_frame, rax) == offsetof(hi::frame, rax));
static_assert(offsetof(hb_interrupt_frame, vector) == offsetof(hi::frame, vector));
static_assert(offsetof(hb_interrupt_frame, error_code) == offsetof(hi::frame, error_code));
static_assert(offsetof(hb_interrupt_frame, rip) == offsetof(hi::frame, rip));
static_assert(offsetof(hb_interrupt_frame, ss) == offsetof(hi::frame, ss));
static_assert(HB_CRASH_EXIT_CODE == hi::crash_exit_code);

hi::handler as_cxx_handler(hb_interrupt_handler h) noexcept
{
    // Through void (*)(), the one function type any other converts to without
    // -Wcast-function-type's warning.
    return reinterpret_cast<hi::handler>(reinterpret_cast<void (*)()>(h));
}

}  // namespace

extern "C" void hb_interrupts_set_handler(uint8_t vector, hb_interrupt_handler handler)
{
    hi::set_handler(vector, as_cxx_handler(handler));
}

extern "C" void hb_interrupts_set_default_handler(hb_interrupt_handler handler)
{
    hi::set_default_handler(as_cxx_handler(handler));
}

extern "C" void hb_interrupts_crash_handler(hb_interrupt_frame* frame)
{
    hi::crash_handler(*reinterpret_cast<hi::frame*>(frame));
}

extern "C" const char* hb_exception_name(uint64_t vector) { return hi::exception_name(vector); }

extern "C" uint64_t hb_boot_identity_map_end(void) { return hyperbios::boot::identity_map_end(); }
