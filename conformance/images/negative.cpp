// Negative tests for every function of the ABI table, derived from the table
// itself: reserved bits of the call word and of each argument, buffers outside
// RAM, wrapping and huge, zero-length and misaligned buffers, and function IDs
// just past each service's last one. A function added to the table is covered
// here without a line of new code.
#include "image.hpp"

namespace conformance {

namespace {

namespace abi = hb::abi;

alignas(16) uint8_t scratch[64];

line name_of(const abi::function_desc& f)
{
    line l;
    l.put(f.service_name).put('.').put(f.name);
    return l;
}

bool has_buffer(const abi::function_desc& f, unsigned& index)
{
    for (unsigned i = 0; i < abi::max_args; ++i)
        if (f.args[i] == abi::arg_kind::in_buffer || f.args[i] == abi::arg_kind::out_buffer) {
            index = i;
            return true;
        }
    return false;
}

// Arguments that make the call valid, with the buffer (if any) described by address and length.
void valid_args(const abi::function_desc& f, uint64_t (&a)[abi::max_args], uint64_t address, uint64_t length)
{
    for (unsigned i = 0; i < abi::max_args; ++i) {
        switch (f.args[i]) {
        case abi::arg_kind::service_id: a[i] = 0; break;
        case abi::arg_kind::exit_code: a[i] = 0; break;
        case abi::arg_kind::in_buffer:
        case abi::arg_kind::out_buffer: a[i] = address; break;
        case abi::arg_kind::length: a[i] = length; break;
        default: a[i] = 0;
        }
    }
}

raw_result call_with(const abi::function_desc& f, const uint64_t (&a)[abi::max_args], uint64_t extra_word_bits = 0)
{
    return raw_call(uint64_t(f.call) | extra_word_bits, a[0], a[1], a[2], a[3], a[4]);
}

void expect_status(const char* requirement, const raw_result& r, hb::status expected, const line& what)
{
    line why;
    why.put("status ").put(abi::status_name(r.code())).put(", expected ").put(abi::status_name(expected));
    check(requirement, r.code() == expected, what.c_str(), why.c_str());
    if (expected != hb::status::success)
        check("HB-CALL-004", r.value == 0, line().put(what.c_str()).put(": RDX is zero").c_str());
}

}  // namespace

void run_checks()
{
    for (const abi::function_desc& f : abi::functions) {
        uint64_t a[abi::max_args];
        valid_args(f, a, uint64_t(&scratch[0]), 0);

        // Reserved bits of the call word: refused, whatever the function (even shutdown).
        for (unsigned bit : {32u, 47u, 63u})
            expect_status("HB-GEN-001", call_with(f, a, 1ull << bit), hb::status::invalid_param,
                          name_of(f).put(" with call-word bit ").dec(bit).put(" set"));

        // Reserved bits of each argument.
        for (unsigned i = 0; i < abi::max_args; ++i) {
            const uint64_t reserved = abi::reserved_bits(f.args[i]);
            if (!reserved)
                continue;
            uint64_t bad[abi::max_args];
            for (unsigned k = 0; k < abi::max_args; ++k)
                bad[k] = a[k];
            bad[i] |= reserved & (0 - reserved);  // lowest reserved bit
            expect_status("HB-GEN-001", call_with(f, bad), hb::status::invalid_param,
                          name_of(f).put(" with the lowest reserved bit of argument ").dec(i).put(" set"));
            bad[i] = a[i] | (1ull << 63);
            expect_status("HB-GEN-001", call_with(f, bad), hb::status::invalid_param,
                          name_of(f).put(" with bit 63 of argument ").dec(i).put(" set"));
        }

        unsigned b = 0;
        if (!has_buffer(f, b) || f.result == abi::result_kind::no_return)
            continue;
        struct {
            uint64_t address, length;
            const char* what;
        } const bad_buffers[] = {
            {ram_end, 1, "a buffer at the end of RAM"},
            {ram_end - 1, 2, "a buffer straddling the end of RAM"},
            {~0ull - 7, 16, "a buffer that wraps past 2^64"},
            {uint64_t(&scratch[0]), ~0ull, "a length of 2^64 - 1"},
            {0x100000000000ull, 16, "a buffer at 16 TiB"},
        };
        for (const auto& bb : bad_buffers) {
            if (bb.address == ram_end && ram_end == 0)
                continue;
            valid_args(f, a, bb.address, bb.length);
            expect_status("HB-GEN-003", call_with(f, a), hb::status::invalid_address,
                          name_of(f).put(" with ").put(bb.what));
        }
        valid_args(f, a, ~0ull, 0);
        expect_status("HB-GEN-004", call_with(f, a), hb::status::success,
                      name_of(f).put(" with a zero-length buffer at 2^64 - 1"));
        for (unsigned misalign = 1; misalign < 8; misalign += 3) {
            scratch[misalign] = '\n';  // what console.write shows of it
            valid_args(f, a, uint64_t(&scratch[misalign]), 1);
            expect_status("HB-GEN-006", call_with(f, a), hb::status::success,
                          name_of(f).put(" with a buffer at alignment offset ").dec(misalign));
        }
    }

    // Function IDs past each service's last, and the highest function ID.
    for (const abi::service_desc& s : abi::services) {
        uint16_t next = 0;
        for (const abi::function_desc& f : abi::functions)
            if (f.svc == s.id && f.id >= next)
                next = uint16_t(f.id + 1);
        for (uint16_t id : {next, uint16_t(0xFFFF)}) {
            raw_result r = raw_call(abi::make_call(uint16_t(s.id), id));
            line what;
            what.put(s.name).put(" function ").hex(id, 4).put(" (not defined) is NOT_SUPPORTED");
            expect_status("HB-CALL-003", r, hb::status::not_supported, what);
        }
    }
    for (uint16_t svc : {uint16_t(abi::service_count), uint16_t(0x00FF), uint16_t(0xFFFF)}) {
        raw_result r = raw_call(abi::make_call(svc, 0));
        line what;
        what.put("service ").hex(svc, 4).put(" (not defined) is NOT_SUPPORTED");
        expect_status("HB-CALL-003", r, hb::status::not_supported, what);
    }
}

}  // namespace conformance
