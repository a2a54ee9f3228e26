// x87 and SSE work once the boot stub has run, on every accelerator: code built
// with ordinary compiler flags uses them. The arithmetic is in inline assembly
// because test guests are built with -mgeneral-regs-only.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

bool all_passed = true;

void report(bool ok, const char* name, uint64_t got)
{
    hb::text::line<120> l;
    l.put(ok ? "PASS " : "FAIL ").put(name);
    if (!ok)
        l.put(" (got ").hex(got).put(')');
    l.put('\n');
    hb::fallback::debugcon_write(l.c_str());
    all_passed = all_passed && ok;
}

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    constexpr uint64_t one_and_a_half = 0x3FF8000000000000ull, two = 0x4000000000000000ull,
                       quarter = 0x3FD0000000000000ull, three_and_a_quarter = 0x400A000000000000ull;
    // SSE2: 1.5 * 2.0 + 0.25 = 3.25
    uint64_t sse = 0;
    asm volatile("movq %1, %%xmm0; movq %2, %%xmm1; mulsd %%xmm1, %%xmm0; movq %3, %%xmm1; addsd %%xmm1, %%xmm0;"
                 "movq %%xmm0, %0"
                 : "=r"(sse)
                 : "r"(one_and_a_half), "r"(two), "r"(quarter));  // the compiler uses no XMM register here
    report(sse == three_and_a_quarter, "SSE2 arithmetic after the boot stub", sse);
    // x87: 1 + 1 = 2, stored as a double
    uint64_t x87 = 0;
    asm volatile("fld1; fld1; faddp; fstpl %0" : "=m"(x87));
    report(x87 == two, "x87 arithmetic after the boot stub", x87);
    uint64_t cr4;
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    report((cr4 & 0x600) == 0x600, "CR4.OSFXSR and CR4.OSXMMEXCPT are set", cr4);
    (void)hb::power::shutdown(all_passed ? 0 : 1);
}
