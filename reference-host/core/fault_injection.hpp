// Deliberate deviations from the spec, for proving that the conformance suite
// catches them (hbvm run --inject-fault NAME). Each fault changes what the guest
// observes at one of three points — a call's result, the discovery leaves, or
// which port accesses count as calls — and never makes the host touch memory it
// has not checked: a "missing bounds check" is simulated by answering as if the
// buffer were fine, not by reading past guest RAM.
#ifndef HBVM_CORE_FAULT_INJECTION_HPP
#define HBVM_CORE_FAULT_INJECTION_HPP

#include "accel/accelerator.hpp"
#include "core/dispatcher.hpp"
#include "core/guest_memory.hpp"
#include "devices/disk.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hbvm {

enum class fault {
    none,
    unknown_call_invalid_param,   // unknown service answers INVALID_PARAM instead of NOT_SUPPORTED
    spec_version_off_by_one,      // get_spec_version reports one minor version more than CPUID
    buffers_unchecked,            // buffers outside RAM are accepted (answered SUCCESS, nothing copied)
    reserved_call_bits_ignored,   // call-word bits 63:32 are ignored
    reserved_arg_bits_ignored,    // reserved argument bits are ignored (probe_service, shutdown)
    wrong_interface_signature,    // CPUID leaf B+1 EAX is not "HBIO"
    phantom_service,              // discovery advertises service 15, which is absent
    clock_goes_backwards,         // every 50th monotonic reading is 1 ms earlier than the last
    clobbers_rsi,                 // RSI is changed by every call
    value_on_failure,             // RDX keeps a non-zero value when a call fails
    impl_name_overrun,            // get_impl_name writes one byte past the buffer
    resolution_zero,              // resolution_ns reports 0
    wallclock_in_milliseconds,    // wallclock_ns returns milliseconds
    absent_service_version,       // probe_service reports version 1 for absent services
    status_outside_table,         // unknown calls answer -99
    byte_out_is_a_call,           // an 8-bit OUT to the gate port is served as a call
    cpuid_depends_on_subleaf,     // the HyperBIOS leaves change with ECX
    console_write_short,          // console.write reports one byte fewer than it wrote
    phantom_vmcall_gate,          // discovery advertises the VMCALL and VMMCALL gates, which are not served
    string_element_is_a_call,     // a 32-bit write to the gate port whose value is not EAX (OUTS) is served as a call
    reset_reason_faked,           // reset_reason always answers 1, so a guest never sees a reboot happen
    console_output_translated,    // CONSOLE.write turns each LF into CR LF on the way out
    console_nul_dropped,          // CONSOLE.write drops NUL bytes on the way out
    console_input_ignored,        // CONSOLE.read never delivers input (answers 0 bytes)
    stray_write,                  // calls with an out buffer also change a byte in the last page of RAM
    unused_args_rejected,         // a non-zero register the call does not use makes it INVALID_PARAM
    check_order_wrong,            // an unknown call is NOT_SUPPORTED even with reserved call-word bits set
    console_hidden,               // discovery and probe_service hide CONSOLE, which is still served
    mem_map_unsorted,             // MEM.get_map's first two entries are swapped
    mem_hole_usable,              // MEM.get_map reports reserved ranges as usable
    rng_zeros,                    // RNG.fill writes zeros
    rng_fixed_seed,               // RNG.fill's output is the same sequence in every machine
    flush_ignored,                // BLOCK.flush answers SUCCESS without syncing the disk
    block_write_loses_sector,     // every BLOCK write skips its first sector
    block_readonly_writable,      // a read-only disk answers writes SUCCESS (nothing written)
    block_info_small_transfer,    // BLOCK.info reports a max_transfer of 64 KiB
    block_writes_cached,          // BLOCK writes stay in hbvm's memory until a clean end; flush does not write them
    block_readonly_zero_length,   // a write of 0 bytes (or an empty list) to a read-only disk answers SUCCESS
    clock_restarts_at_reboot,     // TIME.monotonic_ns starts again near 0 at every boot
    console_input_never_ends,     // CONSOLE.input_state always answers open
    cpuid_reserved_leaf_data,     // max_leaf is B+3, and leaf B+3 is not zero
    halted_reported_as_shutdown,  // the end report calls a machine that halted for good a shutdown
    // EVT. The injector sees calls only (after_call), not the machine's delivery
    // of interrupts or its HLT, so each of these changes what a call answers.
    evt_timer_early,              // poll and wait report a one-shot timer pending up to 1 ms before its deadline
    evt_periodic_drift,           // every 4th acknowledgement of a periodic timer loses one expiration
    evt_missed_lost,              // timer_ack returns at most 1: missed periods are not counted
    evt_rearm_keeps_count,        // the first ack after timer_set counts one expiration of the old setting
    evt_ack_keeps_pending,        // a one-shot timer stays pending in poll and wait after its ack
    evt_wait_past_deadline_error, // wait with a deadline already past answers INVALID_PARAM
    evt_poll_hides_masked,        // poll leaves masked sources out of the pending set
    evt_low_vector_accepted,      // set_vector 1-31 answers SUCCESS (the vector is not changed)
    evt_boot_state,               // the first set_mask after a boot reports source 0 unmasked
    evt_console_source_missing,   // poll and wait never report source 32 (console input)
    // EVT delivery, which the machine asks the injector about (delivered_vector, delivery_ignores_mask).
    evt_wrong_vector,             // event interrupts arrive on the vector after the one the guest set
    evt_mask_ignored,             // masked sources raise the vector too
    // EVT delivery by the accelerator (accelerator_deviations) and by the machine
    // (event_vector, spurious_interrupt_owed).
    evt_shadow_ignored,           // event interrupts come inside the shadow of STI and MOV SS (software engine only)
    evt_event_error_code_no_ext,  // an undeliverable event vector faults with error code vector*8+2 (no EXT)
    evt_spurious_interrupt,       // after each delivery the vector comes once more, with nothing pending
    evt_vector_zero_ignored,      // set_vector(0) does not stop delivery: the vector set before is raised
    // EVT calls (after_call).
    evt_phantom_source,           // poll and wait report source 45 pending, which the host does not have
    // DSP and INP: calls (after_call) and the devices (display and input deviations).
    dsp_generation_not_advanced,  // set_mode answers the generation it replaced
    dsp_bad_present_accepted,     // a present refused as INVALID_PARAM answers SUCCESS (nothing drawn)
    dsp_present_skips_last_row,   // a present copies every row of its rectangle but the last
    dsp_presented_unpaced,        // the presented event comes at once, not at the next refresh
    dsp_overflow_unmarked,        // a full display queue drops events without an overflow event
    dsp_event_time_zero,          // next_event writes 0 as the event's time_ns
    dsp_source_missing,           // poll and wait never report source 33 (displays)
    inp_positions_unclamped,      // absolute positions are queued as sent, outside the display
    inp_dropped_unmarked,         // a full input queue drops events without a dropped marker
    inp_unicode_lost,             // INP.read writes 0 as every event's character
    inp_state_keys_empty,         // INP.state reports no key down
    inp_source_missing,           // poll and wait never report source 34 (input)
    // NET: calls (after_call) and the interfaces (network deviations).
    net_again_never,              // a full send queue takes the frame and drops it, never answering AGAIN
    net_frame_truncated,          // a sent frame loses its last byte on the way out
    net_vectored_reversed,        // send_vectored sends its segments last first
    net_send_while_down,          // send and send_vectored answer SUCCESS while the link is down
    net_recv_short_takes,         // recv into a short buffer writes what fits and takes the frame
    net_peek_zero,                // peek answers 0 whatever waits
    net_rx_queue_unbounded,       // the receive queue grows past rx_queue_length
    net_rx_dropped_uncounted,     // frames lost to a full receive queue are not counted in rx_dropped
    net_multicast_ignored,        // frames to broadcast and multicast addresses are not received
    net_link_change_silent,       // a change of link state makes no interface ready
    net_info_max_frame_wrong,     // info's max_frame is mtu + 18
    net_source_missing,           // poll and wait never report source 35 (network)
    // AUD: calls (after_call) and the streams (audio deviations).
    aud_samples_dropped,          // every hundredth frame never reaches the back end (the position counts it)
    aud_position_ahead,           // state's position counts the frames still queued
    aud_queue_unbounded,          // write takes every frame, the queue growing past its length
    aud_underruns_uncounted,      // a queue run dry counts no underrun
    aud_drain_drops,              // drain drops what is queued instead of playing it out
    aud_source_missing,           // poll and wait never report source 36 (sound)
    aud_drained_silent,           // a stream that becomes drained wakes no guest waiting on source 36
    // The profile (issue 24): the dispatcher's and the device layer's half. They
    // show only under a profile that refuses or limits something, so
    // mutation-test runs them under one (conformance/mutation-test).
    policy_denied_runs,           // a call the profile denies runs its handler, then answers DENIED
    policy_window_off_by_one,     // a disk window starts one sector before the profile's
    policy_limit_unreported,      // the profile's largest display is neither reported nor applied
    policy_rate_unapplied,        // rate limits are reported by BASE.rate_limit but not applied
};

