// The register state beyond the general registers that a call must preserve
// (spec 2.1, HB-CALL-002: "all other general-purpose registers, RFLAGS,
// segment, control, x87 and vector registers"): segment selectors and the FS
// and GS bases, CR0/CR2/CR3/CR4/CR8, GDTR and IDTR, LDTR and TR, and the whole
// x87/SSE state as FXSAVE stores it (FCW, FSW, FTW, FOP, FIP, FDP, MXCSR,
// ST0-ST7, XMM0-XMM15).
//
// conformance_gate_extended() stores all of it immediately before and
// immediately after one gate instruction, with the general registers and
// RFLAGS loaded from a register_block as conformance_gate_all does.
// load_distinctive_state() first gives every one of these registers a value
// other than the boot stub's, so that a host that "restores" a register to a
// default instead of to the guest's value is caught.
//
// The images are built with -mgeneral-regs-only: the compiler never touches
// x87 or SSE registers, so the values loaded here survive the C++ code between
// loading and the call, and the asm below may use them without telling it.
#ifndef HYPERBIOS_CONFORMANCE_REGISTER_STATE_HPP
#define HYPERBIOS_CONFORMANCE_REGISTER_STATE_HPP

#include "raw.hpp"

#include <stddef.h>
#include <stdint.h>

namespace conformance {

struct [[gnu::packed]] table_register {  // what SGDT/SIDT store
    uint16_t limit;
    uint64_t base;
};

struct alignas(16) extended_state {
    uint8_t fxsave[512];  // FXSAVE64 image; bytes 416-511 are not written by FXSAVE
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t fs_base, gs_base;
    uint16_t cs, ds, es, ss, fs, gs, ldtr, tr;
    table_register gdtr;
    uint8_t pad0[6];
    table_register idtr;
    uint8_t pad1[6];
};
// The asm below uses these offsets.
static_assert(offsetof(extended_state, cr0) == 512 && offsetof(extended_state, cr8) == 544 &&
              offsetof(extended_state, fs_base) == 552 && offsetof(extended_state, gs_base) == 560 &&
              offsetof(extended_state, cs) == 568 && offsetof(extended_state, tr) == 582 &&
              offsetof(extended_state, gdtr) == 584 && offsetof(extended_state, idtr) == 600);

// The FXSAVE bytes that hold state: the x87 and MXCSR header (0-31), ST0-ST7
// (32-159) and XMM0-XMM15 (160-415). Bytes 416-511 are reserved or free for
// software and FXSAVE leaves them alone.
inline constexpr size_t fxsave_state_bytes = 416;

// Loads the general registers and RFLAGS from `block`, stores the extended state
// into `before`, executes one 32-bit OUT (a call: RDX in the block is the gate
// port), stores every general register and RFLAGS back into `block` and the
// extended state into `after`. The caller's RFLAGS and callee-saved registers
// are restored before it returns.
extern "C" void conformance_gate_extended(register_block* block, extended_state* before, extended_state* after);

// RFLAGS bits a guest at CPL 0 in 64-bit mode can set with POPFQ and keep
// across a call: CF PF AF ZF SF IF DF OF, IOPL, NT, AC and ID. Not TF (it
// raises a debug trap after the next instruction), RF (POPF clears it), VM,
// VIF and VIP (POPF at CPL 0 leaves them unchanged). IF is safe to set: a host
// of this version raises no interrupts.
inline constexpr uint64_t rflags_guest_settable = 0x001 | 0x004 | 0x010 | 0x040 | 0x080 | 0x200 | 0x400 | 0x800 |
                                                 0x3000 | 0x4000 | 0x40000 | 0x200000;
inline constexpr uint64_t rflags_always_one = 0x2;

// ---------------------------------------------------------------------------
// Distinctive values: every register above differs from its boot value.
// ---------------------------------------------------------------------------

namespace detail {

inline constexpr uint64_t msr_fs_base = 0xC0000100, msr_gs_base = 0xC0000101;

// Selectors: 0x08 the boot stub's 64-bit code (the IDT's gates name it), 0x10
// its data, then a second 64-bit code segment and five more data segments, so
// that each segment register holds a selector of its own.
inline constexpr uint16_t code_selector = 0x40, ds_selector = 0x18, es_selector = 0x20, fs_selector = 0x28,
                          gs_selector = 0x30, ss_selector = 0x38;
inline constexpr uint16_t boot_code_selector = 0x08, boot_data_selector = 0x10;

// Writable: loading a selector sets the accessed bit of its descriptor.
alignas(16) inline uint64_t distinctive_gdt[9] = {
    0,
    0x00AF9A000000FFFFull,  // 0x08 64-bit code, as the boot stub's
    0x00CF92000000FFFFull,  // 0x10 data
    0x00CF92000000FFFFull,  // 0x18
    0x00CF92000000FFFFull,  // 0x20
    0x00CF92000000FFFFull,  // 0x28
    0x00CF92000000FFFFull,  // 0x30
    0x00CF92000000FFFFull,  // 0x38
    0x00AF9A000000FFFFull,  // 0x40 64-bit code
};

inline void write_msr(uint32_t msr, uint64_t value)
{
    asm volatile("wrmsr" : : "c"(msr), "a"(uint32_t(value)), "d"(uint32_t(value >> 32)) : "memory");
}

inline uint64_t read_msr(uint32_t msr)
{
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t(hi) << 32) | lo;
}

// A far return to the next instruction through `selector`.
inline void load_code_selector(uint64_t selector)
{
    asm volatile(R"(
        pushq %0
        leaq 1f(%%rip), %%rax
        pushq %%rax
        lretq
    1:
    )"
                 :
                 : "r"(selector)
                 : "rax", "memory");
}

