// HyperBIOS ABI table: the one place where the binary interface is written down.
//
// Everything else derives from the lists in this file:
//   - the guest wrappers (hyperbios/*.hpp) take their call IDs, argument types and
//     result types from it (call.hpp ties each wrapper to the table at compile time),
//   - the reference host builds its dispatch table, argument checks and error-list
//     enforcement from it,
//   - the build generates abi.json from it for the Python tools,
//   - spec/tools/check_spec_abi.py compares every machine-readable table of spec/
//     with that abi.json, so the spec and this file cannot drift apart,
//   - conformance/images/negative.cpp derives its checks of every call from it.
//
// The header is freestanding and dual-use: it is included by guest kernels and by
// the host, so it uses nothing beyond <stdint.h> and <stddef.h>, and everything in
// it is constexpr.
#ifndef HYPERBIOS_ABI_HPP
#define HYPERBIOS_ABI_HPP

#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------------------
// The lists. Change the interface here, then in spec/; the build checks both agree.
// ---------------------------------------------------------------------------

// The version of the specification this header implements: major, minor.
#define HYPERBIOS_ABI_SPEC_VERSION(X) X(0, 9)

// X(name, value, spec_name) — status codes returned in RAX. Values are fixed forever.
#define HYPERBIOS_ABI_STATUSES(X)                    \
    X(success, 0, "SUCCESS")                         \
    X(failed, -1, "FAILED")                          \
    X(not_supported, -2, "NOT_SUPPORTED")            \
    X(invalid_param, -3, "INVALID_PARAM")            \
    X(denied, -4, "DENIED")                          \
    X(invalid_address, -5, "INVALID_ADDRESS")        \
    X(again, -6, "AGAIN")                            \
    X(io_error, -7, "IO_ERROR")

// X(name, spec_name) — general-purpose registers, for the register order of the
// calling convention (spec 2.1) and for diagnostics.
#define HYPERBIOS_ABI_REGISTERS(X) \
    X(rax, "RAX")                  \
    X(rbx, "RBX")                  \
    X(rcx, "RCX")                  \
    X(rdx, "RDX")                  \
    X(rsi, "RSI")                  \
    X(rdi, "RDI")                  \
    X(rbp, "RBP")                  \
    X(rsp, "RSP")                  \
    X(r8, "R8")                    \
    X(r9, "R9")                    \
    X(r10, "R10")                  \
    X(r11, "R11")                  \
    X(r12, "R12")                  \
    X(r13, "R13")                  \
    X(r14, "R14")                  \
    X(r15, "R15")

// The calling convention (spec 2.1): which register carries what. The argument
// registers are listed in argument order; a function with n arguments uses the
// first n. (RDX carries the port on the port-I/O gate, so it cannot be an argument.)
#define HYPERBIOS_ABI_ARGUMENT_REGISTERS(X) X(rdi) X(rsi) X(rcx) X(r8) X(r9)
#define HYPERBIOS_ABI_CALL_WORD_REGISTER rax
#define HYPERBIOS_ABI_STATUS_REGISTER rax
#define HYPERBIOS_ABI_VALUE_REGISTER rdx

// X(name, class, reserved_mask, min, max, record_size, enumeration, meaning)
// — the kinds of argument a function can take (spec 2.3). The host checks each
// argument against its kind before a handler runs (check order, HB-CALL-011):
//   reserved_mask   bits that must be zero (INVALID_PARAM otherwise),
//   min, max        the valid range of the remaining value (INVALID_PARAM outside),
//   record_size     for a record: the bytes at the address the host accesses,
//   enumeration     for an enumeration: the name of its list in HYPERBIOS_ABI_ENUMERATIONS.
// A handle names an object of its service; the valid values are 0 up to (not
// including) the count the service's `object_count` function returns.
#define HYPERBIOS_ABI_ARG_KINDS(X)                                                                                \
    X(none, unused, 0, 0, 0xFFFFFFFFFFFFFFFFull, 0, "", "not used by the function; ignored whatever it holds")                       \
    X(u64, value, 0, 0, 0xFFFFFFFFFFFFFFFFull, 0, "", "any 64-bit value")                                         \
    X(service_id, value, 0xFFFFFFFFFFFF0000ull, 0, 0xFFFF, 0, "", "a service ID")                                 \
    X(exit_code, value, 0xFFFFFFFFFFFFFF00ull, 0, 0xFF, 0, "", "an exit code for whoever started the machine")    \
    X(device_index, handle, 0xFFFFFFFFFFFF0000ull, 0, 0xFFFE, 0, "", "a device of the service, numbered from 0")  \
    X(in_buffer, in_buffer, 0, 0, 0xFFFFFFFFFFFFFFFFull, 0, "", "GPA of a buffer the host reads; length follows") \
    X(out_buffer, out_buffer, 0, 0, 0xFFFFFFFFFFFFFFFFull, 0, "", "GPA of a buffer the host writes; length follows") \
    X(segment_list, in_buffer, 0, 0, 0xFFFFFFFFFFFFFFFFull, 0, "", "GPA of a list of segments the host reads, each naming more guest memory; length follows") \
    X(length, length, 0, 0, 0xFFFFFFFFFFFFFFFFull, 0, "", "the length in bytes of the buffer before it") \
    X(timer_index, handle, 0xFFFFFFFFFFFF0000ull, 0, 0xFFFE, 0, "", "a timer of EVT, numbered from 0")           \
    X(deadline_ns, value, 0, 0, 0xFFFFFFFFFFFFFFFFull, 0, "", "a time of the monotonic clock (TIME.monotonic_ns) in nanoseconds") \
    X(period_ns, value, 0, 0, 0xFFFFFFFFFFFFFFFFull, 0, "", "0 for a one-shot timer, else its period in nanoseconds") \
    X(source_set, value, 0, 0, 0xFFFFFFFFFFFFFFFFull, 0, "", "a set of event sources: bit n stands for source n") \
    X(vector, value, 0xFFFFFFFFFFFFFF00ull, 0, 0xFF, 0, "", "an interrupt vector, 32-255, or 0 for none") \
    X(device_window, value, 0xFFFFFFFFFFFF003Full, 0, 0xFFC0, 0, "", "the first device of a window of 64: 0, 64, ..., 0xFFC0 (9.7)") \
    X(pixel_count, value, 0xFFFFFFFFFFFF0000ull, 1, 0xFFFF, 0, "", "a width or height in pixels, 1-65535") \
    X(dsp_present_record, in_record, 0, 0, 0xFFFFFFFFFFFFFFFFull, 40, "", "GPA of a dsp_present record (40 bytes) the host reads") \
    X(aud_format, enumeration, 0xFFFFFFFFFFFF0000ull, 1, 2, 0, "aud_format", "a value of the enumeration aud_format") \
    X(aud_rate, enumeration, 0xFFFFFFFFFFFF0000ull, 1, 2, 0, "aud_rate", "a value of the enumeration aud_rate") \
    X(frame_count, value, 0xFFFFFFFF00000000ull, 0, 0xFFFFFFFF, 0, "", "a number of audio frames") \
    X(call_word, value, 0xFFFFFFFF00000000ull, 0, 0xFFFFFFFF, 0, "", "a call word: service ID in bits 31:16, function ID in bits 15:0")

// X(name, class, repeatable, enumeration, meaning) — what the value register (RDX)
// carries on success. `repeatable`: two calls with the same arguments and nothing
// in between give the same value (a clock reading does not), so a check may
// compare them.
#define HYPERBIOS_ABI_RESULT_KINDS(X)                                                         \
    X(none, plain, true, "", "zero")                                                          \
    X(u64, plain, true, "", "a 64-bit value the function defines")                            \
    X(version, plain, true, "", "a version, (major << 16) | minor; 0 where the call says so") \
    X(count, plain, true, "", "a number of bytes")                                           \
    X(object_count, plain, true, "", "how many objects (devices) the service has")            \
    X(clock_ns, plain, false, "", "a reading of a clock in nanoseconds")                      \
    X(duration_ns, plain, true, "", "a duration in nanoseconds")                              \
    X(reset_reason, enumeration, true, "reset_reason", "a value of the enumeration reset_reason") \
    X(input_state, enumeration, false, "console_input_state", "a value of the enumeration console_input_state") \
    X(source_set, plain, false, "", "a set of event sources: bit n stands for source n")    \
    X(expirations, plain, false, "", "how many times a timer expired since it was armed or last acknowledged") \
    X(device_set, plain, false, "", "a set of devices of a window of 64: bit i stands for the window's first device + i") \
    X(generation, plain, false, "", "the generation of a display's mode: 1 at boot, one more at every mode change") \
    X(link_state, enumeration, false, "net_link", "a value of the enumeration net_link")     \
    X(frame_count, plain, true, "", "a number of audio frames")                               \
    X(function_set, plain, true, "", "a set of functions of one service: bit n stands for function n") \
    X(calls_per_second, plain, true, "", "how many calls a second are let through; 0 for no limit") \
    X(no_return, no_return, true, "", "the function does not return on success")

