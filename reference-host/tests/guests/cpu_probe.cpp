// The CPU a guest sees: CPUID's feature bits lie within the documented set
// (reference-host/core/cpu_features.hpp; a host CPU without some of them gives
// fewer, on both engines alike), every advertised instruction runs (no #UD), and
// the raw leaves are printed ("CPUID ...") so that a test can compare the two
// engines in one environment. One "PASS name" or
// "FAIL name (detail)" line per check; shuts down with 0 when all passed.
#include "../../core/cpu_features.hpp"

#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;
namespace f = hbvm::cpu_features;

namespace {

volatile uint64_t resume_at;
volatile int invalid_opcodes;

struct [[gnu::packed]] gate {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
};
gate idt[32];

}  // namespace

// #UD: count it and resume where the check said.
extern "C" void cpu_probe_on_invalid_opcode(uint64_t* frame_rip)
{
    invalid_opcodes = invalid_opcodes + 1;
    *frame_rip = resume_at;
}

asm(R"(
    .pushsection .text.cpu_probe, "ax"
    .balign 16
cpu_probe_ud_stub:
    push %rax; push %rcx; push %rdx; push %rsi; push %rdi; push %r8; push %r9; push %r10; push %r11
    lea 72(%rsp), %rdi
    mov %rsp, %rsi
    and $-16, %rsp
    push %rsi
    sub $8, %rsp
    call cpu_probe_on_invalid_opcode
    add $8, %rsp
    pop %rsp
    pop %r11; pop %r10; pop %r9; pop %r8; pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax
    iretq
    .global cpu_probe_ud_entry
    .set cpu_probe_ud_entry, cpu_probe_ud_stub
    .popsection
)");
extern "C" const char cpu_probe_ud_entry[];

namespace {

bool all_passed = true;

void report(bool ok, const char* name, const char* detail = "")
{
    hb::text::line<160> l;
    l.put(ok ? "PASS " : "FAIL ").put(name);
    if (!ok && *detail)
        l.put(" (").put(detail).put(')');
    l.put('\n');
    hb::fallback::debugcon_write(l.c_str());
    all_passed = all_passed && ok;
}

void print_leaf(uint32_t leaf, uint32_t subleaf)
{
    const auto r = hb::arch::cpuid(leaf, subleaf);
    hb::text::line<128> l;
    l.put("CPUID ").hex(leaf).put('.').dec(subleaf).put(": ").hex(r.eax).put(' ').hex(r.ebx).put(' ').hex(r.ecx);
    l.put(' ').hex(r.edx).put('\n');
    hb::fallback::debugcon_write(l.c_str());
}

void check_bits(const char* name, uint32_t got, uint32_t documented)
{
    hb::text::line<80> d;
    d.put("got ").hex(got).put(", documented ").hex(documented);
    report((got & ~documented) == 0, name, d.c_str());
}

// When the feature is advertised, runs `body` (one of its instructions) and
// reports whether it raised #UD.
#define RUNS(name, advertised, body)                                                                 \
    do {                                                                                             \
        const int before = invalid_opcodes;                                                          \
        if (advertised)                                                                              \
            asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]\n\t" body "\n1:"                \
                         : [resume] "=m"(resume_at)                                                  \
                         : "r"(scratch)                                                              \
                         : "rax", "rcx", "rdx", "memory", "cc");                                     \
        else                                                                                         \
            hb::fallback::debugcon_write("INFO " name ": not advertised here\n");                    \
        report(invalid_opcodes == before, name " runs where advertised");                            \
    } while (0)

alignas(16) uint64_t scratch[4];

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    uint16_t cs;
    asm volatile("mov %%cs, %0" : "=r"(cs));
    const uint64_t h = uint64_t(cpu_probe_ud_entry);
    idt[6] = {uint16_t(h), cs, 0, 0x8E, uint16_t(h >> 16), uint32_t(h >> 32), 0};
    struct [[gnu::packed]] {
        uint16_t limit;
        uint64_t base;
    } idtr{sizeof idt - 1, uint64_t(idt)};
    asm volatile("lidt %0" ::"m"(idtr));

