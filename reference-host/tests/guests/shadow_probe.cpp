// For the accelerator tests of the STI shadow and of an event vector the IDT
// cannot deliver (test_soft_accelerator.cpp, and the nested lane): asks the
// host, by port writes, to raise an external interrupt as soon as the vCPU can
// take it, and reports what its handlers saw. Makes no HyperBIOS call: the
// test's exit handler serves only these ports.
//   out 0x510: "raise 0x30 when you can", then sti; nop (the marker, in the
//       STI's shadow); spin until it came -> out 0x511 <- where the saved RIP
//       was: 1 at the marker, 2 right after it, 3 elsewhere
//   IDT cut to vectors 0-0x3F: out 0x512: "raise 0x40 when you can", then sti;
//       spin until #GP came -> out 0x513 <- its error code (0x203: index, IDT, EXT)
//   out 0xF4, 0x21: done
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/interrupts.hpp>

namespace hi = hyperbios::interrupts;

extern "C" char shadow_probe_marker[], shadow_probe_after[];

namespace {

volatile uint64_t seen_rip, gp_error;
volatile uint32_t interrupts_seen, faults_seen;

struct [[gnu::packed]] idt_register {
    uint16_t limit;
    uint64_t base;
};

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    hi::set_handler(0x30, [](hi::frame& f) noexcept {
        seen_rip = f.rip;
        interrupts_seen = interrupts_seen + 1;
    });
    hi::set_handler(13, [](hi::frame& f) noexcept {
        gp_error = f.error_code;
        faults_seen = faults_seen + 1;
    });

    hyperbios::arch::out32(0x510, 1);
    asm volatile("sti\n"
                 "shadow_probe_marker:\n"
                 "   nop\n"
                 "shadow_probe_after:\n"
                 "1: cmpl $0, %0\n"
                 "   je 1b\n"
                 "   cli\n" ::"m"(interrupts_seen)
                 : "memory", "cc");
    const uint64_t rip = seen_rip;
    hyperbios::arch::out32(0x511, rip == uint64_t(shadow_probe_marker) ? 1 : rip == uint64_t(shadow_probe_after) ? 2 : 3);

    idt_register saved{};
    asm volatile("sidt %0" : "=m"(saved));
    const idt_register cut{0x40 * 16 - 1, saved.base};
    asm volatile("lidt %0" ::"m"(cut) : "memory");
    hyperbios::arch::out32(0x512, 1);
    asm volatile("sti");
    while (faults_seen == 0) {
    }
    asm volatile("cli");
    asm volatile("lidt %0" ::"m"(saved) : "memory");
    hyperbios::arch::out32(0x513, uint32_t(gp_error));
    hyperbios::arch::out32(0xF4, 0x21);
    for (;;)
        asm volatile("cli; hlt");
}
