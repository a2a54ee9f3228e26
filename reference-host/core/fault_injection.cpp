#include "core/fault_injection.hpp"

#include "devices/clock.hpp"

#include <hyperbios/abi.hpp>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace hbvm {

const std::vector<fault_info>& all_faults()
{
    static const std::vector<fault_info> faults = {
        {fault::unknown_call_invalid_param, "unknown-call-invalid-param",
         "an unknown service answers INVALID_PARAM instead of NOT_SUPPORTED"},
        {fault::spec_version_off_by_one, "spec-version-off-by-one",
         "BASE.get_spec_version reports one minor version more than CPUID"},
        {fault::buffers_unchecked, "buffers-unchecked", "buffers outside guest RAM are accepted"},
        {fault::reserved_call_bits_ignored, "reserved-call-bits-ignored", "call-word bits 63:32 are ignored"},
        {fault::reserved_arg_bits_ignored, "reserved-arg-bits-ignored", "reserved argument bits are ignored"},
        {fault::wrong_interface_signature, "wrong-interface-signature", "CPUID leaf B+1 EAX is not the HBIO signature"},
        {fault::phantom_service, "phantom-service", "discovery advertises a service (15) that is absent"},
        {fault::clock_goes_backwards, "clock-goes-backwards", "the monotonic clock steps back 1 ms every 50 reads"},
        {fault::clobbers_rsi, "clobbers-rsi", "every call changes RSI"},
        {fault::value_on_failure, "value-on-failure", "RDX is not zero when a call fails"},
        {fault::impl_name_overrun, "impl-name-overrun", "BASE.get_impl_name writes one byte past the buffer"},
        {fault::resolution_zero, "resolution-zero", "TIME.resolution_ns reports 0"},
        {fault::wallclock_in_milliseconds, "wallclock-in-milliseconds", "TIME.wallclock_ns returns milliseconds"},
        {fault::absent_service_version, "absent-service-version",
         "BASE.probe_service reports version 1 for absent services"},
        {fault::status_outside_table, "status-outside-table", "unknown calls answer -99, a code not in the table"},
        {fault::byte_out_is_a_call, "byte-out-is-a-call", "an 8-bit OUT to the gate port is served as a call"},
        {fault::cpuid_depends_on_subleaf, "cpuid-depends-on-subleaf", "the HyperBIOS leaves change with ECX"},
        {fault::console_write_short, "console-write-short", "CONSOLE.write reports one byte fewer than it wrote"},
        {fault::phantom_vmcall_gate, "phantom-vmcall-gate",
         "discovery advertises the VMCALL and VMMCALL gates, which the host does not serve"},
        {fault::string_element_is_a_call, "string-element-is-a-call",
         "a 32-bit write to the gate port whose value is not EAX (an OUTS element) is served as a call"},
        {fault::reset_reason_faked, "reset-reason-faked",
         "POWER.reset_reason always answers 1 (after a reboot), so the first boot looks like a second"},
        {fault::console_output_translated, "console-output-translated",
         "CONSOLE.write turns each LF into CR LF on the way to the terminal"},
        {fault::console_nul_dropped, "console-nul-dropped", "CONSOLE.write drops NUL bytes on the way to the terminal"},
        {fault::console_input_ignored, "console-input-ignored", "CONSOLE.read never delivers input (0 bytes)"},
        {fault::stray_write, "stray-write",
         "every call with an out buffer also changes a byte in the last page of guest RAM"},
        {fault::unused_args_rejected, "unused-args-rejected",
         "a call with a non-zero value in a register it does not use is refused with INVALID_PARAM"},
        {fault::check_order_wrong, "check-order-wrong",
         "an unknown call is answered NOT_SUPPORTED before its reserved call-word bits are checked"},
        {fault::console_hidden, "console-hidden",
         "discovery and BASE.probe_service hide CONSOLE, although its calls are still served"},
        {fault::mem_map_unsorted, "mem-map-unsorted", "MEM.get_map writes its first two entries in the wrong order"},
        {fault::mem_hole_usable, "mem-hole-usable",
         "MEM.get_map reports reserved ranges (the legacy video hole) as usable"},
        {fault::rng_zeros, "rng-zeros", "RNG.fill writes zeros"},
        {fault::rng_fixed_seed, "rng-fixed-seed",
         "RNG.fill's output is a fixed pseudo-random sequence, the same in every machine"},
        {fault::flush_ignored, "flush-ignored", "BLOCK.flush answers SUCCESS without syncing the disk"},
        {fault::block_write_loses_sector, "block-write-loses-sector", "every BLOCK write skips its first sector"},
        {fault::block_readonly_writable, "block-readonly-writable",
         "a read-only disk answers writes with SUCCESS (and writes nothing)"},
        {fault::block_info_small_transfer, "block-info-small-transfer",
         "BLOCK.info reports a max_transfer of 64 KiB, below the spec's 1 MiB"},
        {fault::block_writes_cached, "block-writes-cached",
         "BLOCK writes stay in hbvm's memory and reach the disk file only when the machine ends cleanly; "
         "BLOCK.flush answers SUCCESS without writing them"},
        {fault::block_readonly_zero_length, "block-readonly-zero-length",
         "a BLOCK write of 0 bytes (or an empty segment list) to a read-only disk answers SUCCESS instead of DENIED"},
        {fault::clock_restarts_at_reboot, "clock-restarts-at-reboot",
         "TIME.monotonic_ns starts again near 0 at every boot, so a reboot steps it back"},
        {fault::console_input_never_ends, "console-input-never-ends",
         "CONSOLE.input_state answers open for ever, even once the input has ended"},
        {fault::cpuid_reserved_leaf_data, "cpuid-reserved-leaf-data",
         "discovery reports max_leaf B+3, and the reserved leaf B+3 is not zero"},
        {fault::halted_reported_as_shutdown, "halted-reported-as-shutdown",
         "--end-report calls a machine that halted with nothing to wake it a shutdown (with code 71)"},
        {fault::evt_timer_early, "evt-timer-early",
         "EVT.poll and EVT.wait report a one-shot timer pending up to 1 ms before its deadline"},
        {fault::evt_periodic_drift, "evt-periodic-drift",
         "every 4th EVT.timer_ack of a periodic timer returns one expiration fewer (the grid drifts)"},
        {fault::evt_missed_lost, "evt-missed-lost",
         "EVT.timer_ack returns at most 1: the missed periods of a periodic timer are not counted"},
        {fault::evt_rearm_keeps_count, "evt-rearm-keeps-count",
         "re-arming a timer does not clear its count: the first EVT.timer_ack after timer_set counts one more"},
        {fault::evt_ack_keeps_pending, "evt-ack-keeps-pending",
         "EVT.timer_ack of an expired one-shot timer leaves it pending in EVT.poll and EVT.wait"},
        {fault::evt_wait_past_deadline_error, "evt-wait-past-deadline-error",
         "EVT.wait with a deadline already past answers INVALID_PARAM instead of SUCCESS"},
        {fault::evt_poll_hides_masked, "evt-poll-hides-masked", "EVT.poll leaves masked sources out of the pending set"},
        {fault::evt_low_vector_accepted, "evt-low-vector-accepted",
         "EVT.set_vector 1-31 (the CPU's exception vectors) answers SUCCESS instead of INVALID_PARAM"},
        {fault::evt_boot_state, "evt-boot-state",
         "the mask is not all ones at boot: the first EVT.set_mask after a boot reports source 0 unmasked"},
        {fault::evt_console_source_missing, "evt-console-source-missing",
         "EVT.poll and EVT.wait never report source 32, console input"},
        {fault::evt_wrong_vector, "evt-wrong-vector",
         "event interrupts arrive on the vector after the one EVT.set_vector named"},
        {fault::evt_mask_ignored, "evt-mask-ignored", "masked sources raise the event vector too (EVT.set_mask ignored)"},
        {fault::evt_shadow_ignored, "evt-shadow-ignored",
         "event interrupts come inside the one-instruction shadow of STI and MOV SS; only `sti; hlt` is kept whole, "
         "as before spec 0.5 (software engine only: on KVM the CPU keeps the shadow)"},
        {fault::evt_event_error_code_no_ext, "evt-event-error-code-no-ext",
         "an event vector past the IDT limit or not present faults with error code vector*8+2, without EXT"},
        {fault::evt_spurious_interrupt, "evt-spurious-interrupt",
         "after each event interrupt the vector is raised once more, when the handler has consumed every source"},
        {fault::evt_vector_zero_ignored, "evt-vector-zero-ignored",
         "EVT.set_vector(0) does not stop delivery: events still arrive on the vector set before"},
        {fault::evt_phantom_source, "evt-phantom-source",
         "EVT.poll and EVT.wait report source 45 pending, a source this host does not have"},
        {fault::dsp_generation_not_advanced, "dsp-generation-not-advanced",
         "DSP.set_mode answers the generation of the mode it replaced"},
        {fault::dsp_bad_present_accepted, "dsp-bad-present-accepted",
         "a DSP.present refused as INVALID_PARAM answers SUCCESS instead (nothing is drawn)"},
        {fault::dsp_present_skips_last_row, "dsp-present-skips-last-row",
         "DSP.present copies every row of its rectangle but the last"},
        {fault::dsp_presented_unpaced, "dsp-presented-unpaced",
         "the presented event comes right after a present, not at the display's next refresh"},
        {fault::dsp_overflow_unmarked, "dsp-overflow-unmarked",
         "a full display queue drops events without turning its last event into an overflow"},
        {fault::dsp_event_time_zero, "dsp-event-time-zero", "DSP.next_event writes 0 as the event's time_ns"},
        {fault::dsp_source_missing, "dsp-source-missing", "EVT.poll and EVT.wait never report source 33, displays"},
        {fault::inp_positions_unclamped, "inp-positions-unclamped",
         "absolute pointer positions are queued as sent, outside the display's mode"},
        {fault::inp_dropped_unmarked, "inp-dropped-unmarked",
         "a full input queue drops events without queuing a dropped marker"},
        {fault::inp_unicode_lost, "inp-unicode-lost", "INP.read writes 0 as the character of every event"},
        {fault::inp_state_keys_empty, "inp-state-keys-empty", "INP.state reports no key down"},
        {fault::inp_source_missing, "inp-source-missing", "EVT.poll and EVT.wait never report source 34, input"},
        {fault::net_again_never, "net-again-never",
         "a full NET send queue takes the frame and drops it instead of answering AGAIN"},
        {fault::net_frame_truncated, "net-frame-truncated", "every frame NET sends loses its last byte"},
        {fault::net_vectored_reversed, "net-vectored-reversed", "NET.send_vectored sends its segments last first"},
        {fault::net_send_while_down, "net-send-while-down",
         "NET.send and send_vectored answer SUCCESS while the link is down (nothing is sent)"},
        {fault::net_recv_short_takes, "net-recv-short-takes",
         "NET.recv into a buffer shorter than the frame writes what fits and takes the frame"},
        {fault::net_peek_zero, "net-peek-zero", "NET.peek answers 0 whatever waits"},
        {fault::net_rx_queue_unbounded, "net-rx-queue-unbounded", "a NET receive queue grows past rx_queue_length"},
        {fault::net_rx_dropped_uncounted, "net-rx-dropped-uncounted",
         "frames lost to a full NET receive queue are not counted in rx_dropped"},
        {fault::net_multicast_ignored, "net-multicast-ignored",
         "NET interfaces do not receive frames to broadcast and multicast addresses"},
        {fault::net_link_change_silent, "net-link-change-silent", "a change of link state makes no NET interface ready"},
        {fault::net_info_max_frame_wrong, "net-info-max-frame-wrong", "NET.info reports max_frame as mtu + 18"},
        {fault::net_source_missing, "net-source-missing", "EVT.poll and EVT.wait never report source 35, network"},
        {fault::aud_samples_dropped, "aud-samples-dropped",
         "every hundredth AUD frame never reaches the back end, though the position counts it"},
        {fault::aud_position_ahead, "aud-position-ahead", "AUD.state's position counts the frames still queued"},
        {fault::aud_queue_unbounded, "aud-queue-unbounded",
         "AUD.write takes every frame, the queue growing past its length, never AGAIN"},
        {fault::aud_underruns_uncounted, "aud-underruns-uncounted", "an AUD queue run dry counts no underrun"},
        {fault::aud_drain_drops, "aud-drain-drops", "AUD.drain drops what is queued instead of playing it out"},
        {fault::aud_source_missing, "aud-source-missing", "EVT.poll and EVT.wait never report source 36, sound"},
        {fault::aud_drained_silent, "aud-drained-silent",
         "an AUD stream that becomes drained wakes no guest waiting on source 36 (it is pending, unannounced)"},
        {fault::policy_denied_runs, "policy-denied-runs",
         "a call the profile denies runs its handler (its effect happens), then answers DENIED"},
        {fault::policy_window_off_by_one, "policy-window-off-by-one",
         "a profile's disk window starts one sector before the profile's first_sector"},
        {fault::policy_limit_unreported, "policy-limit-unreported",
         "a profile's largest display is neither reported in DSP.info nor applied"},
        {fault::policy_rate_unapplied, "policy-rate-unapplied",
         "a profile's rate limits are reported by BASE.rate_limit but never answer AGAIN"},
    };
    return faults;
}

