// For the accelerator test of inject_vector (test_soft_accelerator.cpp and the
// nested lane): asks the host, by port writes, to inject an external interrupt
// (vector 0x30) and an exception (#GP with error code 0x18), and reports what
// its handlers saw. Makes no HyperBIOS call: the test's exit handler serves
// only these ports.
//   out 0x500: "inject 0x30 now", then HLT until it came -> out 0x501 <- interrupts seen (1)
//   out 0x502: "inject #GP(0x18) now", HLT until it came -> out 0x503 <- error code seen (0x18)
//   out 0xF4, 0x21: done
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/interrupts.hpp>

namespace hi = hyperbios::interrupts;

namespace {
volatile uint32_t interrupts_seen, error_seen;
}

extern "C" void kernel_main(uint32_t, uint32_t)
{
    hi::set_handler(0x30, [](hi::frame&) noexcept { interrupts_seen = interrupts_seen + 1; });
    hi::set_handler(13, [](hi::frame& f) noexcept { error_seen = uint32_t(f.error_code); });
    asm volatile("sti");
    hyperbios::arch::out32(0x500, 1);
    // KVM delivers at once; the software engine at the next HLT.
    while (interrupts_seen == 0)
        asm volatile("hlt");
    asm volatile("cli");
    hyperbios::arch::out32(0x501, interrupts_seen);
    hyperbios::arch::out32(0x502, 1);
    while (error_seen == 0)
        asm volatile("hlt");  // an exception is injected like an interrupt: at the next HLT on the software engine
    hyperbios::arch::out32(0x503, error_seen);
    hyperbios::arch::out32(0xF4, 0x21);
    for (;;)
        asm volatile("cli; hlt");
}