struct fault_info {
    fault id;
    const char* name;
    const char* description;
};

const std::vector<fault_info>& all_faults();
std::optional<fault> parse_fault(std::string_view name);

class fault_injector {
public:
    explicit fault_injector(fault f) : fault_(f) {}

    fault active() const { return fault_; }

    // Changes the result of a dispatched call, or the call's register effects.
    void after_call(const call_request& request, call_result& result, vcpu_registers& regs, guest_memory& memory);

    // Changes the CPUID leaves of discovery before the accelerator gets them.
    void on_discovery(std::vector<cpuid_entry>& leaves, uint32_t base_leaf) const;

    // What the disks must get wrong (flush_ignored, block_write_loses_sector).
    disk::deviations disk_deviations() const
    {
        return {fault_ == fault::flush_ignored, fault_ == fault::block_write_loses_sector,
                fault_ == fault::block_writes_cached};
    }

    // What the displays and input devices must get wrong.
    struct display_deviations {
        bool skip_last_row = false, unpaced = false, overflow_unmarked = false;
    };
    display_deviations display_faults() const
    {
        return {fault_ == fault::dsp_present_skips_last_row, fault_ == fault::dsp_presented_unpaced,
                fault_ == fault::dsp_overflow_unmarked};
    }
    struct input_deviations {
        bool unclamped = false, dropped_unmarked = false;
    };
    input_deviations input_faults() const
    {
        return {fault_ == fault::inp_positions_unclamped, fault_ == fault::inp_dropped_unmarked};
    }
    struct network_deviations {
        bool again_never = false, frame_truncated = false, vectored_reversed = false, recv_short_takes = false,
             rx_unbounded = false, rx_dropped_uncounted = false, multicast_ignored = false,
             link_change_silent = false;
    };
    struct audio_deviations {
        bool position_ahead = false, queue_unbounded = false, underruns_uncounted = false, drain_drops = false,
             samples_dropped = false, drained_silent = false;
    };
    audio_deviations audio_faults() const
    {
        return {fault_ == fault::aud_position_ahead, fault_ == fault::aud_queue_unbounded,
                fault_ == fault::aud_underruns_uncounted, fault_ == fault::aud_drain_drops,
                fault_ == fault::aud_samples_dropped, fault_ == fault::aud_drained_silent};
    }
    network_deviations network_faults() const
    {
        return {fault_ == fault::net_again_never,          fault_ == fault::net_frame_truncated,
                fault_ == fault::net_vectored_reversed,    fault_ == fault::net_recv_short_takes,
                fault_ == fault::net_rx_queue_unbounded,   fault_ == fault::net_rx_dropped_uncounted,
                fault_ == fault::net_multicast_ignored,    fault_ == fault::net_link_change_silent};
    }

