// Page translation as a kernel uses it, for both accelerators: a remapped page,
// a higher-half mapping, two address spaces switched by CR3, INVLPG and a CR3
// reload, a call whose buffer's virtual and physical addresses differ, and code
// the host wrote (CONSOLE.read into a page mapped elsewhere) run at once.
// One "PASS name" or "FAIL name (detail)" line per check on the debug console;
// shuts down with 0 when all passed, 1 otherwise. The last check needs the six
// bytes B8 2A 00 00 00 C3 (mov eax, 42; ret) on stdin.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

constexpr uint64_t present = 1, writable = 2, large = 0x80;
constexpr uint64_t test_va = 0x40000000;                  // 1 GiB: nothing identity-mapped there
constexpr uint64_t higher_half = 0xFFFFFFFF80000000ull;  // the last 2 GiB, as kernels link themselves

struct alignas(4096) table {
    uint64_t e[512];
};

table pml4_a, pml4_b, pdpt_low, pd_identity, pt_identity, pd_test, pt_test_a, pt_test_b, pdpt_high, pd_high;
alignas(4096) unsigned char page_a[4096], page_b[4096], page_c[4096], page_code[4096];
volatile uint64_t marker = 0x1234'5678'9ABC'DEF0ull;
bool all_passed = true;

uint64_t phys(const void* p) { return uint64_t(p); }  // the image runs identity-mapped

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

void load_cr3(uint64_t v) { asm volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
uint64_t read_cr3()
{
    uint64_t v;
    asm volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
void invlpg(uint64_t va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }
uint8_t read_byte(uint64_t va) { return *reinterpret_cast<volatile uint8_t*>(va); }

// Identity map of the first GiB with 2 MiB pages, the test GiB through 4 KiB
// pages (pt), and the higher half onto physical 0.
void build(table& pml4, table& pt)
{
    pml4.e[0] = phys(&pdpt_low) | present | writable;
    pml4.e[511] = phys(&pdpt_high) | present | writable;
    pdpt_low.e[0] = phys(&pd_identity) | present | writable;
    pdpt_low.e[1] = phys(&pd_test) | present | writable;
    for (uint64_t i = 0; i < 512; ++i)
        pd_identity.e[i] = (i << 21) | present | writable | large;
    // The 2 MiB around page_code through 4 KiB pages, without page_code itself: the
    // code page is reachable only at test_va + 0x2000, so the host's write to it
    // must drop translated code by its physical address, not by a virtual one
    // that happens to be the same.
    const uint64_t region = phys(page_code) & ~((1ull << 21) - 1);
    for (uint64_t i = 0; i < 512; ++i)
        pt_identity.e[i] = (region + (i << 12)) | present | writable;
    pt_identity.e[(phys(page_code) - region) >> 12] = 0;
    pd_identity.e[region >> 21] = phys(&pt_identity) | present | writable;
    pdpt_high.e[510] = phys(&pd_high) | present | writable;
    pd_high.e[0] = 0 | present | writable | large;
    pd_high.e[1] = (1ull << 21) | present | writable | large;
    (void)pt;
}

}  // namespace

extern "C" void kernel_main(uint32_t, uint32_t)
{
    if (!hb::present())
        hb::fallback::power_off_emulator(2);
    for (int i = 0; i < 4096; ++i)
        page_a[i] = 0xAA, page_b[i] = 0xBB;
    // Address space A: test_va -> page_a; B: test_va -> page_b. Both map
    // test_va + 0x1000 -> page_c and test_va + 0x2000 -> page_code.
    build(pml4_a, pt_test_a);
    pml4_b = pml4_a;
    pd_test.e[0] = phys(&pt_test_a) | present | writable;
    pt_test_a.e[0] = phys(page_a) | present | writable;
    pt_test_b.e[0] = phys(page_b) | present | writable;
    table* const pts[] = {&pt_test_a, &pt_test_b};
    for (table* pt : pts) {
        pt->e[1] = phys(page_c) | present | writable;
        pt->e[2] = phys(page_code) | present | writable;
    }
    // B differs only in its own pd_test copy.
    static table pdpt_low_b, pd_test_b;
    pdpt_low_b = pdpt_low;
    pd_test_b.e[0] = phys(&pt_test_b) | present | writable;
    pdpt_low_b.e[1] = phys(&pd_test_b) | present | writable;
    pml4_b.e[0] = phys(&pdpt_low_b) | present | writable;

    const uint64_t boot_cr3 = read_cr3();
    load_cr3(phys(&pml4_a));

    // 1. A remapped page reads and writes through to its physical page.
    report(read_byte(test_va) == 0xAA, "remapped page reads the physical page behind it");
    *reinterpret_cast<volatile uint8_t*>(test_va + 7) = 0x5C;
    report(page_a[7] == 0x5C, "a write through the mapping lands in that physical page");

    // 2. The higher half.
    const auto* high = reinterpret_cast<const volatile uint64_t*>(higher_half + uint64_t(&marker));
    report(*high == marker, "a higher-half mapping reads the kernel's data");

    // 3. Two address spaces.
    load_cr3(phys(&pml4_b));
    const uint8_t in_b = read_byte(test_va);
    load_cr3(phys(&pml4_a));
    const uint8_t in_a = read_byte(test_va);
    report(in_b == 0xBB && in_a == 0xAA, "switching CR3 switches the address space");

    // 4. INVLPG and a CR3 reload after changing a page-table entry.
    (void)read_byte(test_va);  // cached in the TLB now
    pt_test_a.e[0] = phys(page_b) | present | writable;
    invlpg(test_va);
    const uint8_t after_invlpg = read_byte(test_va);
    pt_test_a.e[0] = phys(page_a) | present | writable;
    load_cr3(read_cr3());
    const uint8_t after_reload = read_byte(test_va);
    report(after_invlpg == 0xBB, "INVLPG makes a changed entry take effect");
    report(after_reload == 0xAA, "a CR3 reload makes a changed entry take effect");

    // 5. Calls name guest-physical addresses.
    const char text[] = "paging_probe: written through a remapped page\n";
    for (unsigned i = 0; i < sizeof text - 1; ++i)
        *reinterpret_cast<volatile char*>(test_va + 0x1000 + i) = text[i];
    const auto w = hb::console::write(hb::gpa{phys(page_c)}, sizeof text - 1);
    report(w.ok() && w.value == sizeof text - 1, "CONSOLE.write of a buffer by its physical address");

    // 6. Code the host writes into a page mapped elsewhere runs at once.
    const unsigned char returns_1[] = {0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3};  // mov eax, 1; ret
    for (unsigned i = 0; i < sizeof returns_1; ++i)
        *reinterpret_cast<volatile unsigned char*>(test_va + 0x2000 + i) = returns_1[i];
    using fn = int (*)();
    const fn code = reinterpret_cast<fn>(test_va + 0x2000);
    const int before = code();  // translated (and cached) now
    size_t got = 0;
    for (int tries = 0; tries < 1000000 && got < 6; ++tries) {
        const auto r = hb::console::read(hb::gpa{phys(page_code) + got}, 6 - got);
        got += r.ok() ? r.value : 0;
    }
    if (got < 6) {
        report(false, "code written by the host runs at once", "no 6 bytes of code on stdin");
    } else {
        const int after = code();
        hb::text::line<80> d;
        d.put("before ").dec(uint64_t(before)).put(", after ").dec(uint64_t(after)).put(", expected 1 then 42");
        report(before == 1 && after == 42, "code written by the host runs at once", d.c_str());
    }

    load_cr3(boot_cr3);
    (void)hb::power::shutdown(all_passed ? 0 : 1);
}
