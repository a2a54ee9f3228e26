// NET service: network interfaces that send and receive Ethernet frames (spec
// chapter 16). Every transfer copies: send() takes the frame before it returns,
// recv() writes one whole frame. A full host queue answers AGAIN (try again when
// the interface is ready), recv() answers 0 when nothing waits: no call blocks.
#ifndef HYPERBIOS_NET_HPP
#define HYPERBIOS_NET_HPP

#include <hyperbios/call.hpp>
#include <hyperbios/evt.hpp>
#include <hyperbios/time.hpp>

namespace hyperbios::net {

using info_record = abi::net_info;
using segment = abi::net_segment;

inline constexpr unsigned source = unsigned(abi::evt_source::net_ready);
inline constexpr size_t header_length = 14;  // destination, source, EtherType

// How many interfaces there are (0 without a host or without a network).
inline result<uint64_t> count() noexcept { return detail::call<abi::function::net_count>(); }

// The interface's info record (MAC, MTU, max_frame, link, queue sizes); the
// value is the record's full size on the host.
inline result<size_t> info(uint16_t device, info_record& out) noexcept
{
    return detail::call<abi::function::net_info>(device, gpa{detail::to_gpa(&out)}, sizeof out);
}

// The interfaces of the window starting at `first` that are ready: a frame
// waits, the link changed, or there is room again after AGAIN.
inline result<uint64_t> ready(uint16_t first = 0) noexcept
{
    return detail::call<abi::function::net_ready>(device_window{first});
}

// The link's state now (abi::net_link::up or ::down); acknowledges a change.
inline result<uint64_t> link(uint16_t device) noexcept { return detail::call<abi::function::net_link>(device); }

// Sends one frame of `length` bytes (14 to max_frame). AGAIN: the host's queue
// is full, nothing was taken; IO_ERROR: the link is down.
inline result<size_t> send(uint16_t device, const void* frame, size_t length) noexcept
{
    return detail::call<abi::function::net_send>(device, gpa{detail::to_gpa(frame)}, length);
}

// Sends the concatenation of `count` segments as one frame (a header and a
// payload kept apart, say).
inline result<size_t> send_vectored(uint16_t device, const segment* segments, size_t count) noexcept
{
    return detail::call<abi::function::net_send_vectored>(device, gpa{detail::to_gpa(segments)},
                                                         count * sizeof(segment));
}

// Takes the oldest frame into `buffer`; the value is its length, 0 when none
// waits. A buffer shorter than the frame is INVALID_PARAM and the frame stays
// (size buffers by info's max_frame, or ask peek()).
inline result<size_t> recv(uint16_t device, void* buffer, size_t capacity) noexcept
{
    return detail::call<abi::function::net_recv>(device, gpa{detail::to_gpa(buffer)}, capacity);
}

// The length of the frame the next recv() takes, 0 when none waits.
inline result<size_t> peek(uint16_t device) noexcept { return detail::call<abi::function::net_peek>(device); }

// Sleeps until an interface of the window starting at `first` is ready or the
// monotonic clock reaches `deadline_ns`, and returns the window's ready set (0
// at the deadline) — Solo5's yield(deadline, &ready_set) over up to 64
// interfaces, built on source 35 and ready(). The readiness is checked before
// each sleep, and EVT.wait checks and sleeps in one host step, so a frame that
// arrives in between is not missed.
inline result<uint64_t> yield(uint64_t deadline_ns, uint16_t first = 0) noexcept
{
    for (;;) {
        const result<uint64_t> set = ready(first);
        if (!set.ok() || set.value)
            return set;
        const result<uint64_t> now = time::monotonic_ns();
        if (!now.ok() || now.value >= deadline_ns)
            return {now.code, 0};
        const result<uint64_t> woke = evt::wait(deadline_ns, evt::bit(source));
        if (!woke.ok())
            return {woke.code, 0};
    }
}

}  // namespace hyperbios::net

#endif