    // Changes console output on its way to the terminal; empty when no fault does.
    std::function<void(std::vector<std::byte>&)> console_output_distortion() const;

    // True when a port access to the gate that is not a 32-bit OUT must be served as a call.
    bool serves_odd_gate_access(const io_access& access) const;

    // The vector the machine raises for the guest's event vector `v`.
    uint8_t delivered_vector(uint8_t v) const { return fault_ == fault::evt_wrong_vector ? uint8_t(v + 1) : v; }
    // True when masked sources must raise the event vector too.
    bool delivery_ignores_mask() const { return fault_ == fault::evt_mask_ignored; }
    // What the accelerator must get wrong (evt_shadow_ignored, evt_event_error_code_no_ext).
    accelerator::deviations accelerator_deviations() const
    {
        return {fault_ == fault::evt_shadow_ignored, fault_ == fault::evt_event_error_code_no_ext};
    }
    // The vector the machine raises events on while the guest has set `v`
    // (evt_vector_zero_ignored: the last vector other than 0).
    uint8_t event_vector(uint8_t v)
    {
        if (fault_ != fault::evt_vector_zero_ignored)
            return v;
        return v ? (evt_last_vector_ = v) : evt_last_vector_;
    }
    // evt_spurious_interrupt: whether the machine owes the guest a raise of the
    // vector with nothing pending, and the news of each raise (`pending`: a real one).
    bool spurious_interrupt_owed() const { return evt_spurious_owed_; }
    void event_interrupt_raised(bool pending)
    {
        evt_spurious_owed_ = fault_ == fault::evt_spurious_interrupt && pending;
    }

