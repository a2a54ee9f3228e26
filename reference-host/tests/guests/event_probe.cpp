// EVT on every accelerator, seen from a guest: a periodic timer raises its vector
// while the guest spins (preemption) and while it sleeps in HLT, the frame points
// into the interrupted code, and a guest that waits uses no host CPU. One
// "PASS name" / "FAIL name (detail)" line per check; `event_probe N` runs N ticks
// of 10 ms each (default 20).
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/interrupts.hpp>
#include <hyperbios/text.hpp>

#include "guest_args.hpp"

namespace hb = hyperbios;
namespace hi = hyperbios::interrupts;

namespace {

constexpr uint8_t tick_vector = 0x40;
constexpr uint64_t period_ns = 10'000'000;

uint64_t ticks, expirations, bad_frames, last_rip;  // written by the handler, read with volatile_read
extern "C" char spin_start[], spin_end[];
bool all_passed = true;

void on_tick(hi::frame& f) noexcept
{
    ticks = ticks + 1;
    last_rip = f.rip;
    if (f.vector != tick_vector || (f.rflags & (1u << 9)) == 0)
        bad_frames = bad_frames + 1;
    expirations = expirations + hb::evt::timer_ack(0).value_or(0);
}

void report(bool ok, const char* name, uint64_t a = 0, uint64_t b = 0)
{
    hb::text::line<200> l;
    l.put(ok ? "PASS " : "FAIL ").put(name);
    if (!ok)
        l.put(" (").dec(a).put(", ").dec(b).put(')');
    l.put('\n');
    hb::fallback::debugcon_write(l.c_str());
    all_passed = all_passed && ok;
}

uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    const uint64_t rounds = test_guest::first_number_argument(magic, info, 20);
    hi::set_handler(tick_vector, on_tick);
    report(hb::evt::timer_count().value_or(0) >= 8, "at least 8 timers");
    (void)hb::evt::set_mask(~hb::evt::bit(0));
    (void)hb::evt::set_vector(tick_vector);
    const uint64_t start = now();
    (void)hb::evt::timer_set(0, start + period_ns, period_ns);

    // Preemption: a loop that never calls the host nor halts is interrupted.
    hb::evt::enable_interrupts();
    const uint64_t spin_until = start + rounds / 2 * period_ns;
    uint64_t in_spin = 0;
    while (now() < spin_until) {
        const uint64_t before = ticks;
        asm volatile("spin_start: mov $200000, %%ecx\n1: dec %%ecx\n jnz 1b\nspin_end:" ::: "ecx", "memory");
        if (ticks != before && last_rip >= uint64_t(spin_start) && last_rip <= uint64_t(spin_end))
            ++in_spin;
    }
    report(in_spin > 0, "ticks interrupt a spinning loop", in_spin, ticks);

    // Sleeping: HLT until each tick.
    const uint64_t before = ticks;
    while (ticks < rounds)
        hb::evt::halt();
    hb::evt::disable_interrupts();
    const uint64_t elapsed = now() - start;
    report(ticks - before > 0, "HLT wakes for ticks", ticks - before, 0);
    report(bad_frames == 0, "frames name the vector with IF set", bad_frames, 0);
    report(elapsed >= rounds * period_ns, "no tick before its deadline", elapsed, rounds * period_ns);
    report(expirations >= ticks, "every tick acknowledged an expiration", expirations, ticks);
    hb::fallback::debugcon_write(all_passed ? "event_probe: all passed\n" : "event_probe: FAILED\n");
    (void)hb::power::shutdown(all_passed ? 0 : 1);
}