std::optional<fault> parse_fault(std::string_view name)
{
    for (const fault_info& f : all_faults())
        if (name == f.name)
            return f.id;
    return std::nullopt;
}

void fault_injector::after_call(const call_request& request, call_result& result, vcpu_registers& regs,
                                guest_memory& memory)
{
    using fn = abi::function;
    const auto is = [&](fn f) { return request.call == uint64_t(f); };
    const bool unknown = !(request.call & abi::call_reserved_mask) && !abi::find_function(request.call);
    switch (fault_) {
    case fault::unknown_call_invalid_param:
        if (unknown)
            result = fail(abi::status::invalid_param);
        break;
    case fault::spec_version_off_by_one:
        if (is(fn::base_get_spec_version))
            result.value += 1;
        break;
    case fault::buffers_unchecked:
        if (result.status == abi::status::invalid_address)
            result = succeed(0);
        break;
    case fault::reserved_call_bits_ignored:
        if ((request.call & abi::call_reserved_mask) && result.status == abi::status::invalid_param &&
            abi::find_function(request.call & ~abi::call_reserved_mask))
            result = succeed(abi::spec_version);  // as if the call had been made without the bits
        break;
    case fault::reserved_arg_bits_ignored:
        if (result.status == abi::status::invalid_param && is(fn::base_probe_service))
            result = succeed(0);
        if (result.status == abi::status::invalid_param && is(fn::power_shutdown))
            result = succeed(), result.request = {machine_request::kind::power_off, uint8_t(request.args[0]), {}};
        break;
    case fault::clock_goes_backwards:
        if (is(fn::time_monotonic_ns)) {
            if (++monotonic_calls_ % 50 == 0 && last_monotonic_ > 1000000)
                result.value = last_monotonic_ - 1000000;
            last_monotonic_ = result.value;
        }
        break;
    case fault::clobbers_rsi: regs.rsi ^= 0x1; break;
    case fault::value_on_failure:
        if (result.status != abi::status::success)
            result.value = 0xBAD;
        break;
    case fault::impl_name_overrun:
        // One byte past the buffer, and only where that byte is guest RAM.
        if (is(fn::base_get_impl_name) && result.status == abi::status::success && request.args[1] < result.value)
            if (auto byte = memory.write(guest_address{request.args[0] + request.args[1]}, 1))
                (*byte)[0] = std::byte{'!'};
        break;
    case fault::resolution_zero:
        if (is(fn::time_resolution_ns))
            result.value = 0;
        break;
    case fault::wallclock_in_milliseconds:
        if (is(fn::time_wallclock_ns))
            result.value /= 1000000;
        break;
    case fault::absent_service_version:
        if (is(fn::base_probe_service) && result.status == abi::status::success && result.value == 0)
            result.value = 1;
        break;
    case fault::status_outside_table:
        if (unknown)
            result = {abi::status(-99), 0, {}};
        break;
    case fault::reset_reason_faked:
        if (is(fn::power_reset_reason) && result.status == abi::status::success)
            result.value = abi::reset_guest_reboot;
        break;
    case fault::console_input_ignored:
        if (is(fn::console_read) && result.status == abi::status::success)
            result.value = 0;
        break;
    case fault::stray_write:
        // A byte far from every buffer: in the last page of RAM, a different one each time.
        if (const abi::function_desc* f = abi::find_function(request.call);
            f && result.status == abi::status::success && memory.size() > 0x1000)
            for (abi::arg_kind a : f->args)
                if (a == abi::arg_kind::out_buffer) {
                    const uint64_t at = memory.size() - 0x1000 + (stray_writes_++ * 8) % 0x1000;
                    if (auto byte = memory.write(guest_address{at}, 1))
                        (*byte)[0] ^= std::byte{0xFF};
                    break;
                }
        break;
    case fault::unused_args_rejected:
        if (const abi::function_desc* f = abi::find_function(request.call))
            for (unsigned i = 0; i < abi::max_args; ++i)
                if (f->args[i] == abi::arg_kind::none && request.args[i] != 0)
                    result = fail(abi::status::invalid_param);
        break;
    case fault::check_order_wrong:
        if ((request.call & abi::call_reserved_mask) && !abi::find_function(request.call & ~abi::call_reserved_mask))
            result = fail(abi::status::not_supported);
        break;
    case fault::console_hidden:
        if (is(fn::base_probe_service) && request.args[0] == uint64_t(abi::service::console) &&
            result.status == abi::status::success)
            result.value = 0;
        break;
    case fault::mem_map_unsorted:
    case fault::mem_hole_usable:
        if (is(fn::mem_get_map) && result.status == abi::status::success)
            distort_memory_map(request.args[0], std::min(request.args[1], result.value), memory);
        break;
    case fault::rng_zeros:
    case fault::rng_fixed_seed:
        if (is(fn::rng_fill) && result.status == abi::status::success && request.args[1] != 0)
            if (auto out = memory.write(guest_address{request.args[0]}, request.args[1]))
                for (std::byte& b : *out) {
                    rng_state_ ^= rng_state_ << 13, rng_state_ ^= rng_state_ >> 7, rng_state_ ^= rng_state_ << 17;
                    b = fault_ == fault::rng_zeros ? std::byte{0} : std::byte(rng_state_ >> 56);
                }
        break;
    case fault::block_readonly_writable:
        if ((is(fn::block_write) || is(fn::block_write_vectored)) && result.status == abi::status::denied)
            result = succeed(request.args[3]);  // a vectored list's length, not the data's: wrong either way
        break;
    case fault::block_readonly_zero_length:
        if ((is(fn::block_write) || is(fn::block_write_vectored)) && result.status == abi::status::denied &&
            request.args[3] == 0)
            result = succeed(0);
        break;
    case fault::clock_restarts_at_reboot:
        if (is(fn::power_reboot) && result.request.what == machine_request::kind::reset)
            clock_origin_ = 0;  // the next reading starts the clock again
        if (is(fn::time_monotonic_ns) && result.status == abi::status::success) {
            if (clock_origin_ == 0)
                clock_origin_ = result.value - 1000;
            result.value -= clock_origin_;
        }
        break;
    case fault::console_input_never_ends:
        if (is(fn::console_input_state) && result.status == abi::status::success)
            result.value = abi::console_input_state::open;
        break;
    case fault::block_info_small_transfer:
        if (is(fn::block_info) && result.status == abi::status::success &&
            request.args[2] >= offsetof(abi::blk_info, max_transfer) + 4)
            if (auto field = memory.write(guest_address{request.args[1] + offsetof(abi::blk_info, max_transfer)}, 4)) {
                const uint32_t small = 64 << 10;
                std::memcpy(field->data(), &small, 4);
            }
        break;
    case fault::evt_timer_early:
    case fault::evt_periodic_drift:
    case fault::evt_missed_lost:
    case fault::evt_rearm_keeps_count:
    case fault::evt_ack_keeps_pending:
    case fault::evt_wait_past_deadline_error:
    case fault::evt_poll_hides_masked:
    case fault::evt_low_vector_accepted:
    case fault::evt_boot_state:
    case fault::evt_console_source_missing:
    case fault::evt_phantom_source:
    case fault::dsp_source_missing:
    case fault::inp_source_missing:
    case fault::net_source_missing:
    case fault::aud_source_missing: distort_evt(request, result); break;
    case fault::net_send_while_down:
        if ((is(fn::net_send) || is(fn::net_send_vectored)) && result.status == abi::status::io_error)
            result = succeed(is(fn::net_send) ? request.args[2] : 14);
        break;
    case fault::net_peek_zero:
        if (is(fn::net_peek))
            result.value = 0;
        break;
    case fault::net_info_max_frame_wrong:
        if (is(fn::net_info) && result.status == abi::status::success &&
            request.args[2] >= offsetof(abi::net_info, max_frame) + 4)
            if (auto field = memory.write(guest_address{request.args[1] + offsetof(abi::net_info, max_frame)}, 4)) {
                uint32_t v;
                std::memcpy(&v, field->data(), 4);
                v += 4;
                std::memcpy(field->data(), &v, 4);
            }
        break;
    case fault::dsp_generation_not_advanced:
        if (is(fn::dsp_set_mode) && result.status == abi::status::success)
            result.value -= 1;
        break;
    case fault::dsp_bad_present_accepted:
        if (is(fn::dsp_present) && result.status == abi::status::invalid_param)
            result = succeed();
        break;
    case fault::dsp_event_time_zero:
        // Within the bytes the call wrote: the event's time_ns at offset 16.
        if (is(fn::dsp_next_event) && result.status == abi::status::success &&
            result.value == sizeof(abi::dsp_event) && request.args[2] >= sizeof(abi::dsp_event))
            if (auto field = memory.write(guest_address{request.args[1] + offsetof(abi::dsp_event, time_ns)}, 8))
                std::memset(field->data(), 0, 8);
        break;
    case fault::inp_unicode_lost:
        if (is(fn::inp_read) && result.status == abi::status::success)
            for (uint64_t at = 0; at + sizeof(abi::inp_event) <= result.value; at += sizeof(abi::inp_event))
                if (auto field = memory.write(guest_address{request.args[1] + at + offsetof(abi::inp_event, unicode)}, 4))
                    std::memset(field->data(), 0, 4);
        break;
    case fault::inp_state_keys_empty:
        if (is(fn::inp_state) && result.status == abi::status::success &&
            request.args[2] >= offsetof(abi::inp_state, keys) + sizeof(abi::inp_state::keys))
            if (auto field = memory.write(guest_address{request.args[1] + offsetof(abi::inp_state, keys)},
                                          sizeof(abi::inp_state::keys)))
                std::memset(field->data(), 0, field->size());
        break;
    case fault::console_write_short:
        if (is(fn::console_write) && result.status == abi::status::success && result.value > 0)
            result.value -= 1;
        break;
    default: break;
    }
}

