// EVT service (spec chapter 13): timers, the pending set, poll and wait, the
// mask and the interrupt vector, delivery while spinning and from HLT, no
// interrupt when none may come, the interrupt shadow of STI and MOV SS, vectors
// the IDT cannot deliver, sources the host does not have, the console input
// source, and the state at every boot.
//
// Every time is read from TIME.monotonic_ns, the clock the deadlines are in, and
// every timing check is one-sided where the host's scheduling could make it
// late: never early is exact; "at once" and counts from below allow slack.
//
// The first boot checks the power-on state, then leaves every setting changed
// (timers armed, some already expired, mask and vector set) and calls
// POWER.reboot; the second boot checks that the state is the boot state again
// (the driver counts the boots: EXPECT-BOOTS) and runs the other checks. A host
// whose policy refuses the reboot gets the other checks in the first boot.
#include "image.hpp"

#include <hyperbios/interrupts.hpp>

namespace hi = hyperbios::interrupts;

extern "C" char evt_spin_start[], evt_spin_end[], evt_hlt_after[];
extern "C" char evt_sti_shadowed[], evt_sti_open[], evt_sti_end[];
extern "C" char evt_ss_units[], evt_ss_units_end[];
extern "C" uint16_t evt_ss_selector;

namespace conformance {

namespace {

using fn = hb::abi::function;
namespace evt = hb::evt;

constexpr uint64_t ms = 1'000'000;
constexpr uint8_t vector = 0x41;
constexpr uint64_t timer_bits_mask_of(uint64_t count) { return count >= 64 ? ~0ull : (1ull << count) - 1; }
constexpr uint64_t console_input_length = 24 + 256;  // what the driver feeds (console.cpp)

uint64_t timers;       // EVT.timer_count
uint64_t timer_bits;   // the sources that are timers (at most the 32 the spec numbers)

uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

line& put_ns(line& l, const char* what, uint64_t ns)
{
    return l.put(what).put(' ').dec(ns);
}

// A check with two numbers in its failure detail.
bool check_numbers(const char* rid, bool ok, const char* description, const char* a_name, uint64_t a,
                   const char* b_name, uint64_t b)
{
    line why;
    put_ns(why, a_name, a).put(", ");
    put_ns(why, b_name, b);
    return check(rid, ok, description, why.c_str());
}

void quiet_all()
{
    for (uint16_t t = 0; t < timers; ++t)
        (void)evt::timer_cancel(t);
    (void)evt::set_vector(0);
    (void)evt::set_mask(evt::all_sources);
}

// ---------------------------------------------------------------------------
// The interrupt handler: records the frame of every delivery.
// ---------------------------------------------------------------------------

struct seen_frame {
    uint64_t vector, error_code, rip, cs, rflags, ss, at_ns;
    int64_t clock_status;  // of the handler's TIME.monotonic_ns
};

volatile uint64_t deliveries;
volatile uint64_t ack_from;     // the handler acknowledges the timer from this delivery on (1: the first)
volatile uint16_t handler_timer;
seen_frame frames[4];

void on_event(hi::frame& f) noexcept
{
    const uint64_t n = deliveries + 1;
    deliveries = n;
    if (n <= 4) {
        const auto clock = hb::time::monotonic_ns();
        frames[n - 1] = {f.vector, f.error_code, f.rip, f.cs, f.rflags, f.ss, clock.value_or(0), int64_t(clock.code)};
    }
    if (n >= ack_from)
        (void)evt::timer_ack(handler_timer);
    if (n > 16) {  // a host that raises the vector for ever: stop it
        (void)evt::set_vector(0);
        (void)evt::set_mask(evt::all_sources);
    }
}

uint64_t current_cs()
{
    uint64_t cs;
    asm volatile("mov %%cs, %0" : "=r"(cs));
    return cs & 0xFFFF;
}

uint64_t current_ss()
{
    uint64_t ss;
    asm volatile("mov %%ss, %0" : "=r"(ss));
    return ss & 0xFFFF;
}

// Spins with interrupts enabled for `loops` rounds or until `deliveries`
// reaches `until`; the interrupted RIP lies in [evt_spin_start, evt_spin_end].
[[gnu::noinline]] void spin_with_interrupts(uint64_t loops, uint64_t until = 1)
{
    asm volatile("sti\n"
                 "evt_spin_start:\n"
                 "1: cmpq %[u], %[d]\n"
                 "   jae 2f\n"
                 "   dec %[n]\n"
                 "   jnz 1b\n"
                 "2: cli\n"
                 "evt_spin_end:\n"
                 : [n] "+r"(loops)
                 : [d] "m"(deliveries), [u] "r"(until)
                 : "memory", "cc");
}

// One `sti; hlt`, then interrupts off again: an interrupt taken here saves the
// RIP after HLT (evt_hlt_after).
[[gnu::noinline]] void halt_once()
{
    asm volatile("sti\n"
                 "hlt\n"
                 "evt_hlt_after:\n"
                 "cli\n" ::: "memory");
}

// ---------------------------------------------------------------------------
// Boot state (HB-EVT-014).
// ---------------------------------------------------------------------------

void check_boot_state(const char* when)
{
    line d;
    const auto mask = evt::set_mask(evt::all_sources);
    d.put("the mask is all ones ").put(when).put(" (set_mask's previous value)");
    check_value("HB-EVT-014", mask.ok() ? mask.value : 0xBAD, ~0ull, d.c_str());
    const auto vec = evt::set_vector(0);
    d = line();
    d.put("the vector is 0 ").put(when).put(" (set_vector's previous value)");
    check_value("HB-EVT-014", vec.ok() ? vec.value : 0xBAD, 0, d.c_str());
    // A timer left armed would be pending (an expired one) or become pending.
    const uint64_t deadline = now() + 20 * ms;
    const auto waited = evt::wait(deadline, timer_bits);
    const auto polled = evt::poll();
    uint64_t acked = 0;
    for (uint16_t t = 0; t < timers; ++t)
        acked += evt::timer_ack(t).value_or(1);
    d = line();
    d.put("every timer is disarmed ").put(when).put(": none pending within 20 ms, every ack 0");
    line why;
    why.put("wait ").hex(waited.value).put(", poll ").hex(polled.value).put(", acks ").dec(acked);
    check("HB-EVT-014", waited.ok() && polled.ok() && !(waited.value & timer_bits) && !(polled.value & timer_bits) &&
                            acked == 0,
          d.c_str(), why.c_str());
}

// Leaves everything changed for the reboot: some timers expired, one periodic,
// one far ahead, the mask cleared and a vector set (interrupts stay disabled).
void disturb_state()
{
    const uint64_t t0 = now();
    (void)evt::timer_set(0, 1);                       // expired
    (void)evt::timer_set(1, t0 + ms, ms);             // periodic, 1 ms
    if (timers > 2)
        (void)evt::timer_set(2, t0 + 5 * ms);         // expires during the reboot
    if (timers > 3)
        (void)evt::timer_set(3, t0 + 3600'000 * ms);  // far ahead
    (void)evt::set_mask(0);
    (void)evt::set_vector(0x50);
}

// ---------------------------------------------------------------------------
// Timers (HB-EVT-001 to 005).
// ---------------------------------------------------------------------------

void check_timer_sources()
{
    // Timer n is source n: an expired timer n shows bit n, and acknowledging it clears the bit.
    unsigned wrong = 0, first_wrong = ~0u;
    uint64_t seen = 0;
    for (uint16_t t = 0; t < timers && t < 32; ++t) {
        (void)evt::timer_set(t, 1);
        const uint64_t p = evt::poll().value_or(0);
        const uint64_t a = evt::timer_ack(t).value_or(0);
        const uint64_t after = evt::poll().value_or(~0ull);
        if ((p & timer_bits) != evt::bit(t) || a != 1 || (after & timer_bits)) {
            ++wrong;
            if (first_wrong == ~0u)
                first_wrong = t, seen = p;
        }
    }
    line why;
    why.put("timer ").dec(first_wrong).put(": poll ").hex(seen);
    check("HB-EVT-001", wrong == 0,
          "timer n is source n: an expired timer n shows bit n of poll alone, ack returns 1 and clears it",
          why.c_str());
}

void check_never_early()
{
    // Many short timers, each seen pending by poll (even) or by wait (odd): the
    // clock read after it saw the bit must be at or past the deadline.
    unsigned early = 0, missed = 0;
    uint64_t worst_early = 0;
    for (unsigned i = 0; i < 48; ++i) {
        const uint16_t t = uint16_t(i % timers);
        const uint64_t deadline = now() + 100'000 + (i % 12) * 150'000;
        (void)evt::timer_set(t, deadline);
        bool pending = false;
        const uint64_t give_up = deadline + 200 * ms;
        if (i % 2 == 0) {
            while (!pending && now() < give_up)
                pending = evt::poll().value_or(0) & evt::bit(t);
        } else {
            pending = evt::wait(give_up, evt::bit(t)).value_or(0) & evt::bit(t);
        }
        const uint64_t seen_at = now();
        if (!pending)
            ++missed;
        else if (seen_at < deadline) {
            ++early;
            if (deadline - seen_at > worst_early)
                worst_early = deadline - seen_at;
        }
        (void)evt::timer_ack(t);
    }
    check_numbers("HB-EVT-002", early == 0,
                  "48 one-shot timers 0.1-1.8 ms ahead: none seen pending (poll or wait) before its deadline",
                  "early", early, "by up to ns", worst_early);
    check_numbers("HB-EVT-002", missed == 0, "each of the 48 timers expires within 200 ms of its deadline", "missed",
                  missed, "of", 48);

    // A past deadline expires at once.
    bool at_once = true;
    for (uint64_t deadline : {uint64_t(1), now() - ms, now()}) {
        (void)evt::timer_set(0, deadline);
        at_once = at_once && (evt::poll().value_or(0) & evt::bit(0));
        at_once = at_once && evt::timer_ack(0).value_or(0) == 1;
    }
    check("HB-EVT-002", at_once, "a deadline in the past (1, 1 ms ago, now) expires at once: poll shows it, ack 1");
}

void check_periods()
{
    for (uint64_t period : {1ull, 5000ull, 9999ull}) {
        line d;
        d.put("timer_set with period ").dec(period).put(" ns (1-9999) is INVALID_PARAM");
        check_status("HB-EVT-002", evt::timer_set(0, now() + 3600'000 * ms, period), hb::status::invalid_param,
                     d.c_str());
    }
    check_status("HB-EVT-002", evt::timer_set(0, now() + 3600'000 * ms, 10000), hb::status::success,
                 "timer_set with period 10000 ns succeeds");
    (void)evt::timer_cancel(0);
}

// Expirations through time `at` of a timer armed at `deadline` with `period`.
uint64_t due(uint64_t deadline, uint64_t period, uint64_t at)
{
    return at < deadline ? 0 : (at - deadline) / period + 1;
}

void check_no_drift()
{
    // 1 ms period for 200 ms, acknowledged after each wait: the acks' total is
    // the number of grid points deadline + n x period passed, never more.
    const uint64_t period = ms, deadline = now() + ms;
    (void)evt::timer_set(0, deadline, period);
    uint64_t total = 0, acks = 0, too_many = 0, before = 0;
    for (;;) {
        (void)evt::wait(now() + 20 * ms, evt::bit(0));
        before = now();
        total += evt::timer_ack(0).value_or(0);
        ++acks;
        const uint64_t after = now();
        if (total > due(deadline, period, after))
            ++too_many;
        if (after >= deadline + 200 * ms)
            break;
    }
    (void)evt::timer_cancel(0);
    // The last ack counted every expiration due before it; 2 periods of slack
    // for a host timer that fires a little late.
    const uint64_t expected = due(deadline, period, before);
    check_numbers("HB-EVT-002", too_many == 0,
                  "1 ms periodic timer for 200 ms: the acks' running total never exceeds the grid points passed",
                  "times over", too_many, "acks", acks);
    check_numbers("HB-EVT-002", total + 2 >= expected,
                  "1 ms periodic timer for 200 ms: the acks' total is the grid points passed (no drift, nothing lost)",
                  "total", total, "grid points", expected);
}

void check_missed_periods()
{
    // 50 ms period, first at +1 ms, nobody acknowledges for 170 ms: 4 expirations
    // in one pending bit, counted by one ack.
    const uint64_t period = 50 * ms, deadline = now() + ms;
    (void)evt::timer_set(0, deadline, period);
    (void)evt::wait(deadline + 170 * ms, 0);
    const uint64_t polled = evt::poll().value_or(0);
    const uint64_t before = now();
    const uint64_t count = evt::timer_ack(0).value_or(0);
    const uint64_t after = now();
    const uint64_t after_poll = evt::poll().value_or(~0ull);
    const uint64_t polled_at = now();
    (void)evt::timer_cancel(0);
    check("HB-EVT-003", (polled & timer_bits) == evt::bit(0), "missed periods leave one pending bit (poll)");
    check_numbers("HB-EVT-003", count + 1 >= due(deadline, period, before) && count <= due(deadline, period, after) &&
                                    count >= 3,
                  "after 3+ periods without an ack, ack returns every expiration (missed periods counted)", "ack",
                  count, "due", due(deadline, period, before));
    check("HB-EVT-005",
          !(after_poll & evt::bit(0)) || polled_at >= deadline + count * period,
          "ack clears the pending bit: expirations are counted, not queued");
}

void check_rearm_and_cancel()
{
    (void)evt::timer_set(0, 1);  // expired at once
    const bool was = evt::poll().value_or(0) & evt::bit(0);
    (void)evt::timer_set(0, now() + 3600'000 * ms);  // re-armed far ahead
    const bool still = evt::poll().value_or(~0ull) & evt::bit(0);
    const uint64_t count = evt::timer_ack(0).value_or(~0ull);
    check("HB-EVT-004", was && !still && count == 0,
          "re-arming an expired timer clears its pending bit and its count (ack 0)");

    (void)evt::timer_set(0, 1, 10 * ms);
    (void)evt::wait(now() + 25 * ms, 0);
    (void)evt::timer_cancel(0);
    const bool after_cancel = evt::poll().value_or(~0ull) & evt::bit(0);
    const uint64_t cancelled_count = evt::timer_ack(0).value_or(~0ull);
    // Cancelled before it expires: it never does.
    const uint64_t deadline = now() + 2 * ms;
    (void)evt::timer_set(0, deadline);
    (void)evt::timer_cancel(0);
    const uint64_t waited = evt::wait(deadline + 10 * ms, evt::bit(0)).value_or(~0ull);
    check("HB-EVT-004", !after_cancel && cancelled_count == 0 && !(waited & evt::bit(0)),
          "timer_cancel clears pending and count, and a cancelled timer does not expire");

    check_status("HB-EVT-004", evt::timer_cancel(uint16_t(timers)), hb::status::invalid_param,
                 "timer_cancel of timer timer_count is INVALID_PARAM");
}

void check_ack()
{
    (void)evt::timer_set(0, now() + 3600'000 * ms);
    check_value("HB-EVT-005", evt::timer_ack(0).value_or(~0ull), 0, "ack of a timer that has not expired returns 0");
    (void)evt::timer_cancel(0);
    check_value("HB-EVT-005", evt::timer_ack(0).value_or(~0ull), 0, "ack of a disarmed timer returns 0");
    (void)evt::timer_set(0, 1);
    const uint64_t first = evt::timer_ack(0).value_or(0);
    const uint64_t second = evt::timer_ack(0).value_or(~0ull);
    const bool pending = evt::poll().value_or(~0ull) & evt::bit(0);
    check("HB-EVT-005", first == 1 && second == 0 && !pending,
          "an expired one-shot timer: ack 1, then ack 0, and it is no longer pending");
    check_status("HB-EVT-005", evt::timer_ack(uint16_t(timers)), hb::status::invalid_param,
                 "timer_ack of timer timer_count is INVALID_PARAM");
}

// ---------------------------------------------------------------------------
// poll and wait (HB-EVT-006 to 008).
// ---------------------------------------------------------------------------

void check_poll()
{
    (void)evt::set_mask(evt::all_sources);
    for (uint16_t t = 0; t < timers; ++t)
        (void)evt::timer_cancel(t);
    const uint64_t before = now();
    const auto quiet = evt::poll();
    const uint64_t took = now() - before;
    check_numbers("HB-EVT-006", quiet.ok() && !(quiet.value & timer_bits) && took < 100 * ms,
                  "poll with no timer armed returns at once with no timer pending", "set", quiet.value, "took ns",
                  took);
    (void)evt::timer_set(1, 1);
    const uint64_t masked = evt::poll().value_or(0);
    check("HB-EVT-006", (masked & timer_bits) == evt::bit(1), "poll shows a masked pending timer (every source masked)");
    (void)evt::timer_cancel(1);
}

void check_wait()
{
    // Nothing of the set pending: returns at the deadline, never before; its value
    // is the whole pending set, with sources outside the set (timer 1).
    (void)evt::timer_set(1, 1);
    for (uint64_t span : {2 * ms, 20 * ms}) {
        const uint64_t deadline = now() + span;
        const auto r = evt::wait(deadline, evt::bit(0));
        const uint64_t back = now();
        check_numbers("HB-EVT-007", r.ok() && back >= deadline, "wait returns at its deadline, never before",
                      "returned at", back, "deadline", deadline);
        check("HB-EVT-007", r.ok() && (r.value & timer_bits) == evt::bit(1),
              "wait's value is the pending set, sources outside the waited set included");
        (void)span;
    }
    (void)evt::timer_cancel(1);

    for (uint64_t deadline : {uint64_t(0), uint64_t(1), now() - ms, now()}) {
        const uint64_t before = now();
        const auto r = evt::wait(deadline, evt::bit(0));
        const uint64_t took = now() - before;
        line d, why;
        d.put("wait with a past deadline (").dec(deadline).put(") returns SUCCESS at once");
        why.put("status ").put(hb::abi::status_name(r.code)).put(", took ns ").dec(took);
        check("HB-EVT-007", r.code == hb::status::success && took < 100 * ms, d.c_str(), why.c_str());
    }

    // A timer of the set ends the wait when it expires.
    const uint64_t deadline = now() + 3 * ms;
    (void)evt::timer_set(2, deadline);
    const uint64_t before = now();
    const auto r = evt::wait(before + 10'000 * ms, evt::bit(2) | evt::bit(0));
    const uint64_t back = now();
    check_numbers("HB-EVT-007", r.ok() && (r.value & evt::bit(2)) && back >= deadline && back - before < 2000 * ms,
                  "a timer of the set expiring ends a 10 s wait, not before its deadline", "returned after ns",
                  back - before, "set", r.value);
    (void)evt::timer_cancel(2);
}

void check_no_lost_wakeup()
{
    // Pending before the call.
    (void)evt::timer_set(3, 1);
    uint64_t before = now();
    auto r = evt::wait(before + 10'000 * ms, evt::bit(3));
    uint64_t took = now() - before;
    check_numbers("HB-EVT-008", r.ok() && (r.value & evt::bit(3)) && took < 1000 * ms,
                  "a source of the set pending at the call ends a 10 s wait at once", "took ns", took, "set", r.value);
    (void)evt::timer_cancel(3);

    // Expired while the guest was busy elsewhere, not waiting.
    const uint64_t deadline = now() + 2 * ms;
    (void)evt::timer_set(3, deadline);
    while (now() < deadline + 3 * ms) {
    }
    before = now();
    r = evt::wait(before + 10'000 * ms, evt::bit(3));
    took = now() - before;
    check_numbers("HB-EVT-008", r.ok() && (r.value & evt::bit(3)) && took < 1000 * ms,
                  "a timer that expired while the guest was not waiting ends a later 10 s wait at once", "took ns",
                  took, "set", r.value);
    (void)evt::timer_cancel(3);

    // Expiring during the wait, many times: none of them is lost.
    unsigned lost = 0;
    for (unsigned i = 0; i < 20; ++i) {
        const uint64_t d = now() + 200'000 + i * 50'000;
        (void)evt::timer_set(4 % uint16_t(timers), d);
        before = now();
        r = evt::wait(before + 5000 * ms, evt::bit(4 % unsigned(timers)));
        if (!r.ok() || !(r.value & evt::bit(4 % unsigned(timers))) || now() - before >= 2000 * ms)
            ++lost;
        (void)evt::timer_ack(4 % uint16_t(timers));
    }
    check_numbers("HB-EVT-008", lost == 0, "20 timers expiring during a 5 s wait each end it", "lost", lost, "of", 20);
}

// ---------------------------------------------------------------------------
// Sources the host does not have (HB-EVT-019).
// ---------------------------------------------------------------------------

// Timers past timer_count, console input without CONSOLE, and 33-55, which no
// service of this version has. (56-63 belong to vendor services, which a guest
// cannot rule out: any of them seen pending is named in a NOTE, not failed.)
void check_absent_sources()
{
    uint64_t absent = timer_bits_mask_of(32) & ~timer_bits;
    if (!hb::detect().has_service(hb::abi::service::console))
        absent |= evt::bit(evt::console_input);
    for (unsigned s = 33; s <= 55; ++s)
        absent |= evt::bit(s);
    constexpr uint64_t vendor = 0xFF00'0000'0000'0000ull;
    const uint64_t named = absent | vendor;

    (void)evt::set_mask(evt::all_sources);
    const auto a = evt::set_mask(named);
    const auto b = evt::set_mask(~named);
    const auto c = evt::set_mask(evt::all_sources);
    check("HB-EVT-019", a.ok() && a.value == ~0ull && b.ok() && b.value == named && c.ok() && c.value == ~named,
          "set_mask accepts and keeps masks naming sources the host does not have (timers past timer_count, 33-63)");

    // A wait for those alone: SUCCESS at its deadline, none of them pending.
    uint64_t deadline = now() + 2 * ms;
    const auto alone = evt::wait(deadline, named);
    const uint64_t back = now();
    line why;
    why.put("status ").put(hb::abi::status_name(alone.code)).put(", set ").hex(alone.value).put(", ");
    why.dec(back >= deadline ? back - deadline : deadline - back).put(back >= deadline ? " ns after" : " ns before");
    why.put(" the deadline");
    check("HB-EVT-019", alone.ok() && back >= deadline && !(alone.value & absent),
          "wait naming only sources the host does not have is accepted and ends at its deadline, none pending",
          why.c_str());

    // Every timer the host has expiring each millisecond for 20 ms: poll and a
    // wait naming every source show no source the host does not have.
    const uint64_t t0 = now();
    for (uint16_t t = 0; t < timers && t < 32; ++t)
        (void)evt::timer_set(t, t0 + ms, ms);
    uint64_t seen = 0, vendor_seen = 0, looks = 0, refused = 0;
    deadline = t0 + 20 * ms;
    while (now() < deadline) {
        const auto p = evt::poll();
        const auto w = evt::wait(now() + ms / 2, evt::all_sources);
        refused += !p.ok() + !w.ok();
        seen |= (p.value | w.value) & absent;
        vendor_seen |= (p.value | w.value) & vendor;
        looks += 2;
        for (uint16_t t = 0; t < timers && t < 32; ++t)
            (void)evt::timer_ack(t);
    }
    for (uint16_t t = 0; t < timers && t < 32; ++t)
        (void)evt::timer_cancel(t);
    why = line();
    why.put("sources seen pending ").hex(seen).put(" in ").dec(looks).put(" looks, refused ").dec(refused);
    check("HB-EVT-019", seen == 0 && refused == 0,
          "with every timer expiring each 1 ms for 20 ms, poll and wait (naming all 64 sources) never show a source "
          "the host does not have",
          why.c_str());
    if (vendor_seen) {
        line n;
        n.put("HB-EVT-019: vendor sources (56-63) seen pending: ").hex(vendor_seen);
        note(n.c_str());
    }
}

// ---------------------------------------------------------------------------
// Mask and vector (HB-EVT-009, 010).
// ---------------------------------------------------------------------------

void check_mask_and_vector_values()
{
    (void)evt::set_mask(evt::all_sources);
    const auto a = evt::set_mask(0x123456789ABCDEF0ull);
    const auto b = evt::set_mask(0x0F0F);
    const auto c = evt::set_mask(evt::all_sources);
    check("HB-EVT-009", a.ok() && a.value == ~0ull && b.ok() && b.value == 0x123456789ABCDEF0ull && c.ok() &&
                            c.value == 0x0F0F,
          "set_mask replaces the mask and returns the previous one");

    (void)evt::set_vector(0);
    const auto v1 = evt::set_vector(32);
    const auto v2 = evt::set_vector(255);
    const auto v3 = evt::set_vector(vector);
    const auto v4 = evt::set_vector(0);
    const auto v5 = evt::set_vector(0);
    check("HB-EVT-010", v1.ok() && v1.value == 0 && v2.ok() && v2.value == 32 && v3.ok() && v3.value == 255 &&
                            v4.ok() && v4.value == vector && v5.ok() && v5.value == 0,
          "set_vector accepts 32, 255 and 0 and returns the previous vector");
    (void)evt::set_vector(vector);
    bool refused = true;
    for (uint8_t low : {uint8_t(1), uint8_t(2), uint8_t(8), uint8_t(14), uint8_t(31)}) {
        const auto r = evt::set_vector(low);
        refused = refused && r.code == hb::status::invalid_param && r.value == 0;
    }
    const raw_result wide = raw_call(fn::evt_set_vector, 0x141);
    const auto kept = evt::set_vector(0);
    check("HB-EVT-010", refused, "set_vector 1, 2, 8, 14 and 31 is INVALID_PARAM");
    check_status("HB-EVT-010", hb::result<uint64_t>{wide.code(), 0}, hb::status::invalid_param,
                 "set_vector 0x141 (bits above 7) is INVALID_PARAM");
    check_value("HB-EVT-010", kept.value_or(0xBAD), vector, "a refused set_vector leaves the vector as it was");
}

// ---------------------------------------------------------------------------
// Delivery (HB-EVT-009, 011, 012).
// ---------------------------------------------------------------------------

void arm_handler(uint16_t timer, uint64_t ack_from_delivery)
{
    deliveries = 0;
    ack_from = ack_from_delivery;
    handler_timer = timer;
    for (seen_frame& f : frames)
        f = {};
}

// Spins with interrupts enabled until a delivery or `limit_ns` passes.
void spin_until_delivery(uint64_t limit_ns)
{
    while (deliveries == 0 && now() < limit_ns)
        spin_with_interrupts(200'000);
}

bool frame_ok(const seen_frame& f, uint64_t from, uint64_t to, line& why)
{
    why.put("vector ").hex(f.vector).put(" error ").hex(f.error_code).put(" rip ").hex(f.rip).put(" cs ").hex(f.cs);
    why.put(" rflags ").hex(f.rflags).put(" ss ").hex(f.ss);
    return f.vector == vector && f.error_code == 0 && (f.rflags & 0x200) && f.rip >= from && f.rip <= to &&
           (f.cs & 0xFFFF) == current_cs() && (f.ss & 0xFFFF) == current_ss();
}

void check_delivery()
{
    hi::set_handler(vector, on_event);
    (void)evt::set_mask(evt::all_sources);
    (void)evt::set_vector(vector);

    // While spinning: timer 5 unmasked, 2 ms ahead; the handler acknowledges it.
    const uint16_t t = uint16_t(5 % timers);
    arm_handler(t, 1);
    (void)evt::set_mask(~evt::bit(t));
    uint64_t deadline = now() + 2 * ms;
    (void)evt::timer_set(t, deadline);
    spin_until_delivery(deadline + 2000 * ms);
    const uint64_t first_end = now() + 20 * ms;
    while (now() < first_end)
        spin_with_interrupts(100'000, 2);  // time for a wrong second delivery
    line why;
    const bool frame_good = frame_ok(frames[0], uint64_t(evt_spin_start), uint64_t(evt_spin_end), why);
    check_numbers("HB-EVT-011", deliveries == 1, "an unmasked timer raises the vector once while the guest spins (acked)",
                  "deliveries", deliveries, "vector", vector);
    check("HB-EVT-011", deliveries >= 1 && frame_good,
          "the frame: the vector set, no error code, IF set, RIP in the interrupted loop, CS and SS the guest's",
          why.c_str());
    check_numbers("HB-EVT-011", deliveries >= 1 && frames[0].at_ns >= deadline,
                  "the interrupt comes no earlier than the timer's deadline", "at", frames[0].at_ns, "deadline",
                  deadline);

    // With IF=0 a pending unmasked source raises nothing, and the guest runs on
    // undisturbed (calls and arithmetic checked) for 100 ms; after sti it comes.
    arm_handler(t, 1);
    (void)evt::timer_set(t, 1);
    uint64_t rounds = 0, sum = 0, not_pending = 0;
    const uint64_t if_clear_end = now() + 100 * ms;
    while (now() < if_clear_end) {
        if (!(evt::poll().value_or(0) & evt::bit(t)))
            ++not_pending;
        sum += rounds * 3 + 1;
        ++rounds;
    }
    const uint64_t expected_sum = 3 * (rounds * (rounds - 1) / 2) + rounds;
    const uint64_t before_sti = deliveries;
    spin_until_delivery(now() + 2000 * ms);
    {
        line why;
        why.put("deliveries with IF=0 ").dec(before_sti).put(", rounds ").dec(rounds).put(", sum ").dec(sum);
        why.put(" expected ").dec(expected_sum).put(", not pending ").dec(not_pending);
        check("HB-EVT-016", before_sti == 0 && sum == expected_sum && not_pending == 0,
              "with IF=0 a pending unmasked source raises nothing and the guest runs undisturbed for 100 ms",
              why.c_str());
        check_numbers("HB-EVT-011", deliveries == 1, "the source left pending while IF=0 is taken once after sti",
                      "deliveries", deliveries, "of them with IF=0", before_sti);
    }

    // Level-triggered: not acknowledged the first time, raised again after iret.
    arm_handler(t, 2);
    (void)evt::timer_set(t, 1);
    spin_until_delivery(now() + 2000 * ms);
    const uint64_t spin_end = now() + 20 * ms;
    while (now() < spin_end)
        spin_with_interrupts(100'000, 3);  // the second delivery, and time for a wrong third
    check_numbers("HB-EVT-011", deliveries == 2,
                  "a source still pending when the handler returns raises the vector again (then acked: no more)",
                  "deliveries", deliveries, "expected", 2);

    // From `sti; hlt`: the interrupt wakes it, saved RIP right after HLT.
    arm_handler(t, 1);
    deadline = now() + 5 * ms;
    (void)evt::timer_set(t, deadline);
    uint64_t halts = 0;
    while (deliveries == 0 && now() < deadline + 2000 * ms) {
        halt_once();
        ++halts;
    }
    why = line();
    const bool hlt_frame =
        frame_ok(frames[0], uint64_t(evt_hlt_after), uint64_t(evt_hlt_after), why);
    check("HB-EVT-012", deliveries == 1 && frames[0].at_ns >= deadline,
          "sti; hlt sleeps until the unmasked timer expires, then the vector is delivered");
    check("HB-EVT-011", deliveries >= 1 && hlt_frame,
          "the frame of an interrupt that woke HLT: the vector, no error code, IF set, RIP after the HLT", why.c_str());
    info("evt-hlt-returns-before-delivery", halts);

    // Masked: a pending masked timer raises nothing; poll and wait still see it.
    arm_handler(t, 1);
    (void)evt::set_mask(evt::all_sources);
    (void)evt::timer_set(t, 1);
    const uint64_t masked_end = now() + 20 * ms;
    while (now() < masked_end)
        spin_with_interrupts(100'000);
    const bool in_poll = evt::poll().value_or(0) & evt::bit(t);
    const bool ends_wait = evt::wait(now() + 10'000 * ms, evt::bit(t)).value_or(0) & evt::bit(t);
    check_numbers("HB-EVT-009", deliveries == 0, "a masked pending source does not raise the vector", "deliveries",
                  deliveries, "vector", vector);
    check("HB-EVT-009", in_poll && ends_wait, "a masked pending source shows in poll and ends a wait naming it");

    // Masked sources do not wake HLT: timer t masked and pending, timer u unmasked
    // 30 ms ahead; HLT may end early, so the wake-ups are counted (INFO) and the
    // check is that the delivery is u's, not before u's deadline.
    const uint16_t u = uint16_t(6 % timers);
    arm_handler(u, 1);
    deadline = now() + 30 * ms;
    (void)evt::timer_set(u, deadline);
    (void)evt::set_mask(~evt::bit(u));
    halts = 0;
    while (deliveries == 0 && now() < deadline + 2000 * ms) {
        halt_once();
        ++halts;
    }
    {
        line why;
        why.put("deliveries ").dec(deliveries).put(", HLT returns ").dec(halts).put(", delivered ");
        frames[0].at_ns >= deadline ? why.dec(frames[0].at_ns - deadline).put(" ns after")
                                    : why.dec(deadline - frames[0].at_ns).put(" ns before");
        why.put(" the deadline, rip ").hex(frames[0].rip).put(", the handler's clock read: status ");
        why.put(hb::abi::status_name(hb::status(frames[0].clock_status))).put(", value ").dec(frames[0].at_ns);
        check("HB-EVT-009", deliveries == 1 && frames[0].at_ns >= deadline,
              "with a masked source pending, HLT is ended by the unmasked timer, not before its deadline", why.c_str());
    }
    info("evt-hlt-returns-with-masked-pending", halts);
    (void)evt::timer_cancel(t);
    (void)evt::timer_cancel(u);

    // Without a vector, HLT with IF=1 wakes for an unmasked source and continues after HLT.
    (void)evt::set_vector(0);
    arm_handler(u, 1);
    deadline = now() + 5 * ms;
    (void)evt::timer_set(u, deadline);
    halts = 0;
    bool woke = false;
    uint64_t woke_at = 0;
    // A wrong interrupt's handler acknowledges u, and the next HLT would never end: stop then.
    while (!woke && deliveries == 0 && now() < deadline + 2000 * ms) {
        halt_once();
        ++halts;
        woke = evt::poll().value_or(0) & evt::bit(u);
        woke_at = now();
    }
    check_numbers("HB-EVT-012", woke && woke_at >= deadline && deliveries == 0,
                  "with no vector, sti; hlt returns after the unmasked timer expires, with no interrupt",
                  "deliveries", deliveries, "HLT returns", halts);
    quiet_all();
}

// ---------------------------------------------------------------------------
// No interrupt when nothing may raise it (HB-EVT-016).
// ---------------------------------------------------------------------------

void check_no_stray_interrupts()
{
    hi::set_handler(vector, on_event);
    (void)evt::set_vector(vector);
    const uint16_t t = uint16_t(5 % timers);

    // Every timer source unmasked (those past timer_count too), the vector set,
    // IF=1: once the handler has acknowledged the one expired timer, nothing is
    // pending and nothing may arrive.
    arm_handler(t, 1);
    (void)evt::set_mask(~timer_bits_mask_of(32));
    const uint64_t deadline = now() + 2 * ms;
    (void)evt::timer_set(t, deadline);
    spin_until_delivery(deadline + 2000 * ms);
    const uint64_t quiet_end = now() + 50 * ms;
    while (now() < quiet_end)
        spin_with_interrupts(100'000, 2);
    check_numbers("HB-EVT-016", deliveries == 1,
                  "after the handler consumed the only pending source (timers 0-31 unmasked, vector set, IF=1), no "
                  "event interrupt comes for 50 ms",
                  "deliveries", deliveries, "expected", 1);

    // The vector 0 stops delivery: a pending unmasked timer raises nothing, on
    // the vector set before nor on vector 0 (whose handler would count it too).
    hi::set_handler(0, on_event);
    arm_handler(t, 1);
    (void)evt::set_vector(0);
    (void)evt::timer_set(t, 1);
    const uint64_t zero_end = now() + 50 * ms;
    while (now() < zero_end)
        spin_with_interrupts(100'000);
    const bool still_pending = evt::poll().value_or(0) & evt::bit(t);
    hi::set_handler(0, nullptr);
    line why;
    why.put("deliveries ").dec(deliveries).put(" (the first on vector ").hex(frames[0].vector).put("), pending ");
    why.dec(still_pending);
    check("HB-EVT-016", deliveries == 0 && still_pending,
          "with the vector 0, a pending unmasked timer raises nothing while the guest spins with IF=1 for 50 ms",
          why.c_str());
    quiet_all();
}

// ---------------------------------------------------------------------------
// The interrupt shadow of STI and MOV SS (HB-EVT-017).
// ---------------------------------------------------------------------------

// Enables interrupts, executes one marker instruction (evt_sti_shadowed, still in
// the shadow of the STI) and spins with IF=1 until `deliveries` reaches `until`
// or `loops` rounds pass.
[[gnu::noinline]] void sti_then_marker(uint64_t loops, uint64_t until)
{
    asm volatile("sti\n"
                 "evt_sti_shadowed:\n"
                 "   nop\n"
                 "evt_sti_open:\n"
                 "1: cmpq %[u], %[d]\n"
                 "   jae 2f\n"
                 "   dec %[n]\n"
                 "   jnz 1b\n"
                 "2: cli\n"
                 "evt_sti_end:\n"
                 : [n] "+r"(loops)
                 : [d] "m"(deliveries), [u] "r"(until)
                 : "memory", "cc");
}

// Units of 16 bytes, each a MOV SS that reloads the current SS, ending at offset
// 6, then a marker NOP at offset 6 (in its shadow) and NOPs to the next unit; in
// three encodings: from EAX, from RAX (REX.W) and from memory. An interrupt
// frame whose RIP is at offset 6 of a unit came inside the shadow.
constexpr uint64_t ss_unit_size = 16, ss_marker_offset = 6;
asm(R"(
    .pushsection .data
    .balign 2
    .global evt_ss_selector
evt_ss_selector: .word 0
    .popsection
)");

[[gnu::noinline]] void mov_ss_rounds(uint64_t rounds)
{
    asm volatile("mov %%ss, %%eax\n"
                 "sti\n"
                 ".balign 16\n"
                 "evt_ss_units:\n"
                 "1:\n"
                 ".rept 8\n"
                 "   .balign 16\n"
                 "   .byte 0x0f, 0x1f, 0x40, 0x00\n"  // 4-byte NOP
                 "   mov %%eax, %%ss\n"                // 8E D0
                 "   nop\n"
                 "   .balign 16\n"
                 "   .byte 0x0f, 0x1f, 0x00\n"        // 3-byte NOP
                 "   .byte 0x48, 0x8e, 0xd0\n"        // mov ss, rax (REX.W; the assembler drops it)
                 "   nop\n"
                 "   .balign 16\n"
                 "   mov evt_ss_selector(%%rip), %%ss\n"  // 8E 15 disp32
                 "   nop\n"
                 ".endr\n"
                 "   .balign 16\n"
                 "evt_ss_units_end:\n"
                 "   dec %[n]\n"
                 "   jnz 1b\n"
                 "   cli\n"
                 : [n] "+r"(rounds)
                 :
                 : "rax", "memory", "cc");
}

volatile uint64_t ss_deliveries, ss_in_units, ss_shadowed, ss_shadowed_rip, ss_timer, ss_wanted, ss_stop_at;
constexpr uint64_t ss_rearm_ns = 20'000;

// Counts where each interrupt came and re-arms the timer, so that the next one
// comes while the loop runs: 20 us ahead, or three times what this handler
// took where calls are slow (KVM under emulation, where a handler that outlasts
// the period would find the timer expired at every IRET and the loop would
// never move on). It stops re-arming once enough came or the time is up.
void on_ss_probe(hi::frame& f) noexcept
{
    const uint64_t entered = now();
    ss_deliveries = ss_deliveries + 1;
    const uint64_t units = uint64_t(evt_ss_units), units_end = uint64_t(evt_ss_units_end);
    if (f.rip >= units && f.rip < units_end) {
        ss_in_units = ss_in_units + 1;
        if ((f.rip - units) % ss_unit_size == ss_marker_offset) {
            if (ss_shadowed == 0)
                ss_shadowed_rip = f.rip;
            ss_shadowed = ss_shadowed + 1;
        }
    }
    (void)evt::timer_ack(uint16_t(ss_timer));
    if (ss_in_units >= ss_wanted || entered >= ss_stop_at)
        return;
    const uint64_t done = now(), spent = done - entered;
    (void)evt::timer_set(uint16_t(ss_timer), done + (3 * spent > ss_rearm_ns ? 3 * spent : ss_rearm_ns));
}

void check_interrupt_shadow()
{
    const uint16_t t = uint16_t(5 % timers);
    hi::set_handler(vector, on_event);
    (void)evt::set_vector(vector);
    (void)evt::set_mask(~evt::bit(t));

    // STI with a source already pending: the interrupt comes after the marker
    // instruction, never before it.
    constexpr unsigned sti_rounds = 8;
    unsigned shadowed = 0, elsewhere = 0, missed = 0;
    uint64_t odd_rip = 0;
    for (unsigned i = 0; i < sti_rounds; ++i) {
        arm_handler(t, 1);
        (void)evt::timer_set(t, 1);
        sti_then_marker(2'000'000, 1);
        if (deliveries == 0)
            ++missed;
        else if (frames[0].rip == uint64_t(evt_sti_shadowed))
            ++shadowed, odd_rip = frames[0].rip;
        else if (frames[0].rip < uint64_t(evt_sti_open) || frames[0].rip > uint64_t(evt_sti_end))
            ++elsewhere, odd_rip = frames[0].rip;
    }
    line why;
    why.put("at the marker ").dec(shadowed).put(", elsewhere ").dec(elsewhere).put(", none ").dec(missed);
    why.put(" of ").dec(sti_rounds).put(", rip ").hex(odd_rip).put(", marker ").hex(uint64_t(evt_sti_shadowed));
    check("HB-EVT-017", shadowed == 0 && elsewhere == 0 && missed == 0,
          "sti with an unmasked source pending: the interrupt's saved RIP is after the instruction following the "
          "sti, never at it (8 rounds)",
          why.c_str());

    // MOV SS: interrupts at random moments of a long run of MOV SS units, none
    // of them at a marker.
    (void)evt::timer_cancel(t);
    asm volatile("mov %%ss, %0" : "=m"(evt_ss_selector));
    ss_deliveries = 0;
    ss_in_units = 0;
    ss_shadowed = 0;
    ss_shadowed_rip = 0;
    ss_timer = t;
    hi::set_handler(vector, on_ss_probe);
    constexpr uint64_t wanted = 600, enough = 200;  // emulated KVM: about 600 a second
    const uint64_t started = now(), give_up = started + 3000 * ms;
    ss_wanted = wanted;
    ss_stop_at = give_up;
    (void)evt::timer_set(t, now() + ss_rearm_ns);
    uint64_t rounds = 0;
    while (ss_in_units < wanted && now() < give_up) {
        mov_ss_rounds(200);
        rounds += 200;
    }
    const uint64_t took = now() - started;
    (void)evt::set_mask(evt::all_sources);
    (void)evt::timer_cancel(t);
    hi::set_handler(vector, on_event);
    line n;
    n.put("HB-EVT-017 mov ss: ").dec(ss_deliveries).put(" event interrupts in ").dec(took / ms).put(" ms, ");
    n.dec(ss_in_units).put(" of them in the MOV SS units (").dec(rounds * 24).put(" MOV SS run), ");
    n.dec(ss_shadowed).put(" right after a MOV SS");
    note(n.c_str());
    why = line();
    why.put("right after a MOV SS ").dec(ss_shadowed).put(", first at rip ").hex(ss_shadowed_rip).put(", in the units ");
    why.dec(ss_in_units).put(" of ").dec(ss_deliveries).put(" (").dec(enough).put(" needed to judge)");
    check("HB-EVT-017", ss_shadowed == 0 && ss_in_units >= enough,
          "a 20 us timer interrupting a run of MOV SS (from EAX, RAX and memory), each followed by a marker: no "
          "saved RIP is the marker's",
          why.c_str());
    quiet_all();
}

// ---------------------------------------------------------------------------
// A vector the IDT cannot deliver (HB-EVT-018).
// ---------------------------------------------------------------------------

struct [[gnu::packed]] idt_register {
    uint16_t limit;
    uint64_t base;
};

// #GP or #NP instead of the event: recorded as a delivery (vector, error code),
// then every source masked so that the event does not fault again.
void on_idt_fault(hi::frame& f) noexcept
{
    const uint64_t n = deliveries + 1;
    deliveries = n;
    if (n <= 4)
        frames[n - 1] = {f.vector, f.error_code, f.rip, f.cs, f.rflags, f.ss, 0, 0};
    (void)evt::set_mask(evt::all_sources);
}

void check_undeliverable_vector()
{
    constexpr uint8_t far_vector = 0x40;  // the IDT is cut to vectors 0-0x3F
    constexpr uint64_t expected = far_vector * 8 + 3;  // index, IDT, EXT
    const uint16_t t = uint16_t(5 % timers);
    idt_register saved{};
    asm volatile("sidt %0" : "=m"(saved));
    if (saved.limit < far_vector * 16 + 15) {
        check("HB-EVT-018", false, "the image's IDT reaches the vector used", "IDT limit too small");
        return;
    }
    hi::set_handler(13, on_idt_fault);
    hi::set_handler(11, on_idt_fault);
    auto raise = [&] {
        arm_handler(t, 1);
        (void)evt::set_vector(far_vector);
        (void)evt::set_mask(~evt::bit(t));
        (void)evt::timer_set(t, 1);
        spin_until_delivery(now() + 2000 * ms);
        (void)evt::set_mask(evt::all_sources);
        (void)evt::timer_cancel(t);
    };

    // Past the limit: #GP.
    const idt_register cut{uint16_t(far_vector * 16 - 1), saved.base};
    asm volatile("lidt %0" ::"m"(cut) : "memory");
    raise();
    asm volatile("lidt %0" ::"m"(saved) : "memory");
    line why;
    why.put("deliveries ").dec(deliveries).put(", vector ").dec(frames[0].vector).put(", error code ");
    why.hex(frames[0].error_code);
    check("HB-EVT-018", deliveries == 1 && frames[0].vector == 13 && frames[0].error_code == expected,
          "the event vector past the IDT limit raises #GP with error code vector*8+3 (0x203 for 0x40: IDT, EXT)",
          why.c_str());

    // Not present: #NP.
    volatile uint8_t* type = reinterpret_cast<volatile uint8_t*>(saved.base + far_vector * 16 + 5);
    const uint8_t present_type = *type;
    *type = uint8_t(present_type & 0x7F);
    raise();
    *type = present_type;
    why = line();
    why.put("deliveries ").dec(deliveries).put(", vector ").dec(frames[0].vector).put(", error code ");
    why.hex(frames[0].error_code);
    check("HB-EVT-018", deliveries == 1 && frames[0].vector == 11 && frames[0].error_code == expected,
          "the event vector's gate not present raises #NP with error code vector*8+3 (0x203 for 0x40: IDT, EXT)",
          why.c_str());

    hi::set_handler(13, nullptr);
    hi::set_handler(11, nullptr);
    quiet_all();
}

// ---------------------------------------------------------------------------
// Console input (HB-EVT-013).
// ---------------------------------------------------------------------------

void check_console_source()
{
    const uint64_t bit = evt::bit(evt::console_input);
    if (!hb::detect().has_service(hb::abi::service::console)) {
        skip("HB-EVT-013", "console input is source 32", "not advertised: the host offers no CONSOLE");
        return;
    }
    // The driver's input arrives: a wait for source 32 alone ends (masked, no vector).
    const uint64_t before = now();
    const auto r = evt::wait(before + 10'000 * ms, bit);
    check_numbers("HB-EVT-013", r.ok() && (r.value & bit), "the driver's console input makes source 32 pending",
                  "set", r.value, "waited ns", now() - before);
    const bool polled = evt::poll().value_or(0) & bit;
    check("HB-EVT-013", polled, "poll shows source 32 while input waits");
    static uint8_t buffer[64];
    uint64_t total = 0, empty_reads = 0;
    for (unsigned i = 0; i < 100 && (evt::poll().value_or(0) & bit); ++i) {
        const uint64_t n = hb::console::read(buffer, 16).value_or(0);
        if (n == 0)
            ++empty_reads;
        total += n;
    }
    const bool after = evt::poll().value_or(~0ull) & bit;
    const uint64_t more = hb::console::read(buffer, sizeof buffer).value_or(0);
    check_numbers("HB-EVT-013", empty_reads == 0 && total == console_input_length,
                  "while source 32 is pending, CONSOLE.read returns at least 1 byte (all the driver's input read)",
                  "bytes", total, "empty reads", empty_reads);
    check_numbers("HB-EVT-013", !after && more == 0, "reading all input clears source 32", "still pending",
                  after, "bytes left", more);
}

// ---------------------------------------------------------------------------
// HB-EVT-015 (SHOULD) cannot be seen from inside: the driver measures the
// host's CPU time while the idle image waits. Here, for the record, how late
// a 200 ms wait comes back.
// ---------------------------------------------------------------------------

void measure_idle_wait()
{
    const uint64_t deadline = now() + 200 * ms;
    (void)evt::wait(deadline, 0);
    const uint64_t back = now();
    info("evt-wait-200ms-overshoot-ns", back >= deadline ? back - deadline : 0);
}

void run_evt_checks()
{
    check_timer_sources();
    check_never_early();
    check_periods();
    check_no_drift();
    check_missed_periods();
    check_rearm_and_cancel();
    check_ack();
    check_poll();
    check_wait();
    check_no_lost_wakeup();
    check_absent_sources();
    check_mask_and_vector_values();
    check_delivery();
    check_no_stray_interrupts();
    check_interrupt_shadow();
    check_undeliverable_vector();
    check_console_source();
    measure_idle_wait();
    quiet_all();
}

}  // namespace

void run_checks()
{
    const hb::host_info& host = hb::detect();
    if (!host.has_service(hb::abi::service::evt)) {
        skip("HB-EVT-001", "EVT checks", "not advertised: the host offers no EVT");
        return;
    }
    if (!host.has_service(hb::abi::service::time)) {
        skip("HB-EVT-002", "EVT timing checks", "not advertised: the host offers no TIME, whose clock deadlines use");
        return;
    }
    const auto count = evt::timer_count();
    timers = count.value_or(0);
    check_numbers("HB-EVT-001", count.ok() && timers >= 8, "timer_count is at least 8", "timer_count", timers,
                  "status", uint64_t(count.code));
    if (timers < 8)
        return;
    timer_bits = timer_bits_mask_of(timers < 32 ? timers : 32);

    const auto reason = hb::power::reset_reason();
    const bool second_boot = reason.ok() && reason.value == hb::abi::reset_guest_reboot;
    if (!second_boot) {
        check_boot_state("at power-on");
        disturb_state();
        note("calling POWER.reboot with timers armed, the mask cleared and a vector set; the checks go on in the "
             "second boot");
        const raw_result r = raw_call(fn::power_reboot);
        // Back here only if the reboot was refused.
        quiet_all();
        if (r.code() != hb::status::denied) {
            check("HB-EVT-014", false, "POWER.reboot restarts the machine", hb::abi::status_name(r.code()));
            return;
        }
        expect_boots("HB-EVT-014", 1);
        skip("HB-EVT-014", "the boot state after POWER.reboot",
             "denied by the host's policy: POWER.reboot answered DENIED, which spec 8.3 allows");
    } else {
        check_boot_state("after POWER.reboot");
        expect_boots("HB-EVT-014", 2);
    }
    run_evt_checks();
}

}  // namespace conformance
