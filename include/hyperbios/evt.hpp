// EVT service: timers, event sources, waiting and interrupts (spec chapter 13).
//
// Every timer and every device that can become ready is a numbered source with a
// pending bit: timer n is source n, console input is source 32. A source stays
// pending while its service has something for the guest (level-triggered), so
// nothing is lost and nothing needs acknowledging, except a timer, whose
// expirations timer_ack() reads (and so clears).
//
// Three ways to learn of events, freely mixed:
//   - poll() returns the pending set at once;
//   - wait(deadline, set) sleeps until a source of `set` is pending or the
//     deadline passes (checked and slept in one host step: no lost wake-up);
//   - set_vector(v) + set_mask(...) + `sti`: the host raises vector v while an
//     unmasked source is pending and interrupts are enabled; `sti; hlt` sleeps
//     until then (halt() below).
#ifndef HYPERBIOS_EVT_HPP
#define HYPERBIOS_EVT_HPP

#include <hyperbios/call.hpp>

namespace hyperbios::evt {

// Source numbers (spec 13.1).
inline constexpr unsigned console_input = unsigned(abi::evt_source::console_input);
inline constexpr uint64_t timer_source(unsigned timer) { return timer; }
constexpr uint64_t bit(unsigned source) { return source < 64 ? uint64_t(1) << source : 0; }
inline constexpr uint64_t all_sources = ~uint64_t(0);
inline constexpr uint64_t no_deadline = ~uint64_t(0);

// How many timers there are (at least 8 on a host that offers EVT).
inline result<uint64_t> timer_count() noexcept { return detail::call<abi::function::evt_timer_count>(); }

// Arms `timer` to expire when the monotonic clock reaches `deadline_ns`, and then
// every `period_ns` after it (0: once). A deadline already past expires at once.
// Re-arming replaces the timer's setting and clears its expirations.
inline result<void> timer_set(uint16_t timer, uint64_t deadline_ns, uint64_t period_ns = 0) noexcept
{
    const result<uint64_t> r = detail::call<abi::function::evt_timer_set>(timer, deadline_ns, period_ns);
    return {r.code};
}

// Disarms `timer` and clears its expirations.
inline result<void> timer_cancel(uint16_t timer) noexcept
{
    const result<uint64_t> r = detail::call<abi::function::evt_timer_cancel>(timer);
    return {r.code};
}

// How many times `timer` expired since it was armed or last acknowledged (for a
// periodic timer more than 1 means periods were missed); clears its pending bit.
inline result<uint64_t> timer_ack(uint16_t timer) noexcept { return detail::call<abi::function::evt_timer_ack>(timer); }

// The set of pending sources, masked or not, without waiting.
inline result<uint64_t> poll() noexcept { return detail::call<abi::function::evt_poll>(); }

// Sleeps until a source of `sources` is pending or the monotonic clock reaches
// `deadline_ns`; returns the pending set (all sources). A past deadline returns
// at once.
inline result<uint64_t> wait(uint64_t deadline_ns, uint64_t sources) noexcept
{
    return detail::call<abi::function::evt_wait>(deadline_ns, sources);
}

// Sources in `mask` neither raise the vector nor wake a HLT; returns the
// previous mask. Every source is masked at boot.
inline result<uint64_t> set_mask(uint64_t mask) noexcept { return detail::call<abi::function::evt_set_mask>(mask); }

// Interrupts on `vector` (32-255) from now on, or none (0, as at boot); returns
// the previous vector.
inline result<uint64_t> set_vector(uint8_t vector) noexcept { return detail::call<abi::function::evt_set_vector>(vector); }

// Interrupt flag helpers for a kernel that takes event interrupts.
inline void enable_interrupts() noexcept { asm volatile("sti" ::: "memory"); }
inline void disable_interrupts() noexcept { asm volatile("cli" ::: "memory"); }

// Enables interrupts and halts in one step (`sti` holds interrupts off for one
// more instruction, so none slips in between): the vCPU sleeps until an unmasked
// source is pending, takes the interrupt if a vector is set, and returns with
// interrupts enabled.
inline void halt() noexcept { asm volatile("sti; hlt" ::: "memory"); }

}  // namespace hyperbios::evt

#endif