void fault_injector::on_discovery(std::vector<cpuid_entry>& leaves, uint32_t base_leaf) const
{
    for (cpuid_entry& e : leaves) {
        if (fault_ == fault::wrong_interface_signature && e.leaf == base_leaf + abi::cpuid_leaf_interface)
            e.eax ^= 0x01000000;  // "HBIO" becomes "HBIN"
        if (fault_ == fault::phantom_service && e.leaf == base_leaf + abi::cpuid_leaf_services)
            e.eax |= 1u << 15;  // no service of the table has ID 15
        if (fault_ == fault::phantom_vmcall_gate && e.leaf == base_leaf + abi::cpuid_leaf_interface)
            e.ecx |= abi::gate_vmcall | abi::gate_vmmcall;
        if (fault_ == fault::console_hidden && e.leaf == base_leaf + abi::cpuid_leaf_services)
            e.eax &= ~(1u << uint16_t(abi::service::console));
        if (fault_ == fault::cpuid_reserved_leaf_data && e.leaf == base_leaf)
            e.eax = base_leaf + 3;
    }
    if (fault_ == fault::cpuid_reserved_leaf_data)
        leaves.push_back({base_leaf + 3, 0, 0x48425245, 0, 0, 0, false});  // "ERBH" in a leaf that must be zero
    if (fault_ == fault::cpuid_depends_on_subleaf) {
        std::vector<cpuid_entry> odd;
        for (const cpuid_entry& e : leaves)
            odd.push_back({e.leaf, 0x1234, e.eax, e.ebx ^ 0x10, e.ecx, e.edx, true});
        leaves.insert(leaves.begin(), odd.begin(), odd.end());  // specific entries first
    }
}