    // True when a 32-bit write to the gate whose value differs from EAX (an OUTS
    // element) must be served as a call.
    bool serves_string_elements() const { return fault_ == fault::string_element_is_a_call; }

private:
    void distort_memory_map(uint64_t address, uint64_t written, guest_memory& memory) const;
    void distort_evt(const call_request& request, call_result& result);

    // What the EVT faults remember of the guest's timers and mask.
    struct evt_timer_model {
        bool armed = false;          // set and not cancelled (one-shot: not yet acknowledged after expiring)
        bool periodic = false;
        bool fresh = false;          // armed, nothing acknowledged since (evt_rearm_keeps_count)
        bool stale_pending = false;  // acknowledged one-shot reported pending still (evt_ack_keeps_pending)
        uint64_t deadline = 0;
        uint64_t acks = 0;           // non-zero acknowledgements (evt_periodic_drift)
    };
    static constexpr unsigned evt_timers_modelled = 32;
    evt_timer_model evt_timers_[evt_timers_modelled];
    uint64_t evt_mask_ = ~uint64_t(0);
    bool evt_first_mask_call_ = true;
    uint64_t evt_last_call_end_ = 0;  // CLOCK_MONOTONIC at the end of the guest's last call
    uint8_t evt_last_vector_ = 0;      // evt_vector_zero_ignored
    bool evt_spurious_owed_ = false;   // evt_spurious_interrupt

    fault fault_;
    uint64_t monotonic_calls_ = 0;
    uint64_t clock_origin_ = 0;  // clock_restarts_at_reboot: the boot's first reading, less 1 us
    uint64_t last_monotonic_ = 0;
    uint64_t stray_writes_ = 0;
    uint64_t rng_state_ = 0x9E3779B97F4A7C15ull;  // rng_fixed_seed: the same start in every machine
};

}  // namespace hbvm

#endif