// X(enumeration, name, value, meaning) — enumerated values (spec: the function
// that defines them). Values not listed are reserved.
#define HYPERBIOS_ABI_ENUMERATIONS(X)                                                                  \
    X(reset_reason, power_on, 0, "power-on: the machine's first boot")                                 \
    X(reset_reason, guest_reboot, 1, "the guest called POWER.reboot")                                  \
    X(reset_reason, host_reset, 2, "the host reset the machine on its own or its user's initiative")    \
    X(console_input_state, open, 0, "bytes are waiting for read, or may still arrive")                 \
    X(console_input_state, ended, 1, "no byte is waiting and none will arrive again in this run")      \
    X(mem_type, usable, 1, "RAM the guest may use as it likes")                                        \
    X(mem_type, reserved, 2, "present but not the guest's to use (legacy holes, firmware)")            \
    X(mem_type, hyperbios, 0x100, "RAM the host owns for HyperBIOS (its entry tables); the guest leaves it alone") \
    X(blk_flags, read_only, 0x1, "the device refuses writes with DENIED")                             \
    X(blk_flags, volatile_write_cache, 0x2, "completed writes may sit in a cache until BLOCK.flush")   \
    X(blk_flags, discard, 0x4, "reserved for a later discard call; zero in this version")             \
    X(blk_flags, write_zeroes, 0x8, "reserved for a later write-zeroes call; zero in this version")   \
    X(evt_source, timer_0, 0, "timer n is source n (sources 0-31 are timers)")                       \
    X(evt_source, console_input, 32, "CONSOLE: input is waiting for CONSOLE.read")                    \
    X(evt_source, dsp_ready, 33, "DSP: a display has an event for DSP.next_event")                     \
    X(evt_source, inp_ready, 34, "INP: an input device has events for INP.read")                       \
    X(evt_source, net_ready, 35, "NET: a network interface is ready (a frame, a link change, room again)") \
    X(evt_source, aud_ready, 36, "AUD: an output stream has room above its low-water mark, or is drained") \
    X(dsp_format, xrgb8888, 1, "4 bytes, a little-endian word 0x00RRGGBB: blue, green, red, unused")   \
    X(dsp_flags, visible, 0x1, "a person can see the display now")                                    \
    X(dsp_flags, resizable, 0x2, "the host may ask for other sizes (size_requested events)")          \
    X(dsp_event_type, presented, 1, "the frames presented since the last presented event were shown") \
    X(dsp_event_type, size_requested, 2, "the host asks for another size")                            \
    X(dsp_event_type, close_requested, 3, "a person asked to close the display")                      \
    X(dsp_event_type, visibility, 4, "the display became visible or hidden")                          \
    X(dsp_event_type, overflow, 5, "events were lost because the queue was full")                      \
    X(inp_kind, keyboard, 1, "keys, with the characters they type")                                    \
    X(inp_kind, pointer, 2, "a mouse, touchpad or tablet")                                             \
    X(inp_event_type, key, 1, "a key pressed, released or repeated")                                   \
    X(inp_event_type, button, 2, "a pointer button pressed or released")                              \
    X(inp_event_type, absolute, 3, "an absolute pointer position on one axis")                        \
    X(inp_event_type, relative, 4, "relative pointer motion on one axis")                             \
    X(inp_event_type, wheel, 5, "wheel detents")                                                       \
    X(inp_event_type, dropped, 6, "events were lost because the queue was full")                       \
    X(inp_modifiers, shift, 0x1, "a Shift key is held")                                                \
    X(inp_modifiers, control, 0x2, "a Control key is held")                                            \
    X(inp_modifiers, alt, 0x4, "an Alt key is held")                                                   \
    X(inp_modifiers, meta, 0x8, "a Meta key is held")                                                  \
    X(inp_modifiers, caps_lock, 0x10, "Caps Lock is on")                                               \
    X(inp_modifiers, num_lock, 0x20, "Num Lock is on")                                                 \
    X(net_link, down, 0, "no network is attached: nothing is received, and send answers IO_ERROR")     \
    X(net_link, up, 1, "frames can be sent and received")                                              \
    X(aud_format, s16_stereo, 1, "two channels of signed 16-bit little-endian samples: 4 bytes a frame")   \
    X(aud_format, s16_mono, 2, "one channel of signed 16-bit little-endian samples: 2 bytes a frame")     \
    X(aud_rate, hz_44100, 1, "44 100 frames a second")                                                 \
    X(aud_rate, hz_48000, 2, "48 000 frames a second")                                                 \
    X(aud_stream_state, closed, 0, "not opened, or closed")                                            \
    X(aud_stream_state, playing, 1, "opened: frames are taken at the rate, write takes frames")        \
    X(aud_stream_state, draining, 2, "drain was called: what is queued plays out, write takes nothing") \
    X(aud_stream_state, drained, 3, "everything queued has left; silence plays, no underrun counts")

// X(name, service_id, version) — services. `version` is what BASE.probe_service
// reports for a host implementing everything this header describes.
#define HYPERBIOS_ABI_SERVICES(X) \
    X(base, 0x0000, 2)            \
    X(console, 0x0001, 2)         \
    X(time, 0x0002, 1)            \
    X(power, 0x0003, 1)           \
    X(block, 0x0004, 1)           \
    X(mem, 0x0005, 1)             \
    X(rng, 0x0006, 1)             \
    X(evt, 0x0007, 1)             \
    X(dsp, 0x0008, 1)             \
    X(inp, 0x0009, 1)             \
    X(net, 0x000A, 1)             \
    X(aud, 0x000B, 1)

