// Ways a guest waits, chosen by the first kernel argument, for the host's tests of
// sleeping (no CPU used), of guests that nothing can wake (exit 71 with a
// diagnostic) and of stops during a wait:
//   0  EVT.wait with a deadline already past (the boot alone, for comparison); 0
//   1  EVT.wait for 1 s (deadline), then shuts down with 0
//   2  `sti; hlt` with timer 0 one second away, unmasked, no vector; then 0
//   3  EVT.wait with no deadline for a source that cannot become pending
//   4  `sti; hlt` with every source masked
//   5  `sti; hlt` on unmasked console input, for ever (until a key or a stop)
//   6  `cli; hlt` with a timer armed and unmasked
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>

#include "guest_args.hpp"

namespace hb = hyperbios;

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    const uint64_t mode = test_guest::first_number_argument(magic, info, 1);  // 1 without an argument
    const uint64_t now = hb::time::monotonic_ns().value_or(0);
    constexpr uint64_t second = 1'000'000'000;
    switch (mode) {
    case 0: (void)hb::power::shutdown(hb::evt::wait(now, hb::evt::bit(5)).ok() ? 0 : 1); break;
    case 1: {
        const auto r = hb::evt::wait(now + second, hb::evt::bit(5));
        const uint64_t after = hb::time::monotonic_ns().value_or(0);
        (void)hb::power::shutdown(r.ok() && after >= now + second ? 0 : 1);
        break;
    }
    case 2:
        (void)hb::evt::set_mask(~hb::evt::bit(0));
        (void)hb::evt::timer_set(0, now + second);
        while (hb::time::monotonic_ns().value_or(0) < now + second)
            hb::evt::halt();
        (void)hb::power::shutdown(hb::evt::timer_ack(0).value_or(0) == 1 ? 0 : 1);
        break;
    case 3: (void)hb::evt::wait(hb::evt::no_deadline, hb::evt::bit(3)); break;
    case 4:
        (void)hb::evt::timer_set(0, now + second);
        hb::evt::halt();
        break;
    case 5:
        (void)hb::evt::set_mask(~hb::evt::bit(hb::evt::console_input));
        for (;;)
            hb::evt::halt();
    case 6:
        (void)hb::evt::set_mask(~hb::evt::bit(0));
        (void)hb::evt::timer_set(0, now + second);
        asm volatile("cli; hlt");
        break;
    }
    (void)hb::power::shutdown(2);  // not reached where the host ends the run
}
