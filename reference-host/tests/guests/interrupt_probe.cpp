// The guest library's interrupt helper (<hyperbios/interrupts.hpp>), on every
// accelerator: handlers set per vector get the frame (vector, error code, RIP,
// saved registers), may resume elsewhere, and a software interrupt reaches its
// handler too. One "PASS name" / "FAIL name (detail)" line per check.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/interrupts.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;
namespace hi = hyperbios::interrupts;

namespace {

volatile uint64_t seen_vector, seen_error, seen_rip, seen_rbx, seen_cr2;
volatile uint64_t resume_at;
bool all_passed = true;

void record(hi::frame& f) noexcept
{
    seen_vector = f.vector;
    seen_error = f.error_code;
    seen_rip = f.rip;
    seen_rbx = f.rbx;
    uint64_t cr2;
    asm volatile("mov %%cr2, %0" : "=r"(cr2));
    seen_cr2 = cr2;
    f.rip = resume_at;
    f.rbx = 0x600D;  // a handler can return values in registers
}

void report(bool ok, const char* name)
{
    hb::text::line<200> l;
    l.put(ok ? "PASS " : "FAIL ").put(name);
    if (!ok)
        l.put(" (vector ").dec(seen_vector).put(" error ").hex(seen_error).put(" rip ").hex(seen_rip).put(" cr2 ").hex(
            seen_cr2).put(')');
    l.put('\n');
    hb::fallback::debugcon_write(l.c_str());
    all_passed = all_passed && ok;
}

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    hi::set_handler(6, record);
    hi::set_handler(14, record);
    hi::set_handler(0x40, record);

    uint64_t at, rbx = 0x1234;
    asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]; lea 2f(%%rip), %[at]\n"
                 "2: ud2\n"
                 "1:"
                 : [at] "=&r"(at), [resume] "=m"(resume_at), "+b"(rbx)
                 :
                 : "rax", "memory");
    report(seen_vector == 6 && seen_rip == at && seen_error == 0, "#UD reaches its handler with RIP and vector");
    report(rbx == 0x600D, "the handler's change to RBX is what the code sees after it");

    asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]\n"
                 "2: mov (%[addr]), %%rax\n"
                 "1:"
                 : [resume] "=m"(resume_at)
                 : [addr] "r"(uint64_t(0x10))
                 : "rax", "memory");
    report(seen_vector == 14 && seen_cr2 == 0x10 && seen_error == 0,
           "a null-page read raises #PF with CR2 and error code 0 (page 0 is unmapped)");

    asm volatile("lea 1f(%%rip), %%rax; mov %%rax, %[resume]\n\t"
                 "int $0x40\n"
                 "1:"
                 : [resume] "=m"(resume_at)
                 :
                 : "rax", "memory");
    report(seen_vector == 0x40, "INT 0x40 reaches its handler");

    const auto tables = hb::boot::boot_page_tables();
    report((tables.pt0[0] & 1) == 0 && (tables.pt0[1] & 1) == 1 && (tables.pml4[0] & 1) == 1,
           "the boot page tables are reachable, page 0 absent");
    (void)hb::power::shutdown(all_passed ? 0 : 1);
}
