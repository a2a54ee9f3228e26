// DSP service: displays, a framebuffer in guest RAM presented a rectangle at a
// time (spec chapter 14).
#ifndef HYPERBIOS_DSP_HPP
#define HYPERBIOS_DSP_HPP

#include <hyperbios/call.hpp>

namespace hyperbios::dsp {

using info_record = abi::dsp_info;
using present_record = abi::dsp_present;
using event_record = abi::dsp_event;

// How many displays there are (0 without a host or without a display).
inline result<uint64_t> count() noexcept { return detail::call<abi::function::dsp_count>(); }

// The display's info record; the value is the record's full size on the host.
inline result<size_t> info(uint16_t display, info_record& out) noexcept
{
    return detail::call<abi::function::dsp_info>(display, gpa{detail::to_gpa(&out)}, sizeof out);
}

// Changes the mode; the value is the new mode's generation.
inline result<uint64_t> set_mode(uint16_t display, uint16_t width, uint16_t height) noexcept
{
    return detail::call<abi::function::dsp_set_mode>(display, width, height);
}

// Copies the rectangle `frame` names before it returns: the framebuffer may be
// drawn into again at once.
inline result<uint64_t> present(uint16_t display, const present_record& frame) noexcept
{
    return detail::call<abi::function::dsp_present>(display, gpa{detail::to_gpa(&frame)});
}

// A present of the rectangle (x, y, width, height) of a framebuffer of 32-bit
// xrgb8888 pixels whose rows are `stride` bytes apart, drawn for `generation`.
inline result<uint64_t> present(uint16_t display, const void* framebuffer, uint32_t stride, uint32_t generation,
                                uint32_t x, uint32_t y, uint32_t width, uint32_t height) noexcept
{
    const present_record frame{detail::to_gpa(framebuffer), stride, abi::dsp_format::xrgb8888, generation,
                               x, y, width, height, 0};
    return present(display, frame);
}

// The displays of the window starting at `first` that have events: bit i for
// display first + i.
inline result<uint64_t> ready(uint16_t first = 0) noexcept
{
    return detail::call<abi::function::dsp_ready>(device_window{first});
}

// Takes the display's oldest event; the value is 0 when there was none.
inline result<size_t> next_event(uint16_t display, event_record& out) noexcept
{
    return detail::call<abi::function::dsp_next_event>(display, gpa{detail::to_gpa(&out)}, sizeof out);
}

}  // namespace hyperbios::dsp

#endif
