// Benchmark guest: N register-only OUTs to a port nothing decodes (0x500), timed
// with the host's monotonic clock: the raw cost of an exit through the host, the
// baseline of a call for bench-soft. N from the kernel command line ("IMAGE N").
// Prints "raw-out-unclaimed N total-ns T failures 0". Kept apart from the
// null-calls image, whose code layout bench-kvm-calls is sensitive to under
// nested paging.
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

namespace {

uint64_t count_from_cmdline(uint32_t magic, uint32_t info_address)
{
    uint64_t n = 10000;
    if (magic != hb::multiboot::loader_magic)
        return n;
    const auto* info = reinterpret_cast<const hb::multiboot::info*>(uint64_t(info_address));
    if (!(info->flags & hb::multiboot::info_cmdline))
        return n;
    const char* s = reinterpret_cast<const char*>(uint64_t(info->cmdline));
    while (*s && *s != ' ')
        ++s;
    while (*s == ' ')
        ++s;
    uint64_t parsed = 0;
    for (; *s >= '0' && *s <= '9'; ++s)
        parsed = parsed * 10 + uint64_t(*s - '0');
    return parsed ? parsed : n;
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    uint64_t n = count_from_cmdline(magic, info);
    if (!hb::present())
        hb::fallback::power_off_emulator(2);
    const uint64_t count = n;
    const uint64_t t0 = hb::time::monotonic_ns().value;
    // The same loop shape as the null-calls gate loop, OUT to an unclaimed port.
    asm volatile("1:\n\t"
                 "xor %%eax, %%eax\n\t"
                 "mov $0x500, %%dx\n\t"
                 "outl %%eax, %%dx\n\t"
                 "dec %[n]\n\t"
                 "jnz 1b"
                 : [n] "+r"(n)
                 :
                 : "rax", "rdx", "memory", "cc");
    const uint64_t t1 = hb::time::monotonic_ns().value;
    hb::text::line<128> out;
    out.put("raw-out-unclaimed ").dec(count).put(" total-ns ").dec(t1 - t0).put(" failures 0\n");
    (void)hb::console::write(out.c_str());
    (void)hb::power::shutdown(0);
}
