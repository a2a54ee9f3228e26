// The definitions behind <hyperbios/interrupts.hpp>: the IDT, 256 entry stubs,
// the dispatcher, the handlers and the built-in crash handler. Include in
// exactly ONE translation unit of a kernel; <hyperbios/boot/multiboot.hpp>
// includes it and installs the IDT before kernel_main.
#ifndef HYPERBIOS_BOOT_INTERRUPTS_HPP
#define HYPERBIOS_BOOT_INTERRUPTS_HPP

#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/interrupts.hpp>
#include <hyperbios/text.hpp>

// Each stub pushes a zero where the CPU pushes no error code, then the vector,
// and jumps to the common entry, which saves the general registers (the frame),
// calls hyperbios_interrupt_dispatch with the stack aligned, restores and IRETQs.
asm(R"(
    .pushsection .text.hyperbios_interrupts, "ax"
    .balign 16
hyperbios_interrupt_common:
    push %rax; push %rbx; push %rcx; push %rdx; push %rsi; push %rdi; push %rbp
    push %r8; push %r9; push %r10; push %r11; push %r12; push %r13; push %r14; push %r15
    mov %rsp, %rdi
    mov %rsp, %rbx
    and $-16, %rsp
    cld
    call hyperbios_interrupt_dispatch
    mov %rbx, %rsp
    pop %r15; pop %r14; pop %r13; pop %r12; pop %r11; pop %r10; pop %r9; pop %r8
    pop %rbp; pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rbx; pop %rax
    add $16, %rsp
    iretq

    .balign 16
    .global hyperbios_interrupt_stubs
hyperbios_interrupt_stubs:
    .set hyperbios_vector, 0
    .rept 256
    .balign 16
    .if (hyperbios_vector == 8) || (hyperbios_vector >= 10 && hyperbios_vector <= 14) || (hyperbios_vector == 17) || (hyperbios_vector == 21) || (hyperbios_vector == 29) || (hyperbios_vector == 30)
    pushq $hyperbios_vector
    .else
    pushq $0
    pushq $hyperbios_vector
    .endif
    jmp hyperbios_interrupt_common
    .set hyperbios_vector, hyperbios_vector + 1
    .endr
    .popsection
)");

extern "C" const char hyperbios_interrupt_stubs[];

namespace hyperbios::interrupts::detail {

struct [[gnu::packed]] gate {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
};
static_assert(sizeof(gate) == 16);

// Defined here, in the one translation unit that includes this header, and not
// inline: an inline variable gets a .bss.<name> section of its own, which a
// kernel's linker script may not list (detail/state.hpp); this one lands in .bss.
alignas(16) gate idt[256];

// The default handler's report: on the HyperBIOS console where there is a host,
// otherwise on the emulators' debug port or COM1, whichever the machine has.
inline void say(const char* text) noexcept
{
    if (!hyperbios::present() || !hyperbios::console::write(text).ok())
        hyperbios::fallback::debug_write(text);
}

}  // namespace hyperbios::interrupts::detail

extern "C" {
hyperbios::interrupts::handler hyperbios_interrupt_handlers[256];  // zero: the default handler
hyperbios::interrupts::handler hyperbios_interrupt_default_handler;  // zero: the built-in crash handler
}

// The built-in default handler: what went wrong, then power off with
// crash_exit_code.
extern "C" [[noreturn]] void hyperbios_interrupt_crash_handler(hyperbios::interrupts::frame& f) noexcept
{
    namespace hi = hyperbios::interrupts;
    uint64_t cr2;
    asm volatile("mov %%cr2, %0" : "=r"(cr2));
    hyperbios::text::line<256> l;
    l.put("HyperBIOS boot stub: unhandled CPU exception ").dec(f.vector).put(" (").put(hi::exception_name(f.vector));
    l.put(") at RIP ").hex(f.rip).put(", error code ").hex(f.error_code).put(", CR2 ").hex(cr2).put(", RSP ");
    l.hex(f.rsp).put("; shutting down with exit code ").dec(hi::crash_exit_code).put('\n');
    hi::detail::say(l.c_str());
    (void)hyperbios::power::shutdown(hi::crash_exit_code);
    hyperbios::fallback::power_off_emulator(hi::crash_exit_code);
}

extern "C" void hyperbios_interrupt_dispatch(hyperbios::interrupts::frame* f) noexcept
{
    if (const hyperbios::interrupts::handler h = hyperbios_interrupt_handlers[f->vector & 0xFF])
        h(*f);
    else if (const hyperbios::interrupts::handler d = hyperbios_interrupt_default_handler)
        d(*f);
    else
        hyperbios_interrupt_crash_handler(*f);
}

extern "C" void hyperbios_interrupts_install() noexcept
{
    namespace d = hyperbios::interrupts::detail;
    uint16_t cs;
    asm volatile("mov %%cs, %0" : "=r"(cs));
    for (unsigned v = 0; v < 256; ++v) {
        const uint64_t entry = uint64_t(hyperbios_interrupt_stubs) + 16 * v;
        d::idt[v] = {uint16_t(entry), cs, 0, 0x8E, uint16_t(entry >> 16), uint32_t(entry >> 32), 0};  // interrupt gate
        hyperbios_interrupt_handlers[v] = nullptr;
    }
    hyperbios_interrupt_default_handler = nullptr;
    struct [[gnu::packed]] {
        uint16_t limit;
        uint64_t base;
    } idtr{sizeof d::idt - 1, uint64_t(d::idt)};
    asm volatile("lidt %0" ::"m"(idtr) : "memory");
}

#endif
