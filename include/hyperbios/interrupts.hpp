// Exceptions and interrupts for a 64-bit kernel: an IDT of 256 vectors whose
// entry stubs save every general register into a `frame` and call a C++
// handler, and a default handler for every vector the kernel gives no handler
// of its own. The built-in default, crash_handler(), prints the vector, RIP,
// CR2 and the error code and shuts the machine down with exit code 70
// (crash_exit_code), instead of a triple fault that loses them.
//
// The boot stub (<hyperbios/boot/multiboot.hpp>) installs the IDT before
// kernel_main, so a kernel gets the built-in handler for free; it then gives
// vectors handlers of their own with set_handler(), and replaces the default
// for all the others at once with set_default_handler() (its own report, its
// own exit code). A kernel with its own boot code includes
// <hyperbios/boot/interrupts.hpp> in one translation unit and calls install()
// itself.
#ifndef HYPERBIOS_INTERRUPTS_HPP
#define HYPERBIOS_INTERRUPTS_HPP

#include <stddef.h>
#include <stdint.h>

namespace hyperbios::interrupts {

// What a handler sees and may change: RIP to resume elsewhere, RAX..R15 to
// return values, RFLAGS. The layout is what the entry stubs push.
struct frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code;  // 0 for vectors without one
    uint64_t rip, cs, rflags, rsp, ss;  // pushed by the CPU
};
static_assert(offsetof(frame, vector) == 15 * 8 && offsetof(frame, rip) == 17 * 8 && sizeof(frame) == 22 * 8);

using handler = void (*)(frame&) noexcept;

// The exit code the default handler shuts down with (also hbvm's own status for
// a crashed guest).
inline constexpr uint8_t crash_exit_code = 70;

// Whether the CPU pushes an error code for `vector`.
constexpr bool has_error_code(uint64_t vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 ||
           vector == 30;
}

// A short name for the architecture's exception vectors ("#PF page fault").
inline const char* exception_name(uint64_t vector) noexcept
{
    static const char* const names[] = {
        "#DE divide error", "#DB debug",       "NMI",           "#BP breakpoint",       "#OF overflow",
        "#BR bound range",  "#UD invalid opcode", "#NM device not available", "#DF double fault",
        "coprocessor overrun", "#TS invalid TSS", "#NP segment not present", "#SS stack fault",
        "#GP general protection", "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check",
        "#MC machine check", "#XM SIMD error", "#VE virtualization", "#CP control protection"};
    return vector < sizeof names / sizeof names[0] ? names[vector] : "interrupt";
}

// Defined by <hyperbios/boot/interrupts.hpp>, in the one translation unit that
// includes it (the boot stub includes it).
extern "C" handler hyperbios_interrupt_handlers[256];
extern "C" handler hyperbios_interrupt_default_handler;
extern "C" void hyperbios_interrupts_install() noexcept;
extern "C" [[noreturn]] void hyperbios_interrupt_crash_handler(frame& f) noexcept;

// Builds the IDT (interrupt gates to the entry stubs, the current code segment)
// and loads it. The boot stub calls it; calling it again resets every handler,
// and the default, to the built-in one.
inline void install() noexcept { hyperbios_interrupts_install(); }

// `h` handles `vector` from now on; nullptr gives the vector back to the
// default handler (the kernel's, when it set one).
inline void set_handler(uint8_t vector, handler h) noexcept { hyperbios_interrupt_handlers[vector] = h; }

// `h` handles every vector that has no handler of its own (set_handler), from
// now on: one call, not 256 set_handler calls, for a kernel that wants its own
// report or exit code for any exception, and the handler set_handler(v,
// nullptr) gives a vector back to. nullptr restores the built-in
// crash_handler. Like any handler it may return (IRETQ resumes at f.rip) or end
// the run; for the vectors it does not want it can call crash_handler(f).
inline void set_default_handler(handler h) noexcept { hyperbios_interrupt_default_handler = h; }

// The built-in default: reports the vector, RIP, the error code, CR2 and RSP on
// the HyperBIOS console (or the emulators' debug port, or COM1) and shuts down
// with crash_exit_code.
[[noreturn]] inline void crash_handler(frame& f) noexcept { hyperbios_interrupt_crash_handler(f); }

}  // namespace hyperbios::interrupts

#endif
