#include "core/fault_injection.hpp"

#include <hyperbios/abi.hpp>

#include <algorithm>
#include <cstring>

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
        {fault::phantom_service, "phantom-service", "discovery advertises a service (7) that is absent"},
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
    case fault::block_info_small_transfer:
        if (is(fn::block_info) && result.status == abi::status::success &&
            request.args[2] >= offsetof(abi::blk_info, max_transfer) + 4)
            if (auto field = memory.write(guest_address{request.args[1] + offsetof(abi::blk_info, max_transfer)}, 4)) {
                const uint32_t small = 64 << 10;
                std::memcpy(field->data(), &small, 4);
            }
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
            e.eax |= 1u << 7;
        if (fault_ == fault::phantom_vmcall_gate && e.leaf == base_leaf + abi::cpuid_leaf_interface)
            e.ecx |= abi::gate_vmcall | abi::gate_vmmcall;
        if (fault_ == fault::console_hidden && e.leaf == base_leaf + abi::cpuid_leaf_services)
            e.eax &= ~(1u << uint16_t(abi::service::console));
    }
    if (fault_ == fault::cpuid_depends_on_subleaf) {
        std::vector<cpuid_entry> odd;
        for (const cpuid_entry& e : leaves)
            odd.push_back({e.leaf, 0x1234, e.eax, e.ebx ^ 0x10, e.ecx, e.edx, true});
        leaves.insert(leaves.begin(), odd.begin(), odd.end());  // specific entries first
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
