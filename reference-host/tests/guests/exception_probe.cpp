// CPU exceptions through the guest's own IDT, as hardware delivers them: the
// vector, the error code, CR2, the frame (RIP, CS, RFLAGS, RSP, SS) and the stack
// the handler runs on. Each check makes one exception, whose handler records what
// it saw and resumes after the faulting instruction. One "PASS name" or
// "FAIL name (detail)" line per check on the debug console; shuts down with 0
// when all passed, 1 otherwise.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

// What the common entry saves: the stub pushes the vector (and a zero for
// vectors without an error code), the CPU the error code and the frame.
struct frame {
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

struct seen {
    uint64_t vector, error, rip, cs, rflags, rsp, ss, cr2, frame_top;
    int count;
};

volatile seen last;
volatile uint64_t resume_at;  // where the handler continues the interrupted code

struct [[gnu::packed]] gate {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
};
static_assert(sizeof(gate) == 16);
gate idt[256];

struct [[gnu::packed]] descriptor_pointer {
    uint16_t limit;
    uint64_t base;
};

}  // namespace

extern "C" void exception_probe_handler(frame* f)
{
    uint64_t cr2;
    asm volatile("mov %%cr2, %0" : "=r"(cr2));
    last.vector = f->vector;
    last.error = f->error;
    last.rip = f->rip;
    last.cs = f->cs;
    last.rflags = f->rflags;
    last.rsp = f->rsp;
    last.ss = f->ss;
    last.cr2 = cr2;
    last.frame_top = uint64_t(&f->ss) + sizeof f->ss;  // where RSP stood before the CPU pushed the frame
    last.count = last.count + 1;
    f->rip = resume_at;
}

// Entry stubs: vectors 8, 10-14, 17, 21 have an error code from the CPU.
asm(R"(
    .pushsection .text.exception_probe, "ax"
    .global exception_probe_stubs
    .balign 16
exception_probe_common:
    push %rax; push %rbx; push %rcx; push %rdx; push %rsi; push %rdi; push %rbp
    push %r8; push %r9; push %r10; push %r11; push %r12; push %r13; push %r14; push %r15
    lea 120(%rsp), %rdi
    mov %rsp, %rbx
    and $-16, %rsp
    cld
    call exception_probe_handler
    mov %rbx, %rsp
    pop %r15; pop %r14; pop %r13; pop %r12; pop %r11; pop %r10; pop %r9; pop %r8
    pop %rbp; pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rbx; pop %rax
    add $16, %rsp
    iretq
    .balign 16
exception_probe_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .balign 16
    .if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21)
    pushq $\v
    .else
    pushq $0
    pushq $\v
    .endif
    jmp exception_probe_common
    .endr
    .balign 16
exception_probe_stub_0x80:
    pushq $0
    pushq $0x80
    jmp exception_probe_common
    .popsection
)");
extern "C" const char exception_probe_stubs[];
extern "C" const char exception_probe_stub_0x80[];

