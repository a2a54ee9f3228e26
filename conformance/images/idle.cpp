// A machine that waits, then one that can never wake: what only the outside of
// the machine can see about sleeping.
//
// HB-EVT-015 (SHOULD): a vCPU waiting in EVT.wait or in HLT costs the host no
// CPU. The image waits half a second each way between "MEASURE-CPU BEGIN/END"
// lines, and the driver, which reads the host's output while it runs, measures
// the CPU time of the host's processes between them.
//
// HB-PWR-005 (MUST): a host reports how a machine ended, so that a shutdown with
// any code is told apart from every other end. Last of all the image halts with
// interrupts disabled — nothing can ever wake it — after announcing it
// ("EXPECT-END HB-PWR-005 halted 5"): within 5 s the host either ends the
// machine and reports the end as halted (never as a shutdown), or keeps it
// asleep, which HB-EVT-012 allows and the driver ends. The SUMMARY comes before
// the halt; its exit code is never given.
#include "image.hpp"

#include <hyperbios/interrupts.hpp>

namespace conformance {

namespace {

constexpr uint64_t window_ns = 500'000'000;  // each measured wait
constexpr unsigned event_vector = 0x40;
constexpr uint16_t timer = 0;

volatile unsigned interrupts_taken;

void on_event(hb::interrupts::frame&) noexcept
{
    interrupts_taken = interrupts_taken + 1;
    (void)hb::evt::timer_ack(timer);  // consume the source, so the level drops
}

void measure_waits()
{
    if (!advertises(hb::abi::service::evt) || !advertises(hb::abi::service::time)) {
        note("the host does not advertise EVT and TIME: nothing waits here");
        return;
    }
    // EVT.wait until a deadline, with nothing in the set.
    const auto start = hb::time::monotonic_ns();
    if (!start.ok())
        return;
    measure_cpu(true, "HB-EVT-015", "EVT.wait for 0.5 s with no source in the set");
    const auto waited = hb::evt::wait(start.value + window_ns, 0);
    measure_cpu(false, "HB-EVT-015", "EVT.wait for 0.5 s with no source in the set");
    const auto after = hb::time::monotonic_ns();
    line l;
    l.put("EVT.wait: status ").put(hb::abi::status_name(waited.code)).put(", ").dec(
        after.ok() ? (after.value - start.value) / 1000000 : 0).put(" ms");
    note(l.c_str());

    // HLT with interrupts on, woken by a one-shot timer's interrupt.
    hb::interrupts::set_handler(event_vector, on_event);
    const auto now = hb::time::monotonic_ns();
    if (!now.ok() || !hb::evt::timer_set(timer, now.value + window_ns, 0).ok() ||
        !hb::evt::set_vector(event_vector).ok() || !hb::evt::set_mask(~(uint64_t(1) << timer)).ok()) {
        note("could not arm a timer with an interrupt: no HLT measured");
        return;
    }
    measure_cpu(true, "HB-EVT-015", "sti; hlt for 0.5 s until a timer's interrupt");
    for (unsigned spins = 0; interrupts_taken == 0 && spins < 1000; ++spins)
        hb::evt::halt();  // a HLT may end early (spurious wake-up): halt again
    hb::evt::disable_interrupts();
    measure_cpu(false, "HB-EVT-015", "sti; hlt for 0.5 s until a timer's interrupt");
    (void)hb::evt::set_mask(~uint64_t(0));
    (void)hb::evt::set_vector(0);
    line h;
    h.put("HLT woken by ").dec(interrupts_taken).put(" interrupt(s)");
    note(h.c_str());
}

}  // namespace

void run_checks()
{
    measure_waits();
    summary();
    emit(line().put("EXPECT-END HB-PWR-005 halted 5"));
    // Interrupts off, nothing to wake it: the host ends the machine (as halted)
    // or keeps it asleep until the driver stops it.
    for (;;)
        asm volatile("cli; hlt" ::: "memory");
}

}  // namespace conformance
