// Benchmark guest: N register-only OUTs to a port nothing decodes (0x500), timed
// with the host's monotonic clock: the raw cost of an exit through the host, the
// baseline of a call for bench-soft. N from the kernel command line ("IMAGE N").
// Prints "raw-out-unclaimed N total-ns T failures 0". Kept apart from the
// null-calls image, whose code layout bench-kvm-calls is sensitive to under
// nested paging.
#include "../tests/guests/guest_args.hpp"

#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    uint64_t n = test_guest::first_number_argument(magic, info, 10000);
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