namespace {

bool all_passed = true;

void report(bool ok, const char* name, const char* detail)
{
    hb::text::line<200> l;
    l.put(ok ? "PASS " : "FAIL ").put(name);
    if (!ok)
        l.put(" (").put(detail).put(')');
    l.put('\n');
    hb::fallback::debugcon_write(l.c_str());
    all_passed = all_passed && ok;
}

void set_gate(unsigned vector, uint64_t handler, uint8_t type)
{
    uint16_t cs;
    asm volatile("mov %%cs, %0" : "=r"(cs));
    idt[vector] = {uint16_t(handler), cs, 0, type, uint16_t(handler >> 16), uint32_t(handler >> 32), 0};
}

// Describes what the last exception looked like, for a FAIL line.
void describe(hb::text::line<200>& d)
{
    d.put("count ").dec(uint64_t(last.count)).put(" vector ").dec(last.vector).put(" error ").hex(last.error);
    d.put(" rip ").hex(last.rip).put(" cr2 ").hex(last.cr2).put(" cs ").hex(last.cs).put(" rflags ").hex(last.rflags);
}

void clear()
{
    last.count = 0;
    last.vector = 0xFF;
    last.error = 0xDEAD;
    last.cr2 = 0;
}

constexpr uint64_t rflags_if = 1u << 9;

// Page tables for the fault checks: the boot stub's map, plus a 4 KiB-page
// window at 1 GiB: page 0 absent, page 1 read-only.
struct alignas(4096) table {
    uint64_t e[512];
};
table pd_window, pt_window;
alignas(4096) unsigned char readonly_page[4096];
constexpr uint64_t window = 0x40000000;

void map_window()
{
    uint64_t cr3;
    asm volatile("mov %%cr3, %0" : "=r"(cr3));
    auto* pml4 = reinterpret_cast<uint64_t*>(cr3 & ~0xFFFull);
    auto* pdpt = reinterpret_cast<uint64_t*>(pml4[0] & ~0xFFFull);
    pdpt[1] = uint64_t(&pd_window) | 3;  // replaces the boot stub's identity map of 1-2 GiB (no RAM there)
    pd_window.e[0] = uint64_t(&pt_window) | 3;
    pt_window.e[0] = 0;                                   // not present
    pt_window.e[1] = uint64_t(readonly_page) | 1;         // present, read-only
    asm volatile("mov %0, %%cr3" ::"r"(cr3) : "memory");
    uint64_t cr0;
    asm volatile("mov %%cr0, %0" : "=r"(cr0));
    asm volatile("mov %0, %%cr0" ::"r"(cr0 | (1u << 16)) : "memory");  // WP: supervisor writes obey read-only
}

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    for (unsigned v = 0; v < 32; ++v)
        set_gate(v, uint64_t(exception_probe_stubs) + 16 * v, 0x8E);  // interrupt gates
    set_gate(3, uint64_t(exception_probe_stubs) + 16 * 3, 0x8F);      // #BP: a trap gate, IF stays
    set_gate(0x80, uint64_t(exception_probe_stub_0x80), 0xEF);         // INT 0x80: trap gate, DPL 3
    const descriptor_pointer idtr{sizeof idt - 1, uint64_t(idt)};
    asm volatile("lidt %0" ::"m"(idtr));
    map_window();
    uint16_t cs, ss;
    asm volatile("mov %%cs, %0; mov %%ss, %1" : "=r"(cs), "=r"(ss));
    hb::text::line<200> d;

