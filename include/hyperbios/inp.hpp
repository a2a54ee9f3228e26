// INP service: keyboards and pointers, events in evdev terms (spec chapter 15).
#ifndef HYPERBIOS_INP_HPP
#define HYPERBIOS_INP_HPP

#include <hyperbios/call.hpp>

namespace hyperbios::inp {

using info_record = abi::inp_info;
using event_record = abi::inp_event;
using state_record = abi::inp_state;

// How many input devices there are (0 without a host or without input).
inline result<uint64_t> count() noexcept { return detail::call<abi::function::inp_count>(); }

// The device's info record; the value is the record's full size on the host.
inline result<size_t> info(uint16_t device, info_record& out) noexcept
{
    return detail::call<abi::function::inp_info>(device, gpa{detail::to_gpa(&out)}, sizeof out);
}

// The devices of the window starting at `first` that have events.
inline result<uint64_t> ready(uint16_t first = 0) noexcept
{
    return detail::call<abi::function::inp_ready>(device_window{first});
}

// Takes as many whole events as fit in `events` (up to `capacity`); the value is
// the number taken (the call's byte count divided by the record's size).
inline result<size_t> read(uint16_t device, event_record* events, size_t capacity) noexcept
{
    const result<size_t> r =
        detail::call<abi::function::inp_read>(device, gpa{detail::to_gpa(events)}, capacity * sizeof(event_record));
    return {r.code, r.ok() ? r.value / sizeof(event_record) : 0};
}

// What the queued events add up to: keys and buttons down, modifiers, position.
inline result<size_t> state(uint16_t device, state_record& out) noexcept
{
    return detail::call<abi::function::inp_state>(device, gpa{detail::to_gpa(&out)}, sizeof out);
}

// Whether evdev key `code` is down in a state record.
inline bool key_down(const state_record& s, uint16_t code) noexcept
{
    return code < 768 && (s.keys[code / 8] >> (code % 8)) & 1;
}

}  // namespace hyperbios::inp

#endif