namespace {

}  // namespace

// The EVT faults: each follows the calls that matter to it (timer_set, cancel,
// ack, set_mask, a reboot) and changes what poll, wait, timer_ack, set_mask or
// set_vector answer.
void fault_injector::distort_evt(const call_request& request, call_result& result)
{
    using fn = abi::function;
    const auto is = [&](fn f) { return request.call == uint64_t(f); };
    // When the call began is not known here: the end of the guest's previous call
    // stands in for it (a deadline taken from TIME.monotonic_ns just before is past).
    const uint64_t call_began = evt_last_call_end_;
    evt_last_call_end_ = monotonic_now_ns();
    const bool ok = result.status == abi::status::success;
    evt_timer_model* timer = nullptr;
    if ((is(fn::evt_timer_set) || is(fn::evt_timer_cancel) || is(fn::evt_timer_ack)) &&
        request.args[0] < evt_timers_modelled)
        timer = &evt_timers_[request.args[0]];

    if (is(fn::power_reboot) && result.request.what == machine_request::kind::reset) {
        evt_first_mask_call_ = true;
        evt_mask_ = ~uint64_t(0);
        for (evt_timer_model& t : evt_timers_)
            t = {};
        return;
    }
    if (timer && ok && is(fn::evt_timer_set)) {
        *timer = {true, request.args[2] != 0, true, false, request.args[1], 0};
        return;
    }
    if (timer && ok && is(fn::evt_timer_cancel)) {
        *timer = {};
        return;
    }
    if (timer && ok && is(fn::evt_timer_ack)) {
        const bool fresh = timer->fresh;
        timer->fresh = false;
        if (result.value > 0) {
            ++timer->acks;
            if (!timer->periodic) {
                timer->armed = false;
                timer->stale_pending = fault_ == fault::evt_ack_keeps_pending;
            }
        }
        if (fault_ == fault::evt_missed_lost && result.value > 1)
            result.value = 1;
        if (fault_ == fault::evt_periodic_drift && timer->periodic && result.value > 0 && timer->acks % 4 == 0)
            result.value -= 1;
        if (fault_ == fault::evt_rearm_keeps_count && fresh)
            result.value += 1;
        return;
    }
    if (is(fn::evt_set_mask) && ok) {
        evt_mask_ = request.args[0];
        if (fault_ == fault::evt_boot_state && evt_first_mask_call_)
            result.value &= ~uint64_t(1);
        evt_first_mask_call_ = false;
        return;
    }
    if (is(fn::evt_set_vector) && fault_ == fault::evt_low_vector_accepted && result.status == abi::status::invalid_param &&
        request.args[0] >= 1 && request.args[0] < 32) {
        result = succeed(0);
        return;
    }
    if (is(fn::evt_wait) && fault_ == fault::evt_wait_past_deadline_error && ok && request.args[0] <= call_began) {
        result = fail(abi::status::invalid_param);
        return;
    }
    if (!ok || !(is(fn::evt_poll) || is(fn::evt_wait)))
        return;
    switch (fault_) {
    case fault::evt_timer_early: {
        const uint64_t now = monotonic_now_ns();
        for (unsigned t = 0; t < evt_timers_modelled; ++t) {
            const evt_timer_model& m = evt_timers_[t];
            if (m.armed && m.fresh && !m.periodic && now < m.deadline && m.deadline - now <= 1000000)
                result.value |= uint64_t(1) << t;
        }
        break;
    }
    case fault::evt_ack_keeps_pending:
        for (unsigned t = 0; t < evt_timers_modelled; ++t)
            if (evt_timers_[t].stale_pending)
                result.value |= uint64_t(1) << t;
        break;
    case fault::evt_poll_hides_masked:
        if (is(fn::evt_poll))
            result.value &= ~evt_mask_;
        break;
    case fault::evt_console_source_missing: result.value &= ~(uint64_t(1) << unsigned(abi::evt_source::console_input)); break;
    case fault::evt_phantom_source: result.value |= uint64_t(1) << 45; break;
    case fault::dsp_source_missing: result.value &= ~(uint64_t(1) << unsigned(abi::evt_source::dsp_ready)); break;
    case fault::inp_source_missing: result.value &= ~(uint64_t(1) << unsigned(abi::evt_source::inp_ready)); break;
    case fault::net_source_missing: result.value &= ~(uint64_t(1) << unsigned(abi::evt_source::net_ready)); break;
    case fault::aud_source_missing: result.value &= ~(uint64_t(1) << unsigned(abi::evt_source::aud_ready)); break;
    default: break;
    }
}

