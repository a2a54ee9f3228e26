// Negative tests for every function of the ABI table, derived from the table
// alone: each argument's kind says how to make it invalid (reserved bits,
// range, enumeration, handle, buffer, record), each function's error table says
// what it may answer, and the check order of spec 2.1 says which fault wins
// when a call has two. A function added to the table is covered here without a
// line of new code; a new kind of argument needs one case in `invalid_values`.
//
// Covered: reserved bits of the call word and of every argument (HB-GEN-001),
// hostile buffers from the shared list (HB-GEN-003), zero-length and misaligned
// buffers (HB-GEN-004, -006), RDX on failure (HB-CALL-004), unused argument
// registers (HB-CALL-010), the check order (HB-CALL-011), statuses outside the
// error tables (HB-STS-002), functions of offered services implemented
// (HB-GEN-007), and IDs from the never-assigned ranges (HB-CALL-003).
#include "hostile_buffers.hpp"
#include "image.hpp"

namespace conformance {

namespace {

namespace abi = hb::abi;

alignas(16) uint8_t scratch[64];
alignas(16) uint8_t record_area[4096];  // room for a record argument's valid address

// The steps of the check order (spec 2.1, HB-CALL-011); a probe names the first
// step it fails.
enum class step { call_word = 1, unknown_call, policy, arguments, buffers, passes };

// One function under test, and what the image learns of it on this host.
struct subject {
    const abi::function_desc& f;
    bool offered;           // its service is offered (discovery)
    bool policy_known;      // whether the host's policy refuses it is known
    bool denied;            // the host's policy refuses it
    uint64_t objects;       // its service's object count, for handle arguments
    bool valid_args_exist;  // false when a handle has no object to name
    abi::status_set seen;   // every status the host answered, for HB-STS-002
};

line name_of(const abi::function_desc& f)
{
    line l;
    l.put(f.service_name).put('.').put(f.name);
    return l;
}

const abi::arg_kind_desc& kind(const abi::function_desc& f, unsigned i) { return abi::kind_of(f.args[i]); }

bool returns(const abi::function_desc& f) { return abi::kind_of(f.result).cls != abi::result_class::no_return; }

// Arguments that pass every check of the table: each kind's smallest valid
// value, buffers at `address` with `length`, records in record_area.
struct arguments {
    uint64_t a[abi::max_args];
};

arguments valid_args(const abi::function_desc& f, uint64_t address, uint64_t length)
{
    arguments args{};
    for (unsigned i = 0; i < abi::max_args; ++i) {
        const abi::arg_kind_desc& k = kind(f, i);
        switch (k.cls) {
        case abi::arg_class::unused: args.a[i] = 0; break;
        case abi::arg_class::value:
        case abi::arg_class::handle: args.a[i] = k.min; break;
        case abi::arg_class::enumeration: args.a[i] = abi::first_enum_value(k.enumeration); break;
        case abi::arg_class::in_buffer:
        case abi::arg_class::out_buffer: args.a[i] = address; break;
        case abi::arg_class::length: args.a[i] = length; break;
        case abi::arg_class::in_record:
        case abi::arg_class::out_record: args.a[i] = uint64_t(&record_area[0]); break;
        }
    }
    return args;
}

// Values of argument i that fail step 4, with what each is; returns how many.
struct invalid_value {
    uint64_t value;
    const char* what;
    const char* requirement;
};

unsigned invalid_values(const subject& s, unsigned i, uint64_t valid, invalid_value (&out)[6])
{
    const abi::arg_kind_desc& k = kind(s.f, i);
    unsigned n = 0;
    if (k.cls == abi::arg_class::unused)
        return 0;
    if (k.reserved) {
        out[n++] = {valid | (k.reserved & (0 - k.reserved)), "its lowest reserved bit set", "HB-GEN-001"};
        if (k.reserved >> 63)
            out[n++] = {valid | (1ull << 63), "bit 63 set", "HB-GEN-001"};
    }
    if (k.max != ~0ull && !((k.max + 1) & k.reserved))
        out[n++] = {k.max + 1, "one above its range", "HB-CALL-011"};
    if (k.min > 0)
        out[n++] = {k.min - 1, "one below its range", "HB-CALL-011"};
    if (k.cls == abi::arg_class::enumeration) {
        const uint64_t beyond = abi::past_enum_values(k.enumeration);
        if (!(beyond & k.reserved) && beyond >= k.min && beyond <= k.max)
            out[n++] = {beyond, "a value its enumeration does not list", "HB-CALL-011"};
    }
    if (k.cls == abi::arg_class::handle && s.objects <= k.max && !(s.objects & k.reserved))
        out[n++] = {s.objects, "the first handle past the service's object count", "HB-CALL-011"};
    return n;
}

// Addresses of a record of `size` bytes outside RAM; returns how many.
unsigned hostile_records(uint64_t size, hostile_buffer (&out)[4])
{
    unsigned n = 0;
    out[n++] = {0x100000000000ull, size, "a record at 16 TiB", false};
    out[n++] = {~0ull - size / 2, size, "a record that wraps past 2^64", false};
    if (ram_end) {
        out[n++] = {ram_end, size, "a record at the end of RAM", true};
        if (size > 1)
            out[n++] = {ram_end - size / 2, size, "a record straddling the end of RAM", true};
    }
    return n;
}

raw_result call_with(const abi::function_desc& f, const arguments& args, uint64_t extra_word_bits = 0)
{
    return raw_call(uint64_t(f.call) | extra_word_bits, args.a[0], args.a[1], args.a[2], args.a[3], args.a[4]);
}

// The status a call of s must get when `first` is the first check it fails.
hb::status expected_status(const subject& s, step first)
{
    if (first == step::call_word)
        return hb::status::invalid_param;
    if (!s.offered)
        return hb::status::not_supported;
    if (s.denied && first >= step::policy)
        return hb::status::denied;
    switch (first) {
    case step::arguments: return hb::status::invalid_param;
    case step::buffers: return hb::status::invalid_address;
    default: return hb::status::success;
    }
}

void report(const char* requirement, const raw_result& r, hb::status expected, const line& what)
{
    line why;
    why.put("status ").put(abi::status_name(r.code())).put(", expected ").put(abi::status_name(expected));
    check(requirement, r.code() == expected, what.c_str(), why.c_str());
    if (expected != hb::status::success)
        check("HB-CALL-004", r.value == 0, line().put(what.c_str()).put(": RDX is zero").c_str());
}

// Makes the call, learns the host's policy from its first answer past step 2
// (DENIED comes before any argument check, so a refused function answers DENIED
// to every probe), and checks the status.
void probe(subject& s, const char* requirement, const arguments& args, step first, const line& what,
           uint64_t extra_word_bits = 0)
{
    const raw_result r = call_with(s.f, args, extra_word_bits);
    s.seen |= abi::status_bit(r.code());
    // BASE is never refused (HB-BASE-007), so a DENIED from it stays a failure.
    if (!s.policy_known && s.offered && first >= step::policy && first != step::passes &&
        s.f.svc != abi::service::base) {
        s.policy_known = true;
        s.denied = r.code() == hb::status::denied;
    }
    report(requirement, r, expected_status(s, first), what);
}

subject learn(const abi::function_desc& f)
{
    subject s{f, hb::detect().has_service(f.svc), false, false, 0, true, 0};
    for (unsigned i = 0; i < abi::max_args; ++i) {
        if (kind(f, i).cls != abi::arg_class::handle)
            continue;
        // The valid handles are those below what the service's object_count function answers.
        const size_t counter = abi::object_count_function(abi::functions, abi::function_count, f.svc);
        const raw_result r = raw_call(uint64_t(abi::functions[counter].call));
        s.objects = r.code() == hb::status::success ? r.value : 0;
        s.valid_args_exist = s.objects > 0;
    }
    return s;
}

// Reserved bits of the call word, every argument fault alone and with a
// reserved call-word bit (HB-CALL-011: step 1 first).
void argument_checks(subject& s)
{
    const abi::function_desc& f = s.f;
    const arguments valid = valid_args(f, uint64_t(&scratch[0]), 0);

    // Reserved bits of the call word: refused, whatever the function (even shutdown).
    for (unsigned bit : {32u, 47u, 63u})
        probe(s, "HB-GEN-001", valid, step::call_word, name_of(f).put(" with call-word bit ").dec(bit).put(" set"),
              1ull << bit);

    for (unsigned i = 0; i < abi::max_args; ++i) {
        invalid_value bad[6];
        const unsigned n = invalid_values(s, i, valid.a[i], bad);
        for (unsigned b = 0; b < n; ++b) {
            arguments args = valid;
            args.a[i] = bad[b].value;
            probe(s, bad[b].requirement, args, step::arguments,
                  name_of(f).put(" with argument ").dec(i).put(' ').put(bad[b].what));
            probe(s, "HB-CALL-011", args, step::call_word,
                  name_of(f).put(" with argument ").dec(i).put(' ').put(bad[b].what).put(" and call-word bit 32 set"),
                  1ull << 32);
        }
    }
}

// Every buffer and record argument outside RAM, alone, after an argument fault
// (step 4 before 5) and after a call-word fault (step 1 before 5); then the
// buffers that must be accepted.
void buffer_checks(subject& s, const hostile_buffer* hostile, size_t hostile_count)
{
    const abi::function_desc& f = s.f;
    for (unsigned i = 0; i < abi::max_args; ++i) {
        const abi::arg_kind_desc& k = kind(f, i);
        hostile_buffer records[4];
        const hostile_buffer* list = hostile;
        size_t count = hostile_count;
        if (abi::is_record(k.cls)) {
            list = records;
            count = hostile_records(k.record_size, records);
        } else if (!abi::is_buffer(k.cls)) {
            continue;
        }
        for (size_t h = 0; h < count; ++h) {
            arguments args = valid_args(f, uint64_t(&scratch[0]), 0);
            args.a[i] = list[h].address;
            if (abi::is_buffer(k.cls))
                args.a[i + 1] = list[h].length;
            // Alone, the bad buffer is the first fault only when the other
            // arguments pass (a handle needs an object) and a call that passes it
            // would return (not stop the machine): then INVALID_ADDRESS.
            if (returns(f) && s.valid_args_exist)
                probe(s, "HB-GEN-003", args, step::buffers, name_of(f).put(" with ").put(list[h].what));
            probe(s, "HB-CALL-011", args, step::call_word,
                  name_of(f).put(" with ").put(list[h].what).put(" and call-word bit 32 set"), 1ull << 32);
            // Each argument fault together with the bad buffer: the argument fault wins.
            for (unsigned j = 0; j < abi::max_args; ++j) {
                invalid_value bad[6];
                const unsigned n = invalid_values(s, j, args.a[j], bad);
                for (unsigned b = 0; b < n; ++b) {
                    arguments both = args;
                    both.a[j] = bad[b].value;
                    probe(s, "HB-CALL-011", both, step::arguments,
                          name_of(f).put(" with ").put(list[h].what).put(" and argument ").dec(j).put(' ').put(
                              bad[b].what));
                }
            }
        }
        if (!abi::is_buffer(k.cls) || !returns(f) || !s.valid_args_exist)
            continue;
        // A function's own checks may refuse length 0 (NET.send: a frame is 14
        // bytes at least); the address must not change the answer.
        const raw_result empty_home = call_with(f, valid_args(f, uint64_t(&scratch[0]), 0));
        arguments args = valid_args(f, ~0ull, 0);
        if (empty_home.code() == hb::status::success || empty_home.code() == hb::status::invalid_address) {
            probe(s, "HB-GEN-004", args, step::passes, name_of(f).put(" with a zero-length buffer at 2^64 - 1"));
        } else {
            const raw_result r = call_with(f, args);
            s.seen |= abi::status_bit(r.code());
            report("HB-GEN-004", r, empty_home.code(),
                   name_of(f).put(" with a zero-length buffer at 2^64 - 1, as at an address in RAM"));
        }
        // A 1-byte buffer at an aligned address first: a function's own checks
        // may refuse that length (BLOCK's transfers are whole sectors, its lists
        // whole segments), and alignment must not change the answer.
        scratch[16] = '\n';  // what console.write shows of it
        const raw_result aligned = call_with(f, valid_args(f, uint64_t(&scratch[16]), 1));
        const hb::status expected = aligned.code() == hb::status::success || aligned.code() == hb::status::invalid_address
                                        ? expected_status(s, step::passes)
                                        : aligned.code();
        for (unsigned misalign = 1; misalign < 8; misalign += 3) {
            scratch[misalign] = '\n';
            args = valid_args(f, uint64_t(&scratch[misalign]), 1);
            const raw_result r = call_with(f, args);
            s.seen |= abi::status_bit(r.code());
            report("HB-GEN-006", r, expected,
                   name_of(f).put(" with a buffer at alignment offset ").dec(misalign).put(", as at an aligned address"));
        }
    }
}

// HB-CALL-010: garbage in every argument register f does not use gives the same
// answer as zeros. A function that does not return is called with an invalid
// used argument, so that it answers instead of stopping the machine.
void unused_register_checks(subject& s)
{
    const abi::function_desc& f = s.f;
    const unsigned used = abi::arity(f);
    if (used == abi::max_args)
        return;
    arguments base = valid_args(f, uint64_t(&scratch[0]), 0);
    if (!returns(f) || !s.valid_args_exist) {
        bool made_invalid = false;
        for (unsigned i = 0; i < used && !made_invalid; ++i) {
            invalid_value bad[6];
            if (invalid_values(s, i, base.a[i], bad) > 0) {
                base.a[i] = bad[0].value;
                made_invalid = true;
            }
        }
        if (!made_invalid) {
            note(name_of(f).put(": HB-CALL-010 not probed: no argument can make it fail, and a call that "
                                "succeeds does not return").c_str());
            return;
        }
    }
    const raw_result zeros = call_with(f, base);
    s.seen |= abi::status_bit(zeros.code());
    const uint64_t patterns[2] = {~0ull, 0x8000000000000000ull | ram_end};
    for (uint64_t pattern : patterns) {
        arguments garbage = base;
        for (unsigned i = used; i < abi::max_args; ++i)
            garbage.a[i] = pattern + i * 0x1001;
        const raw_result r = call_with(f, garbage);
        s.seen |= abi::status_bit(r.code());
        const bool same_value = !abi::kind_of(f.result).repeatable || r.value == zeros.value;
        line what = name_of(f).put(" with ").hex(pattern, 16).put("... in its ").dec(abi::max_args - used).put(
            " unused argument registers");
        line why;
        why.put("status ").put(abi::status_name(r.code())).put(" value ").hex(r.value, 1).put(", with zeros ").put(
            abi::status_name(zeros.code())).put(" value ").hex(zeros.value, 1);
        check("HB-CALL-010", r.code() == zeros.code() && same_value, what.c_str(), why.c_str());
    }
}

void status_table_check(const subject& s)
{
    const abi::status_set allowed = s.f.statuses | abi::general_statuses;
    line why;
    why.put("answered");
    for (abi::status st : abi::all_statuses)
        if (abi::contains(s.seen & ~allowed, st))
            why.put(' ').put(abi::status_name(st));
    why.put(", which its error table does not list");
    check("HB-STS-002", (s.seen & ~allowed) == 0,
          name_of(s.f).put(" answered only statuses of its error table or general ones").c_str(), why.c_str());
}

// HB-GEN-007: every function of an offered service that the host's interface
// version includes is implemented — none of the probes above was NOT_SUPPORTED.
void implemented_check(const subject& s)
{
    const uint32_t version = hb::detect().interface_version;
    if (!s.offered || s.f.since > version)
        return;  // absent service, or a function newer than the host: nothing to expect
    line what = name_of(s.f);
    what.put(" (since ").dec(abi::version_major(s.f.since)).put('.').dec(abi::version_minor(s.f.since)).put(
        ") is implemented by a host of version ").dec(abi::version_major(version)).put('.').dec(
        abi::version_minor(version));
    check("HB-GEN-007", !abi::contains(s.seen, hb::status::not_supported), what.c_str(),
          "it answered NOT_SUPPORTED although its service is offered");
}

// What BASE.permitted_functions says of the function (5.7) against what its
// calls answered: a clear bit is a function refused with DENIED at step 3, a set
// bit one the policy lets through (HB-BASE-009). Hosts older than 0.9 have no
// such call.
void permitted_check(const subject& s)
{
    const uint32_t version = hb::detect().interface_version;
    if (!s.offered || !s.policy_known || s.f.since > version || version < abi::make_version(0, 9) || s.f.id >= 64)
        return;
    const raw_result bits = raw_call(uint64_t(abi::function::base_permitted_functions), uint64_t(s.f.svc));
    const bool permitted = bits.code() == hb::status::success && ((bits.value >> s.f.id) & 1) != 0;
    line what = name_of(s.f);
    what.put(permitted ? " is permitted (its bit is set), and no call of it was refused at step 3"
                       : " is refused (its bit is clear), and every call past step 2 answered DENIED");
    line why;
    why.put("permitted_functions ").put(abi::status_name(bits.code())).put(" ").hex(bits.value, 16).put(
        s.denied ? "; the calls answered DENIED" : "; the calls were not refused");
    check("HB-BASE-009", bits.code() == hb::status::success && permitted == !s.denied, what.c_str(), why.c_str());
    // A rate limit only on functions whose error table has AGAIN (5.8).
    const raw_result rate = raw_call(uint64_t(abi::function::base_rate_limit), uint64_t(s.f.call));
    line rate_what = name_of(s.f);
    rate_what.put(abi::contains(s.f.statuses, hb::status::again) ? " has a rate limit or none (rate_limit succeeds)"
                                                                  : " has no rate limit: its error table has no AGAIN");
    check("HB-BASE-010",
          rate.code() == hb::status::success &&
              (abi::contains(s.f.statuses, hb::status::again) || rate.value == 0) && (permitted || rate.value == 0),
          rate_what.c_str(), line().put("rate_limit ").put(abi::status_name(rate.code())).put(" ").dec(rate.value).c_str());
}

void unknown_id_checks()
{
    // Function IDs from the range no service ever assigns, in every service.
    for (const abi::service_desc& svc : abi::services) {
        for (uint32_t id : {uint32_t(abi::unassigned_function_first), 0xF800u, 0xFFFFu}) {
            raw_result r = raw_call(abi::make_call(uint16_t(svc.id), uint16_t(id)), ~0ull, ~0ull, ~0ull, ~0ull, ~0ull);
            line what;
            what.put(svc.name).put(" function ").hex(id, 4).put(" (never assigned) is NOT_SUPPORTED");
            report("HB-CALL-003", r, hb::status::not_supported, what);
        }
    }
    // Service IDs from the never-assigned range: unknown under every version and extension.
    for (uint32_t svc : {uint32_t(abi::unassigned_service_first), 0xF123u, 0xFFFFu}) {
        raw_result r = raw_call(abi::make_call(uint16_t(svc), 0));
        line what;
        what.put("service ").hex(svc, 4).put(" (never assigned) is NOT_SUPPORTED");
        report("HB-CALL-003", r, hb::status::not_supported, what);
        r = raw_call(abi::make_call(uint16_t(svc), 0) | (1ull << 40));
        what = line();
        what.put("service ").hex(svc, 4).put(" with call-word bit 40 set is INVALID_PARAM (step 1 before 2)");
        report("HB-CALL-011", r, hb::status::invalid_param, what);
    }
}

}  // namespace

void run_checks()
{
    hostile_buffer hostile[hostile_buffer_count];
    const size_t hostile_count = hostile_buffers(ram_end, uint64_t(&scratch[0]), hostile);
    for (const abi::function_desc& f : abi::functions) {
        subject s = learn(f);
        argument_checks(s);
        buffer_checks(s, hostile, hostile_count);
        unused_register_checks(s);
        status_table_check(s);
        implemented_check(s);
        permitted_check(s);
    }
    unknown_id_checks();
}

}  // namespace conformance