// X(service, name, function_id, since, arg0, arg1, arg2, arg3, arg4, result, (statuses), requirement)
//   since:       interface version that introduced the call, (major << 16) | minor
//   argN:        one of the argument kinds above
//   result:      one of the result kinds above
//   statuses:    every status the function itself returns (its error table in the
//                spec), SUCCESS included unless it does not return; besides these a
//                call may get the general answers of spec 4 (HB-STS-002)
//   requirement: the spec requirement that defines the call's behaviour
#define HYPERBIOS_ABI_FUNCTIONS(X)                                                                                \
    X(base, get_spec_version, 0x0000, 0x0001, none, none, none, none, none, version, (success), "HB-BASE-001")   \
    X(base, probe_service, 0x0001, 0x0001, service_id, none, none, none, none, version,                         \
      (success, invalid_param), "HB-BASE-002")                                                                   \
    X(base, get_impl_id, 0x0002, 0x0001, none, none, none, none, none, u64, (success), "HB-BASE-004")            \
    X(base, get_impl_version, 0x0003, 0x0001, none, none, none, none, none, u64, (success), "HB-BASE-005")       \
    X(base, get_impl_name, 0x0004, 0x0001, out_buffer, length, none, none, none, count,                         \
      (success, invalid_address), "HB-BASE-006")                                                                 \
    X(base, permitted_functions, 0x0005, 0x0009, service_id, none, none, none, none, function_set,               \
      (success, invalid_param), "HB-BASE-008")                                                                   \
    X(base, rate_limit, 0x0006, 0x0009, call_word, none, none, none, none, calls_per_second,                     \
      (success, invalid_param), "HB-BASE-010")                                                                   \
    X(console, write, 0x0000, 0x0001, in_buffer, length, none, none, none, count,                               \
      (success, invalid_address, io_error), "HB-CON-001")                                                        \
    X(console, read, 0x0001, 0x0001, out_buffer, length, none, none, none, count,                               \
      (success, invalid_address, io_error), "HB-CON-003")                                                        \
    X(console, input_state, 0x0002, 0x0005, none, none, none, none, none, input_state, (success), "HB-CON-006")  \
    X(time, monotonic_ns, 0x0000, 0x0001, none, none, none, none, none, clock_ns, (success), "HB-TIME-001")      \
    X(time, wallclock_ns, 0x0001, 0x0001, none, none, none, none, none, clock_ns, (success), "HB-TIME-003")      \
    X(time, resolution_ns, 0x0002, 0x0001, none, none, none, none, none, duration_ns, (success), "HB-TIME-004")  \
    X(power, shutdown, 0x0000, 0x0001, exit_code, none, none, none, none, no_return, (invalid_param),            \
      "HB-PWR-001")                                                                                              \
    X(power, reboot, 0x0001, 0x0001, none, none, none, none, none, no_return, (denied), "HB-PWR-003")            \
    X(power, reset_reason, 0x0002, 0x0001, none, none, none, none, none, reset_reason, (success), "HB-PWR-004") \
    X(block, count, 0x0000, 0x0003, none, none, none, none, none, object_count, (success), "HB-BLK-001")       \
    X(block, info, 0x0001, 0x0003, device_index, out_buffer, length, none, none, count,                          \
      (success, invalid_param, invalid_address), "HB-BLK-002")                                                   \
    X(block, read, 0x0002, 0x0003, device_index, u64, out_buffer, length, none, count,                          \
      (success, invalid_param, invalid_address, io_error), "HB-BLK-003")                                         \
    X(block, write, 0x0003, 0x0003, device_index, u64, in_buffer, length, none, count,                          \
      (success, invalid_param, denied, invalid_address, io_error), "HB-BLK-004")                                 \
    X(block, read_vectored, 0x0004, 0x0003, device_index, u64, segment_list, length, none, count,                  \
      (success, invalid_param, invalid_address, io_error), "HB-BLK-007")                                         \
    X(block, write_vectored, 0x0005, 0x0003, device_index, u64, segment_list, length, none, count,                 \
      (success, invalid_param, denied, invalid_address, io_error), "HB-BLK-007")                                 \
    X(block, flush, 0x0006, 0x0003, device_index, none, none, none, none, none, (success, invalid_param, io_error), \
      "HB-BLK-009")                                                                                              \
    X(mem, get_map, 0x0000, 0x0003, out_buffer, length, none, none, none, count, (success, invalid_address),    \
      "HB-MEM-001")                                                                                              \
    X(rng, fill, 0x0000, 0x0003, out_buffer, length, none, none, none, count,                                   \
      (success, invalid_address, io_error), "HB-RNG-001")                                                        \
    X(evt, timer_count, 0x0000, 0x0004, none, none, none, none, none, object_count, (success), "HB-EVT-001")    \
    X(evt, timer_set, 0x0001, 0x0004, timer_index, deadline_ns, period_ns, none, none, none,                     \
      (success, invalid_param), "HB-EVT-002")                                                                    \
    X(evt, timer_cancel, 0x0002, 0x0004, timer_index, none, none, none, none, none, (success, invalid_param),   \
      "HB-EVT-004")                                                                                              \
    X(evt, timer_ack, 0x0003, 0x0004, timer_index, none, none, none, none, expirations,                         \
      (success, invalid_param), "HB-EVT-005")                                                                    \
    X(evt, poll, 0x0004, 0x0004, none, none, none, none, none, source_set, (success), "HB-EVT-006")             \
    X(evt, wait, 0x0005, 0x0004, deadline_ns, source_set, none, none, none, source_set, (success), "HB-EVT-007") \
    X(evt, set_mask, 0x0006, 0x0004, source_set, none, none, none, none, source_set, (success), "HB-EVT-009")   \
    X(evt, set_vector, 0x0007, 0x0004, vector, none, none, none, none, u64, (success, invalid_param),           \
      "HB-EVT-010")                                                                                              \
    X(dsp, count, 0x0000, 0x0006, none, none, none, none, none, object_count, (success), "HB-DSP-001")          \
    X(dsp, info, 0x0001, 0x0006, device_index, out_buffer, length, none, none, count,                            \
      (success, invalid_param, invalid_address), "HB-DSP-002")                                                   \
    X(dsp, set_mode, 0x0002, 0x0006, device_index, pixel_count, pixel_count, none, none, generation,            \
      (success, invalid_param), "HB-DSP-004")                                                                    \
    X(dsp, present, 0x0003, 0x0006, device_index, dsp_present_record, none, none, none, none,                   \
      (success, invalid_param, invalid_address, again), "HB-DSP-006")                                            \
    X(dsp, ready, 0x0004, 0x0006, device_window, none, none, none, none, device_set, (success, invalid_param),  \
      "HB-DSP-010")                                                                                              \
    X(dsp, next_event, 0x0005, 0x0006, device_index, out_buffer, length, none, none, count,                      \
      (success, invalid_param, invalid_address), "HB-DSP-011")                                                   \
    X(inp, count, 0x0000, 0x0006, none, none, none, none, none, object_count, (success), "HB-INP-001")          \
    X(inp, info, 0x0001, 0x0006, device_index, out_buffer, length, none, none, count,                            \
      (success, invalid_param, invalid_address), "HB-INP-002")                                                   \
    X(inp, ready, 0x0002, 0x0006, device_window, none, none, none, none, device_set, (success, invalid_param),  \
      "HB-INP-004")                                                                                              \
    X(inp, read, 0x0003, 0x0006, device_index, out_buffer, length, none, none, count,                            \
      (success, invalid_param, invalid_address), "HB-INP-005")                                                   \
    X(inp, state, 0x0004, 0x0006, device_index, out_buffer, length, none, none, count,                           \
      (success, invalid_param, invalid_address), "HB-INP-008")                                                   \
    X(net, count, 0x0000, 0x0007, none, none, none, none, none, object_count, (success), "HB-NET-001")          \
    X(net, info, 0x0001, 0x0007, device_index, out_buffer, length, none, none, count,                            \
      (success, invalid_param, invalid_address), "HB-NET-002")                                                   \
    X(net, ready, 0x0002, 0x0007, device_window, none, none, none, none, device_set, (success, invalid_param),  \
      "HB-NET-004")                                                                                              \
    X(net, link, 0x0003, 0x0007, device_index, none, none, none, none, link_state, (success, invalid_param),    \
      "HB-NET-003")                                                                                              \
    X(net, send, 0x0004, 0x0007, device_index, in_buffer, length, none, none, count,                             \
      (success, invalid_param, invalid_address, again, io_error), "HB-NET-005")                                  \
    X(net, send_vectored, 0x0005, 0x0007, device_index, segment_list, length, none, none, count,                    \
      (success, invalid_param, invalid_address, again, io_error), "HB-NET-008")                                  \
    X(net, recv, 0x0006, 0x0007, device_index, out_buffer, length, none, none, count,                            \
      (success, invalid_param, invalid_address), "HB-NET-009")                                                   \
    X(net, peek, 0x0007, 0x0007, device_index, none, none, none, none, count, (success, invalid_param),          \
      "HB-NET-010")                                                                                              \
    X(aud, count, 0x0000, 0x0008, none, none, none, none, none, object_count, (success), "HB-AUD-001")          \
    X(aud, info, 0x0001, 0x0008, device_index, out_buffer, length, none, none, count,                            \
      (success, invalid_param, invalid_address), "HB-AUD-002")                                                   \
    X(aud, ready, 0x0002, 0x0008, device_window, none, none, none, none, device_set, (success, invalid_param),  \
      "HB-AUD-007")                                                                                              \
    X(aud, open, 0x0003, 0x0008, device_index, aud_format, aud_rate, frame_count, none, frame_count,          \
      (success, invalid_param), "HB-AUD-003")                                                                    \
    X(aud, write, 0x0004, 0x0008, device_index, in_buffer, length, none, none, count,                            \
      (success, invalid_param, invalid_address, again), "HB-AUD-004")                                            \
    X(aud, state, 0x0005, 0x0008, device_index, out_buffer, length, none, none, count,                           \
      (success, invalid_param, invalid_address), "HB-AUD-005")                                                   \
    X(aud, set_low_water, 0x0006, 0x0008, device_index, frame_count, none, none, none, none,                     \
      (success, invalid_param), "HB-AUD-007")                                                                    \
    X(aud, drain, 0x0007, 0x0008, device_index, none, none, none, none, none, (success, invalid_param),          \
      "HB-AUD-009")                                                                                              \
    X(aud, close, 0x0008, 0x0008, device_index, none, none, none, none, none, (success, invalid_param),          \
      "HB-AUD-010")

// Layouts of records in guest memory (spec 9.2), each declared once here: the
// guest's structs below, the host's encoding, abi.json and the spec's layout
// tables all come from these lists (spec/tools/check_spec_abi.py compares the
// spec's tables field by field: name, offset, size). Fields are laid out in
// order with natural alignment and no padding (static_asserts below); a field
// named reserved* is reserved and zero (HB-GEN-002).
//
// X(layout, list, meaning) names each layout and its field list; a list is
// called as list(F, layout) and calls F(layout, type, field, count, meaning) per
// field: `count` elements of `type` (1: a scalar; more: an array, e.g. a name).
#define HYPERBIOS_ABI_LAYOUT_MEM_MAP_HEADER(F, L)                                                   \
    F(L, uint32_t, header_size, 1, "the size of this header in bytes (16); entries start here")        \
    F(L, uint16_t, version, 1, "the layout's version (1); a later version only appends fields")        \
    F(L, uint16_t, entry_size, 1, "the size of each entry in bytes (24, or more in a later version)")  \
    F(L, uint32_t, entry_count, 1, "how many entries follow the header")                              \
    F(L, uint32_t, reserved0, 1, "reserved, zero")

#define HYPERBIOS_ABI_LAYOUT_MEM_REGION(F, L)                                                       \
    F(L, uint64_t, base, 1, "the guest-physical address where the region starts")                     \
    F(L, uint64_t, length, 1, "the region's length in bytes, never 0")                                 \
    F(L, uint32_t, type, 1, "what the region is: a value of the enumeration mem_type")                \
    F(L, uint32_t, reserved0, 1, "reserved, zero")

#define HYPERBIOS_ABI_LAYOUT_BLK_INFO(F, L)                                                          \
    F(L, uint32_t, size, 1, "the size of this record in bytes (88 in version 1)")                      \
    F(L, uint16_t, version, 1, "the layout's version (1); a later version only appends fields")        \
    F(L, uint16_t, reserved0, 1, "reserved, zero")                                                     \
    F(L, uint64_t, sector_count, 1, "the device's capacity in sectors")                                \
    F(L, uint32_t, sector_size, 1, "bytes per sector: 512 or 4096")                                    \
    F(L, uint32_t, flags, 1, "the blk_flags bits; the others are reserved and zero")                   \
    F(L, uint32_t, max_transfer, 1, "the most bytes one call moves, at least 1 MiB, a multiple of sector_size") \
    F(L, uint32_t, max_segments, 1, "the most segments a vectored call takes, at least 256")          \
    F(L, uint8_t, name, 32, "the device's name, UTF-8, padded with NUL bytes")                         \
    F(L, uint8_t, id, 20, "an identifier that stays the same for the same disk across boots, or zeros") \
    F(L, uint32_t, reserved1, 1, "reserved, zero")

