// Benchmark guest for bench-evt (bench_evt.py): EVT timers and interrupts, one
// measurement per boot, chosen by the kernel arguments "MODE N":
//
//   late-irq N     a 1 kHz periodic timer raises a vector; the vCPU sleeps in
//                  `sti; hlt` between ticks and the handler reads TIME.monotonic_ns,
//                  acknowledges and records lateness = that time minus the first
//                  deadline not yet served (start + n x period, n counting every
//                  expiration acknowledged before, so missed periods are counted).
//                  Prints "late V V V ..." lines (ns), then "late-end N missed M".
//   late-wait N    the same, the vCPU sleeping in EVT.wait (no interrupts).
//   delivery N     loops of N, each timed with TIME.monotonic_ns:
//                  "null" N x BASE.get_spec_version; "arm-ack" N x (timer_set with
//                  a past deadline; timer_ack) with interrupts off; "irq" N
//                  interrupts self-inflicted the same way: the handler acks and
//                  re-arms with a past deadline, the main loop spins with IF=1.
//                  irq - arm-ack is the delivery itself (injection, entry, IRET);
//                  "irq-reraise" N deliveries of one pending timer that the
//                  handler leaves pending until the last: the delivery alone.
//                  Prints "delivery-LOOP N total-ns T".
//   idle-wait MS   EVT.wait with a deadline MS ms away and no source.
//   idle-halt MS   a one-shot timer MS ms away and `sti; hlt` until it fires.
//                  Both print "idle-MODE ms MS elapsed-ns T"; the script measures
//                  hbvm's CPU time around the run (MS = 0: the boot alone).
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/interrupts.hpp>
#include <hyperbios/text.hpp>

namespace hb = hyperbios;
namespace evt = hyperbios::evt;
namespace hi = hyperbios::interrupts;