inline void load_data_selectors(uint16_t ds, uint16_t es, uint16_t fs, uint16_t gs, uint16_t ss)
{
    asm volatile("mov %0, %%ds; mov %1, %%es; mov %2, %%fs; mov %3, %%gs; mov %4, %%ss"
                 :
                 : "r"(ds), "r"(es), "r"(fs), "r"(gs), "r"(ss)
                 : "memory");
}

#define HYPERBIOS_CONFORMANCE_CR_ACCESS(n)                                                  \
    inline uint64_t read_cr##n()                                                            \
    {                                                                                       \
        uint64_t v;                                                                         \
        asm volatile("mov %%cr" #n ", %0" : "=r"(v));                                       \
        return v;                                                                           \
    }                                                                                       \
    inline void write_cr##n(uint64_t v) { asm volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
HYPERBIOS_CONFORMANCE_CR_ACCESS(0)
HYPERBIOS_CONFORMANCE_CR_ACCESS(2)
HYPERBIOS_CONFORMANCE_CR_ACCESS(3)
HYPERBIOS_CONFORMANCE_CR_ACCESS(4)
HYPERBIOS_CONFORMANCE_CR_ACCESS(8)
#undef HYPERBIOS_CONFORMANCE_CR_ACCESS

// Control-register bits that change nothing for this image: CR0.WP (pages are
// all writable), CR0.AM (alignment checks apply at CPL 3 only), CR3.PWT (write-
// through for the top-level table), CR4.TSD (RDTSC at CPL 3 only), CR4.DE
// (I/O breakpoints; none are set). CR8 = 3 masks interrupt vectors below 0x40,
// and a host of this version raises none.
inline constexpr uint64_t cr0_extra = (1ull << 16) | (1ull << 18);
inline constexpr uint64_t cr3_extra = 1ull << 3;
inline constexpr uint64_t cr4_extra = (1ull << 2) | (1ull << 3);
inline constexpr uint64_t cr2_pattern = 0x00C2C2C2C2C2C000ull;
inline constexpr uint64_t cr8_pattern = 3;
inline constexpr uint64_t fs_base_pattern = 0x00007F5A5A5A5000ull;  // canonical
inline constexpr uint64_t gs_base_pattern = 0xFFFF8A5A5A5A6000ull;  // canonical, upper half

alignas(16) inline uint8_t saved_fx[512];
alignas(16) inline uint8_t distinctive_fx[512];

inline void put16(uint8_t* p, uint16_t v)
{
    p[0] = uint8_t(v);
    p[1] = uint8_t(v >> 8);
}

inline void put32(uint8_t* p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = uint8_t(v >> (8 * i));
}

inline uint32_t get32(const uint8_t* p)
{
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// An FXSAVE image with every field away from its reset value: rounding toward
// zero and 53-bit precision in FCW (exceptions stay masked), condition codes in
// FSW, all eight ST registers valid with distinct values, FTZ, DAZ (when the CPU
// has it), round toward zero and sticky exception flags in MXCSR, and a distinct
// pattern in each XMM register. FOP, FIP and FDP stay 0: some CPUs store them
// only while an x87 exception is pending.
inline void make_distinctive_fx(const uint8_t (&current)[512])
{
    for (size_t i = 0; i < sizeof distinctive_fx; ++i)
        distinctive_fx[i] = 0;
    put16(&distinctive_fx[0], 0x0E7F);  // FCW: RC = toward zero, PC = double, all masked
    put16(&distinctive_fx[2], 0x4700);  // FSW: C3 C2 C1 C0, TOP 0, no exception pending
    distinctive_fx[4] = 0xFF;           // FTW (abridged): all eight valid
    uint32_t mxcsr_mask = get32(&current[28]);
    if (mxcsr_mask == 0)
        mxcsr_mask = 0xFFBF;  // the architectural default: no DAZ
    put32(&distinctive_fx[24], (0xFFC0u | 0x15u) & mxcsr_mask);
    for (int st = 0; st < 8; ++st) {
        uint8_t* r = &distinctive_fx[32 + 16 * st];
        // Normal extended-precision numbers: integer bit set, exponent 0x3FF0 + st.
        for (int i = 0; i < 8; ++i)
            r[i] = uint8_t(0x11 * (st + 1) + i);
        r[7] |= 0x80;
        put16(&r[8], uint16_t(0x3FF0 + st));
    }
    for (int x = 0; x < 16; ++x)
        for (int i = 0; i < 16; ++i)
            distinctive_fx[160 + 16 * x + i] = uint8_t(0xE0 ^ (x << 4) ^ i ^ (i << 3));
}

struct saved_registers {
    table_register gdtr;
    uint64_t cr0, cr2, cr3, cr4, cr8, fs_base, gs_base;
};
inline saved_registers saved;

}  // namespace detail

// Gives the selectors, FS/GS bases, GDTR, CR0/2/3/4/8 and the x87/SSE state
// values other than the boot stub's. Undo with restore_boot_state() before
// anything else runs: nothing else in the image expects them.
inline void load_distinctive_state()
{
    using namespace detail;
    asm volatile("sgdt %0" : "=m"(saved.gdtr));
    asm volatile("fxsave64 %0" : "=m"(saved_fx));
    saved.cr0 = read_cr0();
    saved.cr2 = read_cr2();
    saved.cr3 = read_cr3();
    saved.cr4 = read_cr4();
    saved.cr8 = read_cr8();
    saved.fs_base = read_msr(msr_fs_base);
    saved.gs_base = read_msr(msr_gs_base);

    const table_register gdtr{uint16_t(sizeof distinctive_gdt - 1), uint64_t(distinctive_gdt)};
    asm volatile("lgdt %0" : : "m"(gdtr) : "memory");
    load_code_selector(code_selector);
    load_data_selectors(ds_selector, es_selector, fs_selector, gs_selector, ss_selector);
    // After the selectors: loading FS or GS sets its base from the descriptor.
    write_msr(msr_fs_base, fs_base_pattern);
    write_msr(msr_gs_base, gs_base_pattern);
    write_cr0(saved.cr0 | cr0_extra);
    write_cr2(cr2_pattern);
    write_cr3(saved.cr3 | cr3_extra);
    write_cr4(saved.cr4 | cr4_extra);
    write_cr8(cr8_pattern);
    make_distinctive_fx(saved_fx);
    asm volatile("fxrstor64 %0" : : "m"(distinctive_fx) : "memory");
}

inline void restore_boot_state()
{
    using namespace detail;
    asm volatile("fxrstor64 %0" : : "m"(saved_fx) : "memory");
    write_cr8(saved.cr8);
    write_cr4(saved.cr4);
    write_cr3(saved.cr3);
    write_cr2(saved.cr2);
    write_cr0(saved.cr0);
    // The boot code and data selectors are valid in both tables: switch to them
    // before the boot GDT comes back.
    load_code_selector(boot_code_selector);
    load_data_selectors(boot_data_selector, boot_data_selector, boot_data_selector, boot_data_selector,
                        boot_data_selector);
    asm volatile("lgdt %0" : : "m"(saved.gdtr) : "memory");
    write_msr(msr_fs_base, saved.fs_base);
    write_msr(msr_gs_base, saved.gs_base);
}

// The first register of `after` that differs from `before` in one class, or
// nullptr when the class was preserved.
inline const char* changed_segment_register(const extended_state& before, const extended_state& after)
{
    if (after.cs != before.cs)
        return "CS";
    if (after.ds != before.ds)
        return "DS";
    if (after.es != before.es)
        return "ES";
    if (after.ss != before.ss)
        return "SS";
    if (after.fs != before.fs)
        return "FS";
    if (after.gs != before.gs)
        return "GS";
    if (after.fs_base != before.fs_base)
        return "FS base";
    if (after.gs_base != before.gs_base)
        return "GS base";
    if (after.ldtr != before.ldtr)
        return "LDTR";
    if (after.tr != before.tr)
        return "TR";
    return nullptr;
}

inline const char* changed_control_register(const extended_state& before, const extended_state& after)
{
    if (after.cr0 != before.cr0)
        return "CR0";
    if (after.cr2 != before.cr2)
        return "CR2";
    if (after.cr3 != before.cr3)
        return "CR3";
    if (after.cr4 != before.cr4)
        return "CR4";
    if (after.cr8 != before.cr8)
        return "CR8";
    return nullptr;
}

inline const char* changed_table_register(const extended_state& before, const extended_state& after)
{
    if (after.gdtr.limit != before.gdtr.limit || after.gdtr.base != before.gdtr.base)
        return "GDTR";
    if (after.idtr.limit != before.idtr.limit || after.idtr.base != before.idtr.base)
        return "IDTR";
    return nullptr;
}

// Names the first FXSAVE field that differs.
inline const char* changed_fpu_register(const extended_state& before, const extended_state& after)
{
    struct field {
        size_t first, end;
        const char* name;
    };
    static constexpr field fields[] = {
        {0, 2, "FCW"},         {2, 4, "FSW"},         {4, 5, "FTW"},         {6, 8, "FOP"},
        {8, 16, "FIP"},        {16, 24, "FDP"},       {24, 28, "MXCSR"},     {32, 42, "ST0"},
        {48, 58, "ST1"},       {64, 74, "ST2"},       {80, 90, "ST3"},       {96, 106, "ST4"},
        {112, 122, "ST5"},     {128, 138, "ST6"},     {144, 154, "ST7"},     {160, 176, "XMM0"},
        {176, 192, "XMM1"},    {192, 208, "XMM2"},    {208, 224, "XMM3"},    {224, 240, "XMM4"},
        {240, 256, "XMM5"},    {256, 272, "XMM6"},    {272, 288, "XMM7"},    {288, 304, "XMM8"},
        {304, 320, "XMM9"},    {320, 336, "XMM10"},   {336, 352, "XMM11"},   {352, 368, "XMM12"},
        {368, 384, "XMM13"},   {384, 400, "XMM14"},   {400, 416, "XMM15"},
    };
    for (const field& f : fields)
        for (size_t i = f.first; i < f.end; ++i)
            if (before.fxsave[i] != after.fxsave[i])
                return f.name;
    return nullptr;
}

}  // namespace conformance