#define HYPERBIOS_ABI_LAYOUT_BLK_SEGMENT(F, L)                                                       \
    F(L, uint64_t, address, 1, "the guest-physical address of the segment")                           \
    F(L, uint64_t, length, 1, "its length in bytes, a multiple of the sector size")

#define HYPERBIOS_ABI_LAYOUT_DSP_INFO(F, L)                                                          \
    F(L, uint32_t, size, 1, "the size of this record in bytes (88 in version 1)")                      \
    F(L, uint16_t, version, 1, "the layout's version (1); a later version only appends fields")        \
    F(L, uint16_t, reserved0, 1, "reserved, zero")                                                     \
    F(L, uint32_t, generation, 1, "the current mode's generation")                                    \
    F(L, uint32_t, width, 1, "the current mode's width in pixels")                                    \
    F(L, uint32_t, height, 1, "the current mode's height in pixels")                                  \
    F(L, uint32_t, max_width, 1, "the widest mode set_mode takes")                                    \
    F(L, uint32_t, max_height, 1, "the tallest mode set_mode takes")                                  \
    F(L, uint32_t, preferred_width, 1, "the width the host would like, or 0 for no preference")      \
    F(L, uint32_t, preferred_height, 1, "the height the host would like, or 0 for no preference")    \
    F(L, uint32_t, refresh_mhz, 1, "the refresh rate in millihertz, or 0 when unknown")               \
    F(L, uint32_t, formats, 1, "the pixel formats offered: bit v set for dsp_format value v")         \
    F(L, uint32_t, flags, 1, "the dsp_flags bits; the others are reserved and zero")                  \
    F(L, uint32_t, reserved1, 1, "reserved, zero")                                                     \
    F(L, uint32_t, reserved2, 1, "reserved, zero")                                                     \
    F(L, uint8_t, name, 32, "the display's name, UTF-8, padded with NUL bytes")

#define HYPERBIOS_ABI_LAYOUT_DSP_PRESENT(F, L)                                                       \
    F(L, uint64_t, address, 1, "the GPA of the framebuffer's pixel (0, 0)")                           \
    F(L, uint32_t, stride, 1, "bytes from the start of one row to the start of the next")             \
    F(L, uint32_t, format, 1, "a dsp_format value the display offers")                                \
    F(L, uint32_t, generation, 1, "the generation of the mode the frame was drawn for")              \
    F(L, uint32_t, x, 1, "the rectangle's left column")                                               \
    F(L, uint32_t, y, 1, "the rectangle's top row")                                                   \
    F(L, uint32_t, width, 1, "the rectangle's width in pixels, at least 1")                          \
    F(L, uint32_t, height, 1, "the rectangle's height in pixels, at least 1")                        \
    F(L, uint32_t, reserved0, 1, "reserved, zero")

#define HYPERBIOS_ABI_LAYOUT_DSP_EVENT(F, L)                                                         \
    F(L, uint32_t, type, 1, "a dsp_event_type value")                                                 \
    F(L, uint32_t, generation, 1, "the mode's generation when the event happened")                   \
    F(L, uint32_t, a, 1, "the first value of the event")                                              \
    F(L, uint32_t, b, 1, "the second value of the event")                                             \
    F(L, uint64_t, time_ns, 1, "when it happened, a reading of TIME.monotonic_ns")

#define HYPERBIOS_ABI_LAYOUT_INP_INFO(F, L)                                                          \
    F(L, uint32_t, size, 1, "the size of this record in bytes (64 in version 1)")                      \
    F(L, uint16_t, version, 1, "the layout's version (1); a later version only appends fields")        \
    F(L, uint16_t, kind, 1, "an inp_kind value")                                                       \
    F(L, uint16_t, display, 1, "for an absolute pointer, the display whose pixels it counts; 0xFFFF for none") \
    F(L, uint16_t, reserved0, 1, "reserved, zero")                                                     \
    F(L, uint32_t, abs_max_x, 1, "an absolute pointer's largest x; 0 otherwise")                      \
    F(L, uint32_t, abs_max_y, 1, "an absolute pointer's largest y; 0 otherwise")                      \
    F(L, uint32_t, buttons, 1, "the buttons a pointer has: bit n for BTN_LEFT + n")                   \
    F(L, uint32_t, queue_length, 1, "how many events the queue holds before it overflows")            \
    F(L, uint32_t, reserved1, 1, "reserved, zero")                                                     \
    F(L, uint8_t, name, 32, "the device's name, UTF-8, padded with NUL bytes")

#define HYPERBIOS_ABI_LAYOUT_INP_EVENT(F, L)                                                         \
    F(L, uint64_t, time_ns, 1, "when the host received it, a reading of TIME.monotonic_ns")          \
    F(L, uint16_t, type, 1, "an inp_event_type value")                                                \
    F(L, uint16_t, code, 1, "what changed: a key, button or axis (evdev codes)")                      \
    F(L, int32_t, value, 1, "the new value, signed")                                                  \
    F(L, uint32_t, unicode, 1, "the character typed, or 0")                                           \
    F(L, uint32_t, modifiers, 1, "the inp_modifiers held")

#define HYPERBIOS_ABI_LAYOUT_INP_STATE(F, L)                                                         \
    F(L, uint32_t, size, 1, "the size of this record in bytes (128 in version 1)")                     \
    F(L, uint16_t, version, 1, "the layout's version (1); a later version only appends fields")        \
    F(L, uint16_t, reserved0, 1, "reserved, zero")                                                     \
    F(L, uint32_t, modifiers, 1, "the inp_modifiers held")                                            \
    F(L, uint32_t, buttons, 1, "the buttons down: bit n for BTN_LEFT + n")                           \
    F(L, uint32_t, abs_x, 1, "an absolute pointer's x; 0 otherwise")                                  \
    F(L, uint32_t, abs_y, 1, "an absolute pointer's y; 0 otherwise")                                  \
    F(L, uint64_t, reserved1, 1, "reserved, zero")                                                     \
    F(L, uint8_t, keys, 96, "the keys down: bit k % 8 of byte k / 8 for evdev key code k")

#define HYPERBIOS_ABI_LAYOUT_NET_INFO(F, L)                                                          \
    F(L, uint32_t, size, 1, "the size of this record in bytes (80 in version 1)")                      \
    F(L, uint16_t, version, 1, "the layout's version (1); a later version only appends fields")        \
    F(L, uint16_t, link, 1, "a net_link value: the link's state now")                                  \
    F(L, uint8_t, mac, 6, "the interface's MAC address, in wire order")                               \
    F(L, uint16_t, reserved0, 1, "reserved, zero")                                                     \
    F(L, uint32_t, mtu, 1, "the largest payload a frame carries, at least 576")                       \
    F(L, uint32_t, max_frame, 1, "the largest frame send takes and recv gives: mtu + 14")             \
    F(L, uint32_t, rx_queue_length, 1, "how many received frames the receive queue holds")            \
    F(L, uint32_t, tx_queue_length, 1, "how many frames the host holds for sending before AGAIN")     \
    F(L, uint32_t, max_segments, 1, "the most segments send_vectored takes, at least 16")             \
    F(L, uint32_t, reserved1, 1, "reserved, zero")                                                     \
    F(L, uint64_t, rx_dropped, 1, "frames that arrived while the receive queue was full")             \
    F(L, uint8_t, name, 32, "the interface's name, UTF-8, padded with NUL bytes")

#define HYPERBIOS_ABI_LAYOUT_NET_SEGMENT(F, L)                                                       \
    F(L, uint64_t, address, 1, "the guest-physical address of the segment")                           \
    F(L, uint64_t, length, 1, "its length in bytes")

#define HYPERBIOS_ABI_LAYOUT_AUD_INFO(F, L)                                                          \
    F(L, uint32_t, size, 1, "the size of this record in bytes (64 in version 1)")                      \
    F(L, uint16_t, version, 1, "the layout's version (1); a later version only appends fields")        \
    F(L, uint16_t, reserved0, 1, "reserved, zero")                                                     \
    F(L, uint32_t, formats, 1, "the formats offered: bit v for aud_format value v")                   \
    F(L, uint32_t, min_queue_frames, 1, "the shortest queue open takes")                              \
    F(L, uint32_t, max_queue_frames, 1, "the longest queue open takes")                               \
    F(L, uint32_t, rates, 1, "the rates offered: bit v for aud_rate value v")                         \
    F(L, uint64_t, reserved1, 1, "reserved, zero")                                                     \
    F(L, uint8_t, name, 32, "the stream's name, UTF-8, padded with NUL bytes")