namespace {

constexpr uint8_t vector = 0x40;
constexpr uint64_t period_ns = 1'000'000;  // 1 kHz
constexpr uint64_t max_samples = 20000;

uint64_t samples[max_samples];
volatile uint64_t taken, expirations, start_ns, target;

uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

void say(const char* text) { (void)hb::console::write(text); }

[[noreturn]] void fail(const char* what)
{
    hb::text::line<120> out;
    say(out.put("evt_rounds: ").put(what).put(" failed\n").c_str());
    (void)hb::power::shutdown(1);
    hb::fallback::power_off_emulator(1);
}

// One lateness sample: `at` (read before the ack) minus the first deadline not
// served before, the one that made the timer pending. Against the last
// deadline acked it could be negative: another period may end between the
// clock read and the ack.
void record(uint64_t at, uint64_t acked)
{
    const uint64_t deadline = start_ns + (expirations + 1) * period_ns;
    if (taken < max_samples)
        samples[taken] = at - deadline;
    taken = taken + 1;
    expirations = expirations + acked;
}

void on_tick(hi::frame&) noexcept
{
    const uint64_t at = now();
    record(at, evt::timer_ack(0).value_or(0));
    if (taken >= target)
        (void)evt::timer_cancel(0);
}

// The spinning variant: the handler re-arms, so the next interrupt is raised as
// soon as IRET sets IF again.
void on_self(hi::frame&) noexcept
{
    (void)evt::timer_ack(0);
    taken = taken + 1;
    if (taken < target)
        (void)evt::timer_set(0, 1, 0);  // long past: expires at once
}

// The halting variant: the main loop re-arms with IF=0 and takes the interrupt
// in `sti; hlt`.
void on_ack(hi::frame&) noexcept
{
    (void)evt::timer_ack(0);
    taken = taken + 1;
}

// The re-raise variant: the handler leaves the timer pending until the last
// round, so each IRET (IF=1 again) is followed by the next delivery of the same
// level -- the delivery alone, with no host call in the loop.
void on_reraise(hi::frame&) noexcept
{
    taken = taken + 1;
    if (taken >= target)
        (void)evt::timer_ack(0);
}

void print_samples(uint64_t n)
{
    hb::text::line<1200> out;
    for (uint64_t i = 0; i < n; ++i) {
        if (out.size() == 0)
            out.put("late");
        out.put(' ').dec(samples[i]);
        if (out.size() > 1000 || i + 1 == n) {
            say(out.put('\n').c_str());
            out.clear();
        }
    }
}

void lateness(uint64_t n, bool interrupts)
{
    target = n < max_samples ? n : max_samples;
    if (interrupts) {
        hi::set_handler(vector, on_tick);
        (void)evt::set_vector(vector);
        (void)evt::set_mask(~evt::bit(0));
    }
    start_ns = now();
    if (!evt::timer_set(0, start_ns + period_ns, period_ns).ok())
        fail("EVT.timer_set");
    if (interrupts) {
        evt::disable_interrupts();
        while (taken < target)
            evt::halt();  // `sti; hlt`; the handler ran when it returns
        evt::disable_interrupts();
    } else {
        while (taken < target) {
            const hb::result<uint64_t> pending = evt::wait(evt::no_deadline, evt::bit(0));
            const uint64_t at = now();
            if (!pending.ok())
                fail("EVT.wait");
            record(at, evt::timer_ack(0).value_or(0));
        }
        (void)evt::timer_cancel(0);
    }
    print_samples(target);
    hb::text::line<80> out;
    say(out.put("late-end ").dec(target).put(" missed ").dec(expirations - target).put('\n').c_str());
}

void report(const char* loop, uint64_t n, uint64_t ns)
{
    hb::text::line<100> out;
    say(out.put("delivery-").put(loop).put(' ').dec(n).put(" total-ns ").dec(ns).put('\n').c_str());
}

void delivery(uint64_t n, bool spin)
{
    uint64_t failures = 0;
    uint64_t t0 = now();
    for (uint64_t i = 0; i < n; ++i)
        failures += !hb::base::spec_version().ok();
    report("null", n, now() - t0);

    t0 = now();
    for (uint64_t i = 0; i < n; ++i) {
        failures += !evt::timer_set(0, 1, 0).ok();
        failures += evt::timer_ack(0).value_or(0) != 1;
    }
    report("arm-ack", n, now() - t0);

    (void)evt::set_vector(vector);
    (void)evt::set_mask(~evt::bit(0));
    if (spin) {
        hi::set_handler(vector, on_self);
        target = n;
        t0 = now();
        (void)evt::timer_set(0, 1, 0);
        evt::enable_interrupts();
        while (taken < target)
            asm volatile("pause" ::: "memory");
        evt::disable_interrupts();
        report("irq-spin", n, now() - t0);
    }

    hi::set_handler(vector, on_reraise);
    taken = 0;
    target = n;
    (void)evt::timer_set(0, 1, 0);  // long past: pending until on_reraise acks it
    t0 = now();
    evt::enable_interrupts();
    while (taken < target)
        asm volatile("pause" ::: "memory");
    evt::disable_interrupts();
    report("irq-reraise", n, now() - t0);
    failures += taken != n;

    hi::set_handler(vector, on_ack);
    taken = 0;
    t0 = now();
    for (uint64_t i = 0; i < n; ++i) {
        (void)evt::timer_set(0, 1, 0);
        evt::halt();
        evt::disable_interrupts();
    }
    report("irq-hlt", n, now() - t0);
    failures += taken != n;
    if (failures)
        fail("a call in the delivery loops");
}

void idle(uint64_t ms, bool halt)
{
    const uint64_t t0 = now();
    if (halt) {
        hi::set_handler(vector, on_tick);
        (void)evt::set_vector(vector);
        (void)evt::set_mask(~evt::bit(0));
        start_ns = t0;
        target = 1;
        if (ms)  // 0, the boot alone: nothing armed (a timer already due would fire during the call)
            (void)evt::timer_set(0, t0 + ms * 1'000'000, 0);
        evt::disable_interrupts();
        while (ms && taken < target)
            evt::halt();
        evt::disable_interrupts();
    } else if (ms) {
        (void)evt::wait(t0 + ms * 1'000'000, 0);
    }
    hb::text::line<100> out;
    say(out.put(halt ? "idle-halt ms " : "idle-wait ms ").dec(ms).put(" elapsed-ns ").dec(now() - t0).put('\n').c_str());
}

bool same(const char* a, const char* b)
{
    while (*a && *a == *b)
        ++a, ++b;
    return *a == *b;
}

uint64_t number(const char* s)
{
    uint64_t n = 0;
    for (; s && *s >= '0' && *s <= '9'; ++s)
        n = n * 10 + uint64_t(*s - '0');
    return n;
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    if (!hb::present())
        hb::fallback::power_off_emulator(2);
    static hb::boot::boot_info boot;
    boot.read(magic, info);
    const char* mode = "";
    const char* count = nullptr;
    for (const char* word : boot.arguments()) {
        if (!*mode)
            mode = word;
        else if (!count)
            count = word;
    }
    const uint64_t n = number(count);
    if (same(mode, "late-irq"))
        lateness(n, true);
    else if (same(mode, "late-wait"))
        lateness(n, false);
    else if (same(mode, "delivery"))
        delivery(n, false);
    else if (same(mode, "delivery-spin"))
        delivery(n, true);
    else if (same(mode, "idle-wait"))
        idle(n, false);
    else if (same(mode, "idle-halt"))
        idle(n, true);
    else
        fail("reading the mode (late-irq, late-wait, delivery, idle-wait or idle-halt N)");
    (void)hb::power::shutdown(0);
}
