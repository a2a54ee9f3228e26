// AUD service: sound output streams (spec chapter 17). A stream plays PCM
// frames from a bounded host queue at its rate; write() takes what fits and
// says how many bytes (AGAIN when nothing fits); the stream is ready (source 36)
// while its queue holds no more than the low-water mark, so a guest sleeps
// between refills; state() says how far it has played and how often it ran dry.
#ifndef HYPERBIOS_AUD_HPP
#define HYPERBIOS_AUD_HPP

#include <hyperbios/call.hpp>

namespace hyperbios::aud {

using info_record = abi::aud_info;
using state_record = abi::aud_state;

inline constexpr unsigned source = unsigned(abi::evt_source::aud_ready);

// Bytes a frame of `format` takes (0 for a format this header does not know).
constexpr size_t frame_bytes(uint16_t format) noexcept
{
    return format == abi::aud_format::s16_stereo ? 4 : format == abi::aud_format::s16_mono ? 2 : 0;
}

// How many output streams there are (0 without a host or without sound).
inline result<uint64_t> count() noexcept { return detail::call<abi::function::aud_count>(); }

// The stream's info record (formats, rates, queue limits, name).
inline result<size_t> info(uint16_t stream, info_record& out) noexcept
{
    return detail::call<abi::function::aud_info>(stream, gpa{detail::to_gpa(&out)}, sizeof out);
}

// The streams of the window starting at `first` that are ready.
inline result<uint64_t> ready(uint16_t first = 0) noexcept
{
    return detail::call<abi::function::aud_ready>(device_window{first});
}

// Opens (or reopens) `stream` in `format` (abi::aud_format) at `rate`
// (abi::aud_rate::hz_48000, say), asking for a queue of `queue_frames`; the
// value is the queue's length the host chose.
inline result<uint64_t> open(uint16_t stream, uint16_t format, uint16_t rate, uint32_t queue_frames) noexcept
{
    return detail::call<abi::function::aud_open>(stream, format, rate, queue_frames);
}

// Queues as many whole frames of `data` as fit; the value is the bytes taken.
inline result<size_t> write(uint16_t stream, const void* data, size_t length) noexcept
{
    return detail::call<abi::function::aud_write>(stream, gpa{detail::to_gpa(data)}, length);
}

// Position, underruns, queued frames, latency, as of one moment.
inline result<size_t> state(uint16_t stream, state_record& out) noexcept
{
    return detail::call<abi::function::aud_state>(stream, gpa{detail::to_gpa(&out)}, sizeof out);
}

// The stream is ready while it queues no more than `frames`.
inline result<void> set_low_water(uint16_t stream, uint32_t frames) noexcept
{
    const result<uint64_t> r = detail::call<abi::function::aud_set_low_water>(stream, frames);
    return {r.code};
}

// Plays out what is queued, then stays drained (ready) until closed.
inline result<void> drain(uint16_t stream) noexcept
{
    const result<uint64_t> r = detail::call<abi::function::aud_drain>(stream);
    return {r.code};
}

// Stops at once; what is queued is dropped.
inline result<void> close(uint16_t stream) noexcept
{
    const result<uint64_t> r = detail::call<abi::function::aud_close>(stream);
    return {r.code};
}

}  // namespace hyperbios::aud

#endif