#define HYPERBIOS_ABI_LAYOUT_AUD_STATE(F, L)                                                         \
    F(L, uint32_t, size, 1, "the size of this record in bytes (64 in version 1)")                      \
    F(L, uint16_t, version, 1, "the layout's version (1); a later version only appends fields")        \
    F(L, uint16_t, state, 1, "an aud_stream_state value")                                              \
    F(L, uint32_t, format, 1, "the aud_format the stream was opened with; 0 while closed")            \
    F(L, uint32_t, rate, 1, "its rate in frames a second; 0 while closed")                            \
    F(L, uint32_t, queue_frames, 1, "the queue's length in frames; 0 while closed")                   \
    F(L, uint32_t, queued_frames, 1, "the frames written and not yet left")                           \
    F(L, uint64_t, position, 1, "the guest's frames that left the stream since it was opened")        \
    F(L, uint64_t, underruns, 1, "the underruns since it was opened")                                 \
    F(L, uint64_t, latency_ns, 1, "what the back end holds beyond the queue, in nanoseconds")         \
    F(L, uint64_t, time_ns, 1, "when these values held, a reading of TIME.monotonic_ns")              \
    F(L, uint32_t, low_water, 1, "the low-water mark in frames")                                      \
    F(L, uint32_t, reserved0, 1, "reserved, zero")

#define HYPERBIOS_ABI_LAYOUTS(X)                                                                  \
    X(mem_map_header, HYPERBIOS_ABI_LAYOUT_MEM_MAP_HEADER, "what MEM.get_map writes first")      \
    X(mem_region, HYPERBIOS_ABI_LAYOUT_MEM_REGION, "one region of the memory map, after the header") \
    X(blk_info, HYPERBIOS_ABI_LAYOUT_BLK_INFO, "what BLOCK.info writes about one device")         \
    X(blk_segment, HYPERBIOS_ABI_LAYOUT_BLK_SEGMENT, "one entry of a vectored call's segment list") \
    X(dsp_info, HYPERBIOS_ABI_LAYOUT_DSP_INFO, "what DSP.info writes about one display")         \
    X(dsp_present, HYPERBIOS_ABI_LAYOUT_DSP_PRESENT, "the frame and rectangle DSP.present copies") \
    X(dsp_event, HYPERBIOS_ABI_LAYOUT_DSP_EVENT, "one event DSP.next_event takes")               \
    X(inp_info, HYPERBIOS_ABI_LAYOUT_INP_INFO, "what INP.info writes about one input device")    \
    X(inp_event, HYPERBIOS_ABI_LAYOUT_INP_EVENT, "one event INP.read takes")                     \
    X(inp_state, HYPERBIOS_ABI_LAYOUT_INP_STATE, "what INP.state writes")                        \
    X(net_info, HYPERBIOS_ABI_LAYOUT_NET_INFO, "what NET.info writes about one interface")       \
    X(net_segment, HYPERBIOS_ABI_LAYOUT_NET_SEGMENT, "one part of the frame NET.send_vectored sends") \
    X(aud_info, HYPERBIOS_ABI_LAYOUT_AUD_INFO, "what AUD.info writes about one output stream")    \
    X(aud_state, HYPERBIOS_ABI_LAYOUT_AUD_STATE, "what AUD.state writes about one output stream")

// X(leaf, register, last_bit, first_bit, field, meaning) — the discovery leaves
// (spec chapter 3), at offsets from the base leaf B. Bits of a leaf's registers
// that no field covers are reserved and zero (HB-GEN-002).
#define HYPERBIOS_ABI_DISCOVERY_FIELDS(X)                                                        \
    X(0, eax, 31, 0, max_leaf, "the highest leaf of the HyperBIOS range")                        \
    X(0, ebx, 31, 0, vendor_signature, "vendor signature, bytes 0-3")                            \
    X(0, ecx, 31, 0, vendor_signature, "vendor signature, bytes 4-7")                            \
    X(0, edx, 31, 0, vendor_signature, "vendor signature, bytes 8-11")                           \
    X(1, eax, 31, 0, interface_signature, "the interface signature")                             \
    X(1, ebx, 31, 0, interface_version, "the interface version implemented")                     \
    X(1, ecx, 2, 0, gates, "the gates offered, one bit each")                                    \
    X(1, edx, 15, 0, gate_port, "the port of the port-I/O gate")                                 \
    X(2, eax, 31, 0, service_bitmap, "bit n set: service n is offered (services 0-31)")

// X(name, bit, mandatory) — the gates (spec 2.2), bits of the `gates` field.
#define HYPERBIOS_ABI_GATES(X) \
    X(port_io, 0, true)        \
    X(vmcall, 1, false)        \
    X(vmmcall, 2, false)

// X(id, name, implementation) — the implementation-ID registry (spec Appendix A),
// the values BASE.get_impl_id returns. ID 0 is reserved and never returned.
#define HYPERBIOS_ABI_IMPLEMENTATIONS(X) X(1, hbvm, "HyperBIOS reference host")

// X(name, first, last, use) — ranges of implementation IDs (spec Appendix A), the
// values BASE.get_impl_id may return; every other value (0 among them) is reserved.
#define HYPERBIOS_ABI_IMPLEMENTATION_ID_RANGES(X)                                                    \
    X(registered, 0x0001ull, 0xFFFFull, "registered in Appendix A")                                  \
    X(private, 0x8000000000000000ull, 0xFFFFFFFFFFFFFFFFull, "chosen by an implementation: bit 63 set, 63 random bits")

// X(name, applies_to, first, last, use) — ranges of service and function IDs (spec 1.5).
#define HYPERBIOS_ABI_ID_RANGES(X)                                                                   \
    X(specified, services, 0x0000, 0x7FFF, "services defined by this specification")                \
    X(vendor, services, 0x8000, 0xBFFF, "vendor extensions, meaningful with the implementation ID") \
    X(experimental, services, 0xC000, 0xEFFF, "experiments; never in a released implementation")     \
    X(never_assigned, services, 0xF000, 0xFFFF, "never assigned: always an unknown service")         \
    X(never_assigned, functions, 0xF000, 0xFFFF, "never assigned in any service: always unknown")