// Changes the map MEM.get_map wrote into guest memory, within the bytes it wrote.
void fault_injector::distort_memory_map(uint64_t address, uint64_t written, guest_memory& memory) const
{
    const uint64_t header = sizeof(abi::mem_map_header), entry = sizeof(abi::mem_region);
    auto bytes = memory.write(guest_address{address}, written);
    if (!bytes || written < header + 2 * entry)
        return;
    std::byte* first = bytes->data() + header;
    if (fault_ == fault::mem_map_unsorted) {
        std::swap_ranges(first, first + entry, first + entry);
        return;
    }
    for (uint64_t at = header; at + entry <= written; at += entry) {
        abi::mem_region r;
        std::memcpy(&r, bytes->data() + at, entry);
        if (r.type == abi::mem_type::reserved) {
            r.type = abi::mem_type::usable;
            std::memcpy(bytes->data() + at, &r, entry);
        }
    }
}

std::function<void(std::vector<std::byte>&)> fault_injector::console_output_distortion() const
{
    if (fault_ == fault::console_output_translated)
        return [](std::vector<std::byte>& bytes) {
            std::vector<std::byte> out;
            for (std::byte b : bytes) {
                if (b == std::byte{'\n'})
                    out.push_back(std::byte{'\r'});
                out.push_back(b);
            }
            bytes.swap(out);
        };
    if (fault_ == fault::console_nul_dropped)
        return [](std::vector<std::byte>& bytes) { std::erase(bytes, std::byte{0}); };
    return {};
}

bool fault_injector::serves_odd_gate_access(const io_access& access) const
{
    return fault_ == fault::byte_out_is_a_call && access.is_write && access.size == 1;
}

}  // namespace hbvm