// Stores the extended state into the struct whose address is in \base, using
// RAX, RCX and RDX (RDMSR needs them).
asm(R"(
    .macro conformance_store_extended base
    fxsave64 0(\base)
    mov %cr0, %rax
    mov %rax, 512(\base)
    mov %cr2, %rax
    mov %rax, 520(\base)
    mov %cr3, %rax
    mov %rax, 528(\base)
    mov %cr4, %rax
    mov %rax, 536(\base)
    mov %cr8, %rax
    mov %rax, 544(\base)
    mov $0xC0000100, %ecx
    rdmsr
    mov %eax, 552(\base)
    mov %edx, 556(\base)
    mov $0xC0000101, %ecx
    rdmsr
    mov %eax, 560(\base)
    mov %edx, 564(\base)
    mov %cs, 568(\base)
    mov %ds, 570(\base)
    mov %es, 572(\base)
    mov %ss, 574(\base)
    mov %fs, 576(\base)
    mov %gs, 578(\base)
    sldt 580(\base)
    str 582(\base)
    sgdt 584(\base)
    sidt 600(\base)
    .endm

    .pushsection .text.conformance_gate_extended, "ax"
    .global conformance_gate_extended
conformance_gate_extended:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    pushfq                      # the caller's RFLAGS, restored at the end
    push %rdi                   # the register block
    push %rdx                   # `after`
    conformance_store_extended %rsi
    pushq 120(%rdi)             # RFLAGS first: nothing after it may change the flags
    popfq
    mov 0(%rdi), %rax
    mov 8(%rdi), %rbx
    mov 16(%rdi), %rcx
    mov 24(%rdi), %rdx
    mov 32(%rdi), %rsi
    mov 48(%rdi), %rbp
    mov 56(%rdi), %r8
    mov 64(%rdi), %r9
    mov 72(%rdi), %r10
    mov 80(%rdi), %r11
    mov 88(%rdi), %r12
    mov 96(%rdi), %r13
    mov 104(%rdi), %r14
    mov 112(%rdi), %r15
    mov 40(%rdi), %rdi
    outl %eax, %dx
    pushfq
    push %rdi
    mov 24(%rsp), %rdi          # the block, under RDI, RFLAGS and `after`
    mov %rax, 0(%rdi)
    mov %rbx, 8(%rdi)
    mov %rcx, 16(%rdi)
    mov %rdx, 24(%rdi)
    mov %rsi, 32(%rdi)
    pop %rax
    mov %rax, 40(%rdi)
    mov %rbp, 48(%rdi)
    mov %r8, 56(%rdi)
    mov %r9, 64(%rdi)
    mov %r10, 72(%rdi)
    mov %r11, 80(%rdi)
    mov %r12, 88(%rdi)
    mov %r13, 96(%rdi)
    mov %r14, 104(%rdi)
    mov %r15, 112(%rdi)
    pop %rax
    mov %rax, 120(%rdi)
    pop %rsi                    # `after`
    conformance_store_extended %rsi
    add $8, %rsp                # the block
    popfq
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .popsection
)");

#endif