namespace hyperbios::abi {

// ---------------------------------------------------------------------------
// Versions, call words, interface constants.
// ---------------------------------------------------------------------------

constexpr uint32_t make_version(uint32_t major, uint32_t minor) { return (major << 16) | (minor & 0xFFFFu); }
constexpr uint32_t version_major(uint32_t v) { return v >> 16; }
constexpr uint32_t version_minor(uint32_t v) { return v & 0xFFFFu; }

// The version of the specification this header implements.
#define HYPERBIOS_X(major, minor) make_version(major, minor)
inline constexpr uint32_t spec_version = HYPERBIOS_ABI_SPEC_VERSION(HYPERBIOS_X);
#undef HYPERBIOS_X

// "HBIO" in memory order: the interface_signature field (EAX of leaf B + 1).
inline constexpr uint32_t interface_signature = 0x4F494248u;

// CPUID discovery (spec 3.1).
inline constexpr uint32_t cpuid_hypervisor_bit_leaf = 1;       // CPUID.1:ECX[31]
inline constexpr uint32_t cpuid_hypervisor_bit = 1u << 31;
inline constexpr uint32_t cpuid_scan_first = 0x40000000u;
inline constexpr uint32_t cpuid_scan_last = 0x4000FF00u;
inline constexpr uint32_t cpuid_scan_step = 0x100u;
inline constexpr uint32_t cpuid_leaf_vendor = 0;               // base + 0
inline constexpr uint32_t cpuid_leaf_interface = 1;            // base + 1
inline constexpr uint32_t cpuid_leaf_services = 2;             // base + 2
inline constexpr uint32_t cpuid_leaf_count = 3;                // leaves base .. base+2

// Call word in RAX: bits 31:16 service, bits 15:0 function, bits 63:32 reserved (zero).
constexpr uint64_t make_call(uint16_t service, uint16_t function)
{
    return (uint64_t(service) << 16) | function;
}
constexpr uint16_t call_service(uint64_t call) { return uint16_t(call >> 16); }
constexpr uint16_t call_function(uint64_t call) { return uint16_t(call); }
inline constexpr uint64_t call_reserved_mask = 0xFFFFFFFF00000000ull;

// ---------------------------------------------------------------------------
// ID ranges (spec 1.5).
// ---------------------------------------------------------------------------

enum class id_space : uint8_t { services, functions };

struct id_range_desc {
    const char* name;
    id_space applies_to;
    uint16_t first, last;
    const char* use;
};

inline constexpr id_range_desc id_ranges[] = {
#define HYPERBIOS_X(name, applies, first, last, use) {#name, id_space::applies, first, last, use},
    HYPERBIOS_ABI_ID_RANGES(HYPERBIOS_X)
#undef HYPERBIOS_X
};

constexpr uint16_t id_range_first(const char* name, id_space space)
{
    for (const id_range_desc& r : id_ranges) {
        const char *a = r.name, *b = name;
        while (*a && *a == *b)
            ++a, ++b;
        if (*a == *b && r.applies_to == space)
            return r.first;
    }
    return 0;
}

// Service IDs 0x0000-0x7FFF are assigned by this specification, 0x8000-0xBFFF by
// implementations for vendor extensions, 0xC000-0xEFFF are for experiments; IDs
// from 0xF000 up are never assigned to anything, so a probe for "a service or
// function that does not exist" uses them and stays valid under every later
// version and every extension.
inline constexpr uint16_t vendor_service_first = id_range_first("vendor", id_space::services);
inline constexpr uint16_t experimental_service_first = id_range_first("experimental", id_space::services);
inline constexpr uint16_t unassigned_service_first = id_range_first("never_assigned", id_space::services);
inline constexpr uint16_t unassigned_function_first = id_range_first("never_assigned", id_space::functions);
static_assert(vendor_service_first == 0x8000 && experimental_service_first == 0xC000 &&
                  unassigned_service_first == 0xF000 && unassigned_function_first == 0xF000,
              "ID ranges: the named constants must match HYPERBIOS_ABI_ID_RANGES");

// ---------------------------------------------------------------------------
// Status codes.
// ---------------------------------------------------------------------------

enum class status : int64_t {
#define HYPERBIOS_X(name, value, spec_name) name = value,
    HYPERBIOS_ABI_STATUSES(HYPERBIOS_X)
#undef HYPERBIOS_X
};

// True for the values the spec defines; hosts clamp anything else to `failed`.
constexpr bool is_spec_status(int64_t value)
{
#define HYPERBIOS_X(name, v, spec_name) \
    if (value == (v))                   \
        return true;
    HYPERBIOS_ABI_STATUSES(HYPERBIOS_X)
#undef HYPERBIOS_X
    return false;
}

constexpr const char* status_name(status s)
{
#define HYPERBIOS_X(name, value, spec_name) \
    if (s == status::name)                  \
        return spec_name;
    HYPERBIOS_ABI_STATUSES(HYPERBIOS_X)
#undef HYPERBIOS_X
    return "UNKNOWN";
}

inline constexpr status all_statuses[] = {
#define HYPERBIOS_X(name, value, spec_name) status::name,
    HYPERBIOS_ABI_STATUSES(HYPERBIOS_X)
#undef HYPERBIOS_X
};

// A set of spec statuses: bit n stands for the status of value -n.
using status_set = uint32_t;

constexpr status_set status_bit(status s)
{
    const int64_t n = -int64_t(s);
    return n >= 0 && n < 32 ? status_set(1) << n : 0;
}
constexpr bool contains(status_set set, status s) { return (set & status_bit(s)) != 0; }

template <typename... Statuses>
constexpr status_set status_set_of(Statuses... s)
{
    return (status_set(0) | ... | status_bit(s));
}

// What any call may be answered with besides its own error table (spec 4,
// HB-STS-002): INVALID_PARAM for reserved bits of the call word, NOT_SUPPORTED for
// what is not offered, DENIED by the host's policy (never for BASE, HB-BASE-007),
// and FAILED for a failure no other code names.
inline constexpr status_set general_statuses =
    status_set_of(status::invalid_param, status::not_supported, status::denied, status::failed);

// ---------------------------------------------------------------------------
// Registers of the calling convention.
// ---------------------------------------------------------------------------

enum class gpr : uint8_t {
#define HYPERBIOS_X(name, spec_name) name,
    HYPERBIOS_ABI_REGISTERS(HYPERBIOS_X)
#undef HYPERBIOS_X
};

constexpr const char* register_name(gpr r)
{
#define HYPERBIOS_X(name, spec_name) \
    if (r == gpr::name)              \
        return spec_name;
    HYPERBIOS_ABI_REGISTERS(HYPERBIOS_X)
#undef HYPERBIOS_X
    return "?";
}

inline constexpr gpr argument_registers[] = {
#define HYPERBIOS_X(name) gpr::name,
    HYPERBIOS_ABI_ARGUMENT_REGISTERS(HYPERBIOS_X)
#undef HYPERBIOS_X
};
inline constexpr unsigned max_args = sizeof(argument_registers) / sizeof(argument_registers[0]);
#define HYPERBIOS_X(name) gpr::name
inline constexpr gpr call_word_register = HYPERBIOS_X(HYPERBIOS_ABI_CALL_WORD_REGISTER);
inline constexpr gpr status_register = HYPERBIOS_X(HYPERBIOS_ABI_STATUS_REGISTER);
inline constexpr gpr value_register = HYPERBIOS_X(HYPERBIOS_ABI_VALUE_REGISTER);
#undef HYPERBIOS_X

// For code that hard-wires the register order (inline assembly, the host's
// register decoding): `static_assert(arguments_in_registers(gpr::rdi, ...))`
// next to it turns a change of the table into a compile error there.
template <typename... Registers>
constexpr bool arguments_in_registers(Registers... order)
{
    const gpr given[] = {order...};
    if (sizeof...(order) != max_args)
        return false;
    for (unsigned i = 0; i < max_args; ++i)
        if (given[i] != argument_registers[i])
            return false;
    return true;
}

// ---------------------------------------------------------------------------
// Enumerations.
// ---------------------------------------------------------------------------

struct enum_value_desc {
    const char* enumeration;
    const char* name;
    uint64_t value;
    const char* meaning;
};

inline constexpr enum_value_desc enum_values[] = {
#define HYPERBIOS_X(enumeration, name, value, meaning) {#enumeration, #name, value, meaning},
    HYPERBIOS_ABI_ENUMERATIONS(HYPERBIOS_X)
#undef HYPERBIOS_X
};
inline constexpr size_t enum_value_count = sizeof(enum_values) / sizeof(enum_values[0]);

// One namespace per enumeration, e.g. abi::reset_reason::guest_reboot.
#define HYPERBIOS_X(enumeration, name, value, meaning) \
    namespace enumeration {                            \
    inline constexpr uint64_t name = value;            \
    }
HYPERBIOS_ABI_ENUMERATIONS(HYPERBIOS_X)
#undef HYPERBIOS_X

// POWER.reset_reason values under their earlier names.
inline constexpr uint64_t reset_power_on = reset_reason::power_on;
inline constexpr uint64_t reset_guest_reboot = reset_reason::guest_reboot;

namespace detail {
constexpr bool same_text(const char* a, const char* b)
{
    while (*a && *a == *b)
        ++a, ++b;
    return *a == *b;
}
}  // namespace detail

// True when `value` is listed in `enumeration`.
constexpr bool is_enum_value(const char* enumeration, uint64_t value)
{
    for (const enum_value_desc& e : enum_values)
        if (detail::same_text(e.enumeration, enumeration) && e.value == value)
            return true;
    return false;
}

// The first value `enumeration` lists, and one more than the largest it lists:
// a valid value and an invalid one for tests derived from the table.
constexpr uint64_t first_enum_value(const char* enumeration)
{
    for (const enum_value_desc& e : enum_values)
        if (detail::same_text(e.enumeration, enumeration))
            return e.value;
    return 0;
}

constexpr uint64_t past_enum_values(const char* enumeration)
{
    uint64_t past = 0;
    for (const enum_value_desc& e : enum_values)
        if (detail::same_text(e.enumeration, enumeration) && e.value >= past)
            past = e.value + 1;
    return past;
}

// ---------------------------------------------------------------------------
// Argument kinds.
// ---------------------------------------------------------------------------

// What the host checks of an argument, and at which step of the check order.
enum class arg_class : uint8_t {
    unused,       // not used: ignored whatever it holds (HB-CALL-010)
    value,        // reserved bits and a range: INVALID_PARAM (step 4)
    enumeration,  // reserved bits and one of the listed values: INVALID_PARAM (step 4)
    handle,       // reserved bits, range, and below the service's object count: INVALID_PARAM (step 4)
    in_buffer,    // with the next argument (a length): in guest RAM or INVALID_ADDRESS (step 5)
    out_buffer,
    length,       // range: INVALID_PARAM (step 4)
    in_record,    // a record of record_size bytes at this GPA: in guest RAM or INVALID_ADDRESS (step 5)
    out_record,
};

enum class arg_kind : uint8_t {
#define HYPERBIOS_X(name, cls, reserved, min, max, size, enumeration, meaning) name,
    HYPERBIOS_ABI_ARG_KINDS(HYPERBIOS_X)
#undef HYPERBIOS_X
};

struct arg_kind_desc {
    arg_kind id;
    const char* name;
    arg_class cls;
    uint64_t reserved;  // bits that must be zero
    uint64_t min, max;  // valid range of the value
    uint32_t record_size;
    const char* enumeration;
    const char* meaning;
};

inline constexpr arg_kind_desc arg_kinds[] = {
#define HYPERBIOS_X(name, cls, reserved, min, max, size, enumeration, meaning) \
    {arg_kind::name, #name, arg_class::cls, reserved, min, max, size, enumeration, meaning},
    HYPERBIOS_ABI_ARG_KINDS(HYPERBIOS_X)
#undef HYPERBIOS_X
};
inline constexpr size_t arg_kind_count = sizeof(arg_kinds) / sizeof(arg_kinds[0]);

// The description of a kind of this table (kinds are numbered in table order).
constexpr const arg_kind_desc& kind_of(arg_kind k) { return arg_kinds[size_t(k) < arg_kind_count ? size_t(k) : 0]; }

// Bits of an argument that are reserved for the given kind.
constexpr uint64_t reserved_bits(arg_kind kind) { return kind_of(kind).reserved; }

constexpr bool is_buffer(arg_class c) { return c == arg_class::in_buffer || c == arg_class::out_buffer; }
constexpr bool is_record(arg_class c) { return c == arg_class::in_record || c == arg_class::out_record; }
constexpr bool writes_guest_memory(arg_class c) { return c == arg_class::out_buffer || c == arg_class::out_record; }

// The step-4 check of one argument: reserved bits, range, enumeration. Handles
// are also checked against the service's object count, which only the host knows.
constexpr bool argument_acceptable(const arg_kind_desc& k, uint64_t value)
{
    if (k.cls == arg_class::unused)
        return true;  // HB-CALL-010
    if (value & k.reserved)
        return false;
    if (value < k.min || value > k.max)
        return false;
    if (k.cls == arg_class::enumeration && !is_enum_value(k.enumeration, value))
        return false;
    return true;
}

// ---------------------------------------------------------------------------
// Result kinds.
// ---------------------------------------------------------------------------

enum class result_class : uint8_t { plain, enumeration, no_return };

enum class result_kind : uint8_t {
#define HYPERBIOS_X(name, cls, repeatable, enumeration, meaning) name,
    HYPERBIOS_ABI_RESULT_KINDS(HYPERBIOS_X)
#undef HYPERBIOS_X
};

struct result_kind_desc {
    result_kind id;
    const char* name;
    result_class cls;
    bool repeatable;
    const char* enumeration;
    const char* meaning;
};

inline constexpr result_kind_desc result_kinds[] = {
#define HYPERBIOS_X(name, cls, repeatable, enumeration, meaning) \
    {result_kind::name, #name, result_class::cls, repeatable, enumeration, meaning},
    HYPERBIOS_ABI_RESULT_KINDS(HYPERBIOS_X)
#undef HYPERBIOS_X
};
inline constexpr size_t result_kind_count = sizeof(result_kinds) / sizeof(result_kinds[0]);

constexpr const result_kind_desc& kind_of(result_kind k)
{
    return result_kinds[size_t(k) < result_kind_count ? size_t(k) : 0];
}

// ---------------------------------------------------------------------------
// Services and functions.
// ---------------------------------------------------------------------------

enum class service : uint16_t {
#define HYPERBIOS_X(name, id, version) name = id,
    HYPERBIOS_ABI_SERVICES(HYPERBIOS_X)
#undef HYPERBIOS_X
};

// Call IDs: the value a guest places in RAX, e.g. function::console_write.
enum class function : uint32_t {
#define HYPERBIOS_X(svc, name, id, since, a0, a1, a2, a3, a4, result, errors, req) \
    svc##_##name = (uint32_t(service::svc) << 16) | (id),
    HYPERBIOS_ABI_FUNCTIONS(HYPERBIOS_X)
#undef HYPERBIOS_X
};

struct service_desc {
    service id;
    const char* name;
    uint32_t version;
};

struct function_desc {
    function call;
    service svc;
    uint16_t id;
    const char* service_name;
    const char* name;
    uint32_t since;
    arg_kind args[max_args];
    result_kind result;
    status_set statuses;  // the function's error table, SUCCESS included when it returns
    const char* requirement;
};

inline constexpr service_desc services[] = {
#define HYPERBIOS_X(name, id, version) {service::name, #name, version},
    HYPERBIOS_ABI_SERVICES(HYPERBIOS_X)
#undef HYPERBIOS_X
};

namespace detail {
// The error lists of the table name statuses without `status::`.
using enum status;
inline constexpr function_desc function_table[] = {
#define HYPERBIOS_X(svc, fname, fid, since, a0, a1, a2, a3, a4, res, errors, req)                          \
    {function::svc##_##fname, service::svc, fid, #svc, #fname, since,                                      \
     {arg_kind::a0, arg_kind::a1, arg_kind::a2, arg_kind::a3, arg_kind::a4}, result_kind::res, \
     status_set_of errors, req},
    HYPERBIOS_ABI_FUNCTIONS(HYPERBIOS_X)
#undef HYPERBIOS_X
};
}  // namespace detail

inline constexpr const auto& functions = detail::function_table;

inline constexpr size_t service_count = sizeof(services) / sizeof(services[0]);
inline constexpr size_t function_count = sizeof(detail::function_table) / sizeof(detail::function_table[0]);

// Lookups usable in constant expressions and at run time. The index forms return
// the table's size when nothing matches; constant expressions use them because
// GCC's UBSan rejects null tests of pointers into these arrays there.
constexpr size_t function_index(uint64_t call)
{
    for (size_t i = 0; i < function_count; ++i)
        if (uint64_t(functions[i].call) == call)
            return i;
    return function_count;
}

constexpr size_t service_index(uint64_t id)
{
    for (size_t i = 0; i < service_count; ++i)
        if (uint64_t(services[i].id) == id)
            return i;
    return service_count;
}

// nullptr when unknown.
inline const function_desc* find_function(uint64_t call)
{
    const size_t i = function_index(call);
    return i < function_count ? &functions[i] : nullptr;
}

inline const service_desc* find_service(uint64_t id)
{
    const size_t i = service_index(id);
    return i < service_count ? &services[i] : nullptr;
}

constexpr bool is_function(function call) { return function_index(uint64_t(call)) < function_count; }

// The table entry of a call known at compile time.
constexpr const function_desc& describe(function call) { return functions[function_index(uint64_t(call))]; }

// Number of argument registers a call uses (arguments after the last used one are `none`).
constexpr unsigned arity(const function_desc& f)
{
    unsigned n = 0;
    for (unsigned i = 0; i < max_args; ++i)
        if (f.args[i] != arg_kind::none)
            n = i + 1;
    return n;
}

constexpr unsigned arity(function call)
{
    const size_t f = function_index(uint64_t(call));
    return f < function_count ? arity(functions[f]) : 0;
}

// The function of `svc` in `table` that counts the objects its handles name;
// the table's size when there is none.
template <typename Table>
constexpr size_t object_count_function(const Table& table, size_t size, service svc)
{
    for (size_t i = 0; i < size; ++i)
        if (table[i].svc == svc && table[i].result == result_kind::object_count)
            return i;
    return size;
}

// ---------------------------------------------------------------------------
// Discovery leaves (spec chapter 3).
// ---------------------------------------------------------------------------

enum class cpuid_reg : uint8_t { eax, ebx, ecx, edx };

struct discovery_field_desc {
    uint32_t leaf;  // offset from the base leaf
    cpuid_reg reg;
    uint8_t last_bit, first_bit;
    const char* name;
    const char* meaning;
};

inline constexpr discovery_field_desc discovery_fields[] = {
#define HYPERBIOS_X(leaf, reg, last, first, name, meaning) {leaf, cpuid_reg::reg, last, first, #name, meaning},
    HYPERBIOS_ABI_DISCOVERY_FIELDS(HYPERBIOS_X)
#undef HYPERBIOS_X
};

constexpr uint32_t field_mask(const discovery_field_desc& f)
{
    const unsigned width = unsigned(f.last_bit) - f.first_bit + 1;
    return (width >= 32 ? ~0u : ((1u << width) - 1)) << f.first_bit;
}

// Bits of one register of one leaf that no field covers: reserved and zero (HB-GEN-002).
constexpr uint32_t discovery_reserved_mask(uint32_t leaf, cpuid_reg reg)
{
    uint32_t used = 0;
    for (const discovery_field_desc& f : discovery_fields)
        if (f.leaf == leaf && f.reg == reg)
            used |= field_mask(f);
    return ~used;
}

constexpr const discovery_field_desc& discovery_field(const char* name)
{
    for (const discovery_field_desc& f : discovery_fields)
        if (detail::same_text(f.name, name))
            return f;
    return discovery_fields[0];
}

// ---------------------------------------------------------------------------
// Gates.
// ---------------------------------------------------------------------------

struct gate_desc {
    const char* name;
    uint8_t bit;
    bool mandatory;
};

inline constexpr gate_desc gates[] = {
#define HYPERBIOS_X(name, bit, mandatory) {#name, bit, mandatory},
    HYPERBIOS_ABI_GATES(HYPERBIOS_X)
#undef HYPERBIOS_X
};

// Gate flags in the `gates` field: gate_port_io, gate_vmcall, gate_vmmcall.
#define HYPERBIOS_X(name, bit, mandatory) inline constexpr uint32_t gate_##name = 1u << (bit);
HYPERBIOS_ABI_GATES(HYPERBIOS_X)
#undef HYPERBIOS_X
inline constexpr uint32_t gate_flags_defined = ~discovery_reserved_mask(cpuid_leaf_interface, cpuid_reg::ecx);

// ---------------------------------------------------------------------------
// Implementation IDs (spec Appendix A).
// ---------------------------------------------------------------------------

struct implementation_desc {
    uint64_t id;
    const char* name;
    const char* implementation;
};

inline constexpr implementation_desc implementations[] = {
#define HYPERBIOS_X(id, name, what) {id, #name, what},
    HYPERBIOS_ABI_IMPLEMENTATIONS(HYPERBIOS_X)
#undef HYPERBIOS_X
};

struct implementation_id_range_desc {
    const char* name;
    uint64_t first, last;
    const char* use;
};

inline constexpr implementation_id_range_desc implementation_id_ranges[] = {
#define HYPERBIOS_X(name, first, last, use) {#name, first, last, use},
    HYPERBIOS_ABI_IMPLEMENTATION_ID_RANGES(HYPERBIOS_X)
#undef HYPERBIOS_X
};

// True when BASE.get_impl_id may return `id`: a registered ID or a private one (HB-BASE-004).
constexpr bool is_implementation_id(uint64_t id)
{
    for (const implementation_id_range_desc& r : implementation_id_ranges)
        if (id >= r.first && id <= r.last)
            return true;
    return false;
}

// Registered IDs by name, e.g. abi::implementation::hbvm.
namespace implementation {
inline constexpr uint64_t reserved = 0;  // never returned by BASE.get_impl_id
#define HYPERBIOS_X(id, name, what) inline constexpr uint64_t name = id;
HYPERBIOS_ABI_IMPLEMENTATIONS(HYPERBIOS_X)
#undef HYPERBIOS_X
}  // namespace implementation

// ---------------------------------------------------------------------------
// Layouts of records in guest memory (spec 9.2).
// ---------------------------------------------------------------------------

namespace detail {
template <typename T, size_t N>
struct field_of {
    using type = T[N];
};
template <typename T>
struct field_of<T, 1> {
    using type = T;
};
}  // namespace detail

// One struct per layout, e.g. abi::mem_region, for guest and host alike.
#define HYPERBIOS_FIELD(layout, element, name, count, meaning) typename detail::field_of<element, count>::type name;
#define HYPERBIOS_X(layout, list, meaning) \
    struct layout {                        \
        list(HYPERBIOS_FIELD, layout)      \
    };
HYPERBIOS_ABI_LAYOUTS(HYPERBIOS_X)
#undef HYPERBIOS_X
#undef HYPERBIOS_FIELD

struct layout_desc {
    const char* name;
    uint32_t size;
    const char* meaning;
};

struct layout_field_desc {
    const char* layout;
    const char* name;
    uint32_t offset, size;  // in bytes; size is the whole field, every element of an array
    uint32_t element_size;  // what the field must be aligned to
    const char* meaning;
};

inline constexpr layout_desc layouts[] = {
#define HYPERBIOS_X(layout, list, meaning) {#layout, uint32_t(sizeof(layout)), meaning},
    HYPERBIOS_ABI_LAYOUTS(HYPERBIOS_X)
#undef HYPERBIOS_X
};

inline constexpr layout_field_desc layout_fields[] = {
#define HYPERBIOS_FIELD(layout, type, name, count, meaning) \
    {#layout, #name, uint32_t(offsetof(layout, name)), uint32_t(sizeof(type) * (count)), uint32_t(sizeof(type)), meaning},
#define HYPERBIOS_X(layout, list, meaning) list(HYPERBIOS_FIELD, layout)
    HYPERBIOS_ABI_LAYOUTS(HYPERBIOS_X)
#undef HYPERBIOS_X
#undef HYPERBIOS_FIELD
};

// Every layout's fields follow each other without padding, each at an offset
// that is a multiple of its size, and end at the struct's size: the layout in
// guest memory is exactly the list, on every compiler.
constexpr bool layouts_are_packed_naturally()
{
    for (const layout_desc& l : layouts) {
        uint32_t next = 0;
        for (const layout_field_desc& f : layout_fields) {
            const char *a = f.layout, *b = l.name;
            while (*a && *a == *b)
                ++a, ++b;
            if (*a != *b)
                continue;
            if (f.offset != next || f.offset % f.element_size != 0)
                return false;
            next = f.offset + f.size;
        }
        if (next != l.size)
            return false;
    }
    return true;
}
static_assert(layouts_are_packed_naturally(), "HyperBIOS ABI layouts: padding or misaligned fields");

// ---------------------------------------------------------------------------
// Consistency of the table itself, checked wherever the header is compiled.
// ---------------------------------------------------------------------------

// The index of kind `id` in a kinds table; `count` when it is not there.
constexpr size_t kind_index(const arg_kind_desc* kinds, size_t count, arg_kind id)
{
    for (size_t i = 0; i < count; ++i)
        if (kinds[i].id == id)
            return i;
    return count;
}

// What is wrong with a function table, or nullptr when nothing is. The host
// applies the same test to the synthetic tables (and kinds) of its unit tests.
template <typename Table>
constexpr const char* function_table_problem(const Table& table, size_t size, const arg_kind_desc* kinds = arg_kinds,
                                             size_t kind_count = arg_kind_count)
{
    for (size_t i = 0; i < size; ++i) {
        const function_desc& f = table[i];
        for (size_t j = i + 1; j < size; ++j)
            if (table[j].call == f.call)
                return "two functions with one call word";
        if (uint64_t(f.call) != make_call(uint16_t(f.svc), f.id))
            return "a call word that is not (service << 16) | function";
        if (f.id >= unassigned_function_first)
            return "a function ID from the never-assigned range";
        bool step4 = false, buffers = false;
        arg_class previous = arg_class::value;
        for (unsigned a = 0; a < max_args; ++a) {
            const size_t index = kind_index(kinds, kind_count, f.args[a]);
            if (index == kind_count)
                return "an argument kind missing from the kinds table";
            const arg_kind_desc& k = kinds[index];
            if (a > 0 && is_buffer(previous) && k.cls != arg_class::length)
                return "a buffer address not followed by its length";
            if (k.cls == arg_class::length && (a == 0 || !is_buffer(previous)))
                return "a length that does not follow a buffer address";
            if (a > 0 && k.cls != arg_class::unused && previous == arg_class::unused)
                return "an unused argument before a used one";
            if (k.cls == arg_class::handle && object_count_function(table, size, f.svc) == size)
                return "a handle in a service without an object_count function";
            if (is_record(k.cls) && k.record_size == 0)
                return "a record kind without a size";
            step4 = step4 || (k.cls != arg_class::unused && (k.reserved != 0 || k.min != 0 || k.max != ~0ull ||
                                                             k.cls == arg_class::handle ||
                                                             k.cls == arg_class::enumeration));
            buffers = buffers || is_buffer(k.cls) || is_record(k.cls);
            previous = k.cls;
        }
        if (is_buffer(previous))
            return "a buffer address in the last argument register, with no room for its length";
        // The error table must name what the argument checks can answer.
        const bool returns = kind_of(f.result).cls != result_class::no_return;
        if (returns != contains(f.statuses, status::success))
            return "SUCCESS listed for a function that does not return, or missing for one that does";
        if (step4 && !contains(f.statuses, status::invalid_param))
            return "an argument that can be invalid, without INVALID_PARAM in the error list";
        if (buffers && !contains(f.statuses, status::invalid_address))
            return "a buffer argument without INVALID_ADDRESS in the error list";
    }
    return nullptr;
}

constexpr bool table_is_consistent()
{
    if (function_table_problem(functions, function_count))
        return false;
    for (size_t i = 0; i < service_count; ++i) {
        for (size_t j = i + 1; j < service_count; ++j)
            if (services[i].id == services[j].id)
                return false;
        if (uint16_t(services[i].id) >= vendor_service_first)
            return false;  // this specification assigns only 0x0000-0x7FFF
    }
    for (size_t i = 0; i < function_count; ++i)
        if (service_index(uint64_t(functions[i].svc)) == service_count)
            return false;
    for (size_t i = 0; i < arg_kind_count; ++i)
        if (size_t(arg_kinds[i].id) != i || (arg_kinds[i].cls == arg_class::enumeration &&
                                             !is_enum_value(arg_kinds[i].enumeration, arg_kinds[i].min)))
            return false;
    for (size_t i = 0; i < result_kind_count; ++i)
        if (size_t(result_kinds[i].id) != i)
            return false;
    for (const implementation_desc& impl : implementations)
        if (impl.id == implementation::reserved || !is_implementation_id(impl.id))
            return false;
    return true;
}
static_assert(table_is_consistent(), "HyperBIOS ABI table: duplicate IDs, malformed arguments or error lists");

constexpr bool service_ids_fit_presence_bitmap()
{
    for (size_t i = 0; i < service_count; ++i)
        if (uint16_t(services[i].id) >= 32)
            return false;
    return true;
}
static_assert(service_ids_fit_presence_bitmap(), "discovery leaf base+2 EAX holds the presence bits of services 0..31");

constexpr bool gates_fit_their_field()
{
    for (const gate_desc& g : gates)
        if (!(field_mask(discovery_field("gates")) & (1u << g.bit)))
            return false;
    uint32_t all = 0;
    for (const gate_desc& g : gates)
        all |= 1u << g.bit;
    return all == field_mask(discovery_field("gates"));
}
static_assert(gates_fit_their_field(), "every gate bit lies in the gates field, and the field holds nothing else");
constexpr uint32_t discovery_leaves_used()
{
    uint32_t n = 0;
    for (const discovery_field_desc& f : discovery_fields)
        n = f.leaf + 1 > n ? f.leaf + 1 : n;
    return n;
}
static_assert(discovery_leaves_used() == cpuid_leaf_count &&
                  discovery_field("gate_port").leaf == cpuid_leaf_interface &&
                  discovery_field("service_bitmap").leaf == cpuid_leaf_services &&
                  discovery_field("max_leaf").leaf == cpuid_leaf_vendor,
              "the cpuid_leaf_* constants name the leaves of the discovery table");

}  // namespace hyperbios::abi

#endif