    // #DE: divide by zero; RIP is the faulting instruction.
    clear();
    uint64_t fault_rip, rsp_before;
    asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]; lea 2f(%%rip), %[at]; mov %%rsp, %[sp]\n\t"
                 "xor %%ecx, %%ecx; mov $1, %%eax; xor %%edx, %%edx\n"
                 "2: div %%ecx\n"
                 "1:"
                 : [at] "=&r"(fault_rip), [sp] "=&r"(rsp_before), [resume] "=m"(resume_at)
                 :
                 : "rax", "rcx", "rdx", "memory", "cc");
    d = {};
    describe(d);
    report(last.count == 1 && last.vector == 0 && last.error == 0 && last.rip == fault_rip,
           "#DE: vector 0, RIP of the DIV", d.c_str());
    report(last.cs == cs && (last.ss & 0xFFFC) == (ss & 0xFFFC) && last.rsp == rsp_before,
           "#DE: the frame holds CS, SS and the RSP before the fault", d.c_str());
    report((last.frame_top & 0xF) == 0, "#DE: the CPU aligned the stack to 16 bytes before the frame", d.c_str());

    // #BP through a trap gate: RIP after INT3; interrupts stay as they were.
    clear();
    asm volatile("sti; lea 1f(%%rip), %%rax; mov %%rax, %[resume]\n\t"
                 "int3\n"
                 "1: cli\n\t"
                 "lea 1b(%%rip), %[at]"
                 : [at] "=&r"(fault_rip), [resume] "=m"(resume_at)
                 :
                 : "rax", "memory");
    d = {};
    describe(d);
    report(last.count == 1 && last.vector == 3 && last.rip == fault_rip, "#BP: vector 3, RIP after INT3", d.c_str());
    report((last.rflags & rflags_if) != 0, "#BP: a trap gate saves IF as it was (set)", d.c_str());

    // #UD: UD2.
    clear();
    asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]; lea 2f(%%rip), %[at]\n"
                 "2: ud2\n"
                 "1:"
                 : [at] "=&r"(fault_rip), [resume] "=m"(resume_at)
                 :
                 : "rax", "memory");
    d = {};
    describe(d);
    report(last.count == 1 && last.vector == 6 && last.rip == fault_rip, "#UD: vector 6, RIP of the UD2", d.c_str());

    // #GP: a non-canonical address; error code 0.
    clear();
    asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]; lea 2f(%%rip), %[at]\n\t"
                 "movabs $0x8000000000000000, %%rcx\n"
                 "2: mov (%%rcx), %%rax\n"
                 "1:"
                 : [at] "=&r"(fault_rip), [resume] "=m"(resume_at)
                 :
                 : "rax", "rcx", "memory");
    d = {};
    describe(d);
    report(last.count == 1 && last.vector == 13 && last.error == 0 && last.rip == fault_rip,
           "#GP: vector 13, error 0, RIP of the access", d.c_str());

    // #PF, read of a page that is not present: CR2 and error code 0.
    clear();
    asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]; lea 2f(%%rip), %[at]\n"
                 "2: mov (%[addr]), %%rax\n"
                 "1:"
                 : [at] "=&r"(fault_rip), [resume] "=m"(resume_at)
                 : [addr] "r"(window + 0x123)
                 : "rax", "memory");
    d = {};
    describe(d);
    report(last.count == 1 && last.vector == 14 && last.cr2 == window + 0x123 && last.error == 0 &&
               last.rip == fault_rip,
           "#PF: read of a page not present: CR2, error 0", d.c_str());

    // #PF, write to a read-only page (CR0.WP set): error P|W.
    clear();
    asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]\n"
                 "2: movb $1, (%[addr])\n"
                 "1:"
                 : [resume] "=m"(resume_at)
                 : [addr] "r"(window + 0x1000 + 8)
                 : "rax", "memory");
    d = {};
    describe(d);
    report(last.count == 1 && last.vector == 14 && last.cr2 == window + 0x1008 && last.error == 3,
           "#PF: write to a read-only page: CR2, error P|W (3)", d.c_str());

    // #PF, write to a page that is not present: error W (2).
    clear();
    asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]\n"
                 "2: movb $1, (%[addr])\n"
                 "1:"
                 : [resume] "=m"(resume_at)
                 : [addr] "r"(window + 0x10)
                 : "rax", "memory");
    d = {};
    describe(d);
    // Bit 1 (W) of this error code is the one thing the software engine cannot
    // tell (README): checked apart, and printed for the test to pin per engine.
    report(last.count == 1 && last.vector == 14 && last.cr2 == window + 0x10 && (last.error & ~2ull) == 0,
           "#PF: write to a page not present: CR2, error P clear", d.c_str());
    hb::text::line<80> info;
    info.put("INFO #PF: write to a page not present: error ").hex(last.error).put('\n');
    hb::fallback::debugcon_write(info.c_str());

    // INT 0x80: a software interrupt through a DPL-3 trap gate; RIP after it.
    clear();
    asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]\n\t"
                 "int $0x80\n"
                 "1: lea 1b(%%rip), %[at]"
                 : [at] "=&r"(fault_rip), [resume] "=m"(resume_at)
                 :
                 : "rax", "memory");
    d = {};
    describe(d);
    report(last.count == 1 && last.vector == 0x80 && last.rip == fault_rip, "INT 0x80: vector 0x80, RIP after it",
           d.c_str());

    // An interrupt gate clears IF in the handler; IRETQ restores it.
    clear();
    uint64_t flags_after;
    asm volatile("sti; lea 1f(%%rip), %%rax; mov %%rax, %[resume]\n\t"
                 "ud2\n"
                 "1: pushfq; pop %[flags]; cli"
                 : [flags] "=r"(flags_after), [resume] "=m"(resume_at)
                 :
                 : "rax", "memory");
    d = {};
    describe(d);
    report((last.rflags & rflags_if) && (flags_after & rflags_if),
           "interrupt gate: IF saved set in the frame, restored by IRETQ", d.c_str());

    (void)hb::power::shutdown(all_passed ? 0 : 1);
}