    const uint32_t leaves[][2] = {{0, 0},          {1, 0},          {2, 0},          {7, 0},          {7, 1},
                                  {0xB, 0},        {0xD, 0},        {0x40000000, 0}, {0x40000001, 0}, {0x40000002, 0},
                                  {0x40000003, 0}, {0x40000100, 0}, {0x80000000, 0}, {0x80000001, 0}, {0x80000002, 0},
                                  {0x80000003, 0}, {0x80000004, 0}, {0x80000008, 0}, {0x80000009, 0}, {0x8000000A, 0}};
    for (const auto& l : leaves)
        print_leaf(l[0], l[1]);

    const auto l0 = hb::arch::cpuid(0), l1 = hb::arch::cpuid(1), l7 = hb::arch::cpuid(7, 0);
    const auto e0 = hb::arch::cpuid(0x80000000), e1 = hb::arch::cpuid(0x80000001);
    report(l0.eax == f::max_basic_leaf, "highest basic leaf");
    report(e0.eax == f::max_extended_leaf, "highest extended leaf");
    report(l1.ecx & (1u << 31), "the hypervisor bit");
    check_bits("CPUID.1:EDX features within the documented set", l1.edx, f::leaf1_edx);
    check_bits("CPUID.1:ECX features within the documented set", l1.ecx, f::leaf1_ecx | (1u << 31));
    check_bits("CPUID.7.0:EBX features within the documented set", l7.ebx, f::leaf7_ebx);
    check_bits("CPUID.7.0:ECX and EDX features within the documented set", l7.ecx | l7.edx, 0);
    check_bits("CPUID.80000001h:ECX features within the documented set", e1.ecx, f::ext1_ecx);
    check_bits("CPUID.80000001h:EDX features within the documented set", e1.edx, f::ext1_edx);
    // The base every x86-64 CPU has, which no host can lack.
    check_bits("x86-64 base: FPU TSC MSR PAE CX8 CMOV MMX FXSR SSE SSE2",
               (1u << 0 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 8 | 1u << 15 | 1u << 23 | 1u << 24 | 1u << 25 |
                1u << 26) & ~l1.edx, 0);

    RUNS("SSE3 (MOVDDUP)", l1.ecx & (1u << 0), "movddup %%xmm0, %%xmm1");
    RUNS("SSSE3 (PSHUFB)", l1.ecx & (1u << 9), "pshufb %%xmm0, %%xmm1");
    RUNS("SSE4.1 (PBLENDW)", l1.ecx & (1u << 19), "pblendw $1, %%xmm0, %%xmm1");
    RUNS("SSE4.2 (CRC32)", l1.ecx & (1u << 20), "crc32l %%eax, %%ecx");
    RUNS("POPCNT", l1.ecx & (1u << 23), "popcnt %%eax, %%ecx");
    RUNS("MOVBE", l1.ecx & (1u << 22), "movbe (%1), %%ecx");
    RUNS("CMPXCHG16B", l1.ecx & (1u << 13), "xor %%edx, %%edx; xor %%eax, %%eax; push %%rbx; xor %%ebx, %%ebx; xor %%ecx, %%ecx;"
                       "cmpxchg16b (%1); pop %%rbx");
    RUNS("AES (AESENC)", l1.ecx & (1u << 25), "aesenc %%xmm0, %%xmm1");
    RUNS("PCLMULQDQ", l1.ecx & (1u << 1), "pclmulqdq $0, %%xmm0, %%xmm1");
    RUNS("LZCNT", e1.ecx & (1u << 5), "lzcnt %%eax, %%ecx");
    RUNS("BMI1 (ANDN)", l7.ebx & (1u << 3), "andn %%eax, %%ecx, %%edx");
    RUNS("BMI2 (SHLX)", l7.ebx & (1u << 8), "shlx %%eax, %%ecx, %%edx");
    RUNS("LAHF in 64-bit mode", e1.ecx & (1u << 0), "lahf");
    (void)hb::power::shutdown(all_passed ? 0 : 1);
}
