// Random calls: a fixed-seed stream of pseudo-random HyperBIOS calls — valid,
// malformed and hostile — each checked from inside the guest against the rules
// every host keeps whatever the call:
//
//   HB-STS-001   the status is a code of the status table;
//   HB-CALL-004  RDX is zero when the status is not SUCCESS;
//   HB-CALL-002  every register but RAX and RDX, the arithmetic flags and DF survive;
//   HB-GEN-001, HB-CALL-003, HB-GEN-003, HB-GEN-004
//                the check order of spec 2.1, predicted by a model built from the
//                ABI table and the Multiboot memory map: reserved call-word bits ->
//                INVALID_PARAM; unknown service or function -> NOT_SUPPORTED;
//                (policy: DENIED, allowed for offered calls); reserved bits of any
//                argument, all of them before any buffer -> INVALID_PARAM; a
//                non-empty buffer outside RAM or wrapping -> INVALID_ADDRESS. Where
//                the model predicts one of these the status must be exactly it
//                (or DENIED, for an offered call); buffers in RAM, and empty
//                buffers at any address, never give INVALID_ADDRESS;
//   HB-GEN-005   no byte of a guarded arena changes outside the call's out buffer;
//   HB-CALL-005  a refused call does not even write its out buffer.
//
// Buffers in RAM point into the arena, whose every byte has a known value (top
// bit set, so no ASCII reply matches it); after each call the arena is compared,
// and restored where the call wrote it. Arguments a function does not use carry
// garbage, zero or arena addresses. Calls that would end or disturb the run are
// made only in forms that must fail, even on a host that ignores reserved bits
// where it can be arranged: POWER.shutdown and POWER.reboot with reserved bits
// set (a host that carries one out ends the run, which the driver reports, or
// reboots it, which the next boot reports), CONSOLE.write with a zero length or a
// buffer outside RAM (stdout stays clean), EVT.wait with a deadline at most 1 ms
// after the clock's zero (never blocks), EVT.set_vector never with a vector
// 32-255 (no interrupt this image has no handler for), and an out buffer in RAM
// always lies in the arena.
//
// The run: 1,000,000 calls, or fewer when 10 s measured with TIME.monotonic_ns run
// out first. The calls depend only on the seed and the memory map (the same --mem
// gives the same calls), so a run is reproducible; the kernel command line can
// change the seed, the number of calls and the time budget, to reproduce or
// extend a run:
//     hbvm run IMAGE -- seed=0x1234 calls=5000 seconds=60     (seconds=0: no time budget)
// One PASS/FAIL line per rule, with the first failing call in the FAIL line.
//
// Speed matters here: on the software engine every guest store costs ~90 ns
// (Unicorn 2.0's slow path), so the loop keeps its state in registers and makes
// its calls through checked_gate_call (guest/raw.hpp), which stores five words.
#include "image.hpp"

namespace conformance {

namespace {

namespace abi = hb::abi;
namespace mb = hb::multiboot;

constexpr uint64_t default_seed = 0x48594250'52424E44ull;
constexpr uint64_t default_calls = 1'000'000;
constexpr uint64_t default_seconds = 10;
constexpr uint64_t calls_without_clock = 100'000;  // when TIME cannot measure the budget
constexpr uint64_t clock_every = 256;               // calls between readings of the clock (a power of two)
constexpr uint64_t flags_kept = 0xCD5;              // CF PF AF ZF SF OF and DF

// ---------------------------------------------------------------------------
// Pseudo-random numbers: xorshift64 (Marsaglia), fixed seed.
// ---------------------------------------------------------------------------

struct xorshift64 {
    uint64_t state;

    [[gnu::always_inline]] uint64_t next()
    {
        uint64_t x = state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return state = x;
    }
    // Below n (n > 0); multiply and shift for the usual small n, no division.
    [[gnu::always_inline]] uint64_t below(uint64_t n)
    {
        return n <= (1ull << 32) ? ((next() >> 32) * n) >> 32 : next() % n;
    }
    [[gnu::always_inline]] bool percent(unsigned p) { return below(100) < p; }
    // Some of the bits of `mask` (not zero), a single bit half of the time.
    [[gnu::always_inline]] uint64_t bits_of(uint64_t mask)
    {
        uint64_t v = percent(50) ? next() & mask : 0;
        while (!v)
            v = (1ull << below(64)) & mask;
        return v;
    }
};

// ---------------------------------------------------------------------------
// Guest memory as the boot loader reports it.
// ---------------------------------------------------------------------------

// Sorted, disjoint ranges with inclusive bounds, merged where they touch.
struct ranges {
    static constexpr unsigned capacity = 32;
    uint64_t first[capacity], last[capacity];
    unsigned count;

    void add(uint64_t address, uint64_t length)
    {
        if (length == 0 || count == capacity)
            return;
        const uint64_t lo = address, hi = length - 1 > ~0ull - address ? ~0ull : address + length - 1;
        unsigned i = count++;
        for (; i > 0 && first[i - 1] > lo; --i) {
            first[i] = first[i - 1];
            last[i] = last[i - 1];
        }
        first[i] = lo;
        last[i] = hi;
        unsigned out = 0;
        for (unsigned k = 1; k < count; ++k) {
            if (last[out] == ~0ull || first[k] <= last[out] + 1) {
                if (last[k] > last[out])
                    last[out] = last[k];
            } else {
                ++out;
                first[out] = first[k];
                last[out] = last[k];
            }
        }
        count = out + 1;
    }

    bool holds(uint64_t lo, uint64_t hi) const
    {
        for (unsigned k = 0; k < count; ++k)
            if (first[k] <= lo && hi <= last[k])
                return true;
        return false;
    }
};

ranges ram;       // available RAM (memory-map type 1)
ranges reported;  // everything the memory map names, RAM or reserved
bool have_map;    // false: only the arena is known to be RAM, only wrapping buffers are known to be outside
uint64_t beyond;  // the first address above everything the map reports

// Where a buffer lies, as far as the model can tell.
enum class where { empty, in_ram, outside, unsure };

[[gnu::always_inline]] inline where classify(uint64_t address, uint64_t length)
{
    if (length == 0)
        return where::empty;
    if (length - 1 > ~0ull - address)
        return where::outside;  // wraps past 2^64
    const uint64_t last = address + length - 1;
    if (ram.holds(address, last))
        return where::in_ram;
    if (have_map && !reported.holds(address, last))
        return where::outside;
    return where::unsure;  // partly in reserved memory, which a host MAY refuse (spec 1.4)
}

// ---------------------------------------------------------------------------
// The arena: every buffer in RAM lies in its window; the guards around the
// window catch writes just before and after a buffer.
// ---------------------------------------------------------------------------

constexpr uint64_t guard = 32, window = 256, arena_bytes = guard + window + guard, arena_words = arena_bytes / 8;
alignas(64) uint64_t arena[arena_words];

constexpr uint8_t pattern(uint64_t i) { return uint8_t(0x80 | ((i * 0x1D + 0x35) & 0x7F)); }

struct pattern_words {
    uint64_t w[arena_words];
};

constexpr pattern_words make_pattern()
{
    pattern_words p{};
    for (uint64_t w = 0; w < arena_words; ++w)
        for (uint64_t b = 0; b < 8; ++b)
            p.w[w] |= uint64_t(pattern(w * 8 + b)) << (8 * b);
    return p;
}

constexpr pattern_words arena_pattern = make_pattern();

uint64_t arena_address() { return uint64_t(&arena[0]); }
uint64_t window_address() { return arena_address() + guard; }

bool in_window(uint64_t address, uint64_t length)
{
    return address >= window_address() && length <= window && address - window_address() <= window - length;
}

// Loads only: did any byte of the arena change? One string instruction, because
// where the host emulates guest instructions (KVM without hardware
// virtualization below it) each instruction costs about a microsecond.
[[gnu::always_inline]] inline bool arena_changed()
{
    const void* seen = arena;
    const void* expected = arena_pattern.w;
    uint64_t count = arena_words;
    bool differ;
    asm volatile("repe cmpsq" : "+S"(seen), "+D"(expected), "+c"(count), "=@ccnz"(differ) : : "memory");
    return differ;
}

// ---------------------------------------------------------------------------
// Generating calls. Everything on the path of a call is inlined so that the
// generator's state stays in registers.
// ---------------------------------------------------------------------------

[[gnu::always_inline]] inline bool is_buffer(abi::arg_kind k)
{
    return k == abi::arg_kind::in_buffer || k == abi::arg_kind::out_buffer || k == abi::arg_kind::segment_list;
}

// Table indices of the functions by service and function ID, for the IDs the
// table uses (-1: none); others go through abi::find_function.
constexpr unsigned direct_services = 32, direct_functions = 16;

struct direct_index {
    int8_t at[direct_services * direct_functions];
};

constexpr direct_index make_direct_index()
{
    direct_index d{};
    for (int8_t& i : d.at)
        i = -1;
    for (size_t i = 0; i < abi::function_count; ++i)
        if (uint16_t(abi::functions[i].svc) < direct_services && abi::functions[i].id < direct_functions)
            d.at[uint16_t(abi::functions[i].svc) * direct_functions + abi::functions[i].id] = int8_t(i);
    return d;
}

constexpr direct_index functions_by_id = make_direct_index();
static_assert(abi::function_count < 128);

// The function a call word names once its reserved bits are ignored (nullptr: none).
[[gnu::always_inline]] inline const abi::function_desc* underlying(uint64_t word)
{
    const uint16_t svc = abi::call_service(word), fn = abi::call_function(word);
    if (svc >= direct_services || fn >= direct_functions)
        return abi::find_function(word & ~abi::call_reserved_mask);
    const int i = functions_by_id.at[svc * direct_functions + fn];
    return i < 0 ? nullptr : &abi::functions[i];
}

// A value for an argument the call does not use, or of an unknown call: garbage,
// zero, or an address in the arena (a host that takes it for a buffer is caught).
[[gnu::always_inline]] inline uint64_t garbage(xorshift64& rng)
{
    switch (rng.below(4)) {
    case 0: return 0;
    case 1: return window_address() + rng.below(window);
    case 2: return rng.below(0x10000);
    default: return rng.next();
    }
}

// A buffer somewhere: empty (anywhere), in the arena, past everything the map
// reports, across the edge of a RAM range, wrapping past 2^64, or anywhere at all.
[[gnu::always_inline]] inline void make_buffer(xorshift64& rng, uint64_t& address, uint64_t& length)
{
    switch (rng.below(10)) {
    case 0:
    case 1:
        length = 0;
        switch (rng.below(5)) {
        case 0: address = 0; break;
        case 1: address = ~0ull - rng.below(8); break;
        case 2: address = beyond; break;
        case 3: address = window_address() + rng.below(window); break;
        default: address = rng.next();
        }
        break;
    case 2:
    case 3:
    case 4: {
        const uint64_t offset = rng.below(window);
        address = window_address() + offset;
        length = 1 + rng.below(window - offset);
        break;
    }
    case 5:
        address = beyond + rng.below(rng.percent(50) ? 0x1000 : 1ull << 40);
        length = 1 + rng.below(rng.percent(75) ? 0x100 : 0x100000);
        break;
    case 6: {
        const unsigned k = unsigned(rng.below(ram.count));
        const uint64_t back = 1 + rng.below(64);
        if (rng.percent(50) || ram.first[k] < back)
            address = ram.last[k] + 1 - back;  // across the end of the range
        else
            address = ram.first[k] - back;  // across its start
        length = back + 1 + rng.below(64);
        break;
    }
    case 7:
        if (rng.percent(50)) {
            address = ~0ull - rng.below(0x1000);
            length = (~0ull - address) + 2 + rng.below(0x1000);
        } else {
            address = window_address() + rng.below(window);
            length = ~0ull - rng.below(0x1000);
        }
        break;
    default:
        address = rng.next();
        length = rng.percent(50) ? 1 + rng.below(0x200) : rng.next();
    }
}

// A non-empty buffer that must be refused: past everything the map reports, or wrapping.
[[gnu::always_inline]] inline void make_outside(xorshift64& rng, uint64_t& address, uint64_t& length)
{
    if (have_map && rng.percent(50)) {
        address = beyond + rng.below(1ull << 32);
        length = 1 + rng.below(0x100);
    } else {
        address = ~0ull - rng.below(0x100);
        length = (~0ull - address) + 2 + rng.below(0x100);
    }
}

[[gnu::always_inline]] inline void make_args(xorshift64& rng, const abi::function_desc* f,
                                             uint64_t (&a)[abi::max_args])
{
    for (unsigned i = 0; i < abi::max_args; ++i) {
        const abi::arg_kind kind = f ? f->args[i] : abi::arg_kind::none;
        switch (kind) {
        case abi::arg_kind::service_id:
            a[i] = rng.percent(50) ? rng.below(40) : rng.below(0x10000);
            if (rng.percent(25))
                a[i] |= rng.bits_of(abi::reserved_bits(kind));
            break;
        case abi::arg_kind::exit_code:
            a[i] = rng.below(0x100);
            if (rng.percent(25))
                a[i] |= rng.bits_of(abi::reserved_bits(kind));
            break;
        case abi::arg_kind::in_buffer:
        case abi::arg_kind::out_buffer:
            if (i + 1 < abi::max_args) {
                make_buffer(rng, a[i], a[i + 1]);
                ++i;
            }
            break;
        case abi::arg_kind::u64: a[i] = rng.next(); break;
        default: a[i] = garbage(rng);  // none, or a length without its buffer
        }
    }
}

// Keeps the run alive and stdout clean whatever the host does: an out buffer in
// RAM lies in the arena; CONSOLE.write shows nothing; calls that do not return on
// success are made only in forms that must fail.
[[gnu::always_inline]] inline void make_safe(xorshift64& rng, const abi::function_desc* f, uint64_t& word,
                                             uint64_t (&a)[abi::max_args])
{
    if (!f)
        return;
    for (unsigned i = 0; i + 1 < abi::max_args; ++i) {
        if (!is_buffer(f->args[i]))
            continue;
        const where w = classify(a[i], a[i + 1]);
        if (f->args[i] == abi::arg_kind::out_buffer && (w == where::in_ram || w == where::unsure) &&
            !in_window(a[i], a[i + 1])) {
            const uint64_t offset = rng.below(window);
            a[i] = window_address() + offset;
            if (a[i + 1] > window - offset)
                a[i + 1] = 1 + rng.below(window - offset);
        }
        if (f->call == abi::function::console_write && w != where::empty && w != where::outside)
            make_outside(rng, a[i], a[i + 1]);
    }
    // EVT.wait sleeps until its deadline: at most 1 ms of the monotonic clock
    // (on a host whose clock starts at 0; in the past on most), so that no call
    // blocks. Whatever the timers and the mask, the wait ends by then.
    if (f->call == abi::function::evt_wait)
        a[0] = rng.below(1'000'000);
    // EVT.set_vector with a vector 32-255 would make the host raise interrupts
    // this image has no handler for: 0 (none) instead; 1-31 and reserved bits
    // stay, refused with INVALID_PARAM.
    if (f->call == abi::function::evt_set_vector && a[0] >= 32 && a[0] <= 255)
        a[0] = 0;
    if (f->result == abi::result_kind::no_return && !(word & abi::call_reserved_mask)) {
        bool refused = false;
        for (unsigned i = 0; i < abi::max_args && !refused; ++i) {
            const uint64_t reserved = abi::reserved_bits(f->args[i]);
            if (reserved && (a[i] & reserved)) {
                refused = true;
            } else if (reserved && rng.percent(50)) {
                a[i] |= rng.bits_of(reserved);
                refused = true;
            }
        }
        if (!refused)
            word |= rng.bits_of(abi::call_reserved_mask);
    }
}

constexpr uint16_t next_function_id(abi::service s)
{
    uint16_t next = 0;
    for (const abi::function_desc& f : abi::functions)
        if (f.svc == s && f.id >= next)
            next = uint16_t(f.id + 1);
    return next;
}

[[gnu::always_inline]] inline uint64_t make_word(xorshift64& rng)
{
    const uint64_t r = rng.below(100);
    if (r < 60)  // a function of the table
        return uint64_t(abi::functions[rng.below(abi::function_count)].call);
    if (r < 70)  // ... with reserved bits of the call word set
        return uint64_t(abi::functions[rng.below(abi::function_count)].call) | rng.bits_of(abi::call_reserved_mask);
    if (r < 82) {  // a function ID the table does not define, of a service it does
        const abi::service_desc& s = abi::services[rng.below(abi::service_count)];
        const uint16_t id = rng.percent(50) ? uint16_t(next_function_id(s.id) + rng.below(4)) : uint16_t(rng.next());
        return abi::make_call(uint16_t(s.id), id);
    }
    if (r < 94) {  // a service ID the table does not define
        const uint16_t svc = rng.percent(50) ? uint16_t(abi::service_count + rng.below(60)) : uint16_t(rng.next());
        return abi::make_call(svc, uint16_t(rng.percent(50) ? rng.below(8) : rng.next()));
    }
    return rng.next();  // anything
}

// ---------------------------------------------------------------------------
// The model: what spec 2.1 makes of a call.
// ---------------------------------------------------------------------------

// The rules checked, in the order of the report.
enum rule_id {
    rule_status, rule_rdx, rule_registers, rule_reserved, rule_unknown, rule_address, rule_empty, rule_arena,
    rule_refused, rule_count
};

struct prediction {
    rule_id fixed_by;        // the rule that fixes the status (rule_reserved, rule_unknown, rule_address),
                             // or rule_count: the function decides
    hb::status status;       // the status it fixes
    bool denied_ok;          // DENIED may come instead: an offered call (policy comes before the arguments)
    rule_id no_bad_address;  // rule_address or rule_empty: INVALID_ADDRESS would break it (every buffer in
                             // RAM, or empty); rule_count: no such constraint
};

uint64_t offered_functions;  // bit i: abi::functions[i] is offered (its service is, at the host's version)
uint64_t object_counts[abi::service_count];  // per service with handles: how many objects they may name
bool newer_host;             // the host implements a later version, which may define calls this table lacks

void learn_offered()
{
    static_assert(abi::function_count <= 64);
    const hb::host_info& host = hb::detect();
    newer_host = host.interface_version > abi::spec_version;
    for (size_t i = 0; i < abi::function_count; ++i)
        if (host.has_service(abi::functions[i].svc) && abi::functions[i].since <= host.interface_version)
            offered_functions |= 1ull << i;
    // A handle is valid below its service's object count (BLOCK's devices).
    for (size_t s = 0; s < abi::service_count; ++s) {
        const size_t counter = abi::object_count_function(abi::functions, abi::function_count, abi::services[s].id);
        if (counter < abi::function_count && ((offered_functions >> counter) & 1)) {
            const raw_result r = raw_call(uint64_t(abi::functions[counter].call));
            object_counts[s] = r.code() == hb::status::success ? r.value : 0;
        }
    }
}

[[gnu::always_inline]] inline bool offered(const abi::function_desc& f)
{
    return (offered_functions >> (&f - abi::functions)) & 1;
}

// f: underlying(word).
[[gnu::always_inline]] inline prediction predict(uint64_t word, const abi::function_desc* f,
                                                 const uint64_t (&a)[abi::max_args])
{
    if (word & abi::call_reserved_mask)
        return {rule_reserved, hb::status::invalid_param, false, rule_count};
    if (!f && newer_host)
        return {rule_count, hb::status::success, false, rule_count};  // perhaps a call of the later version
    if (!f || !offered(*f))
        return {rule_unknown, hb::status::not_supported, false, rule_count};
    for (unsigned i = 0; i < abi::max_args; ++i) {  // every argument before any buffer
        const abi::arg_kind_desc& k = abi::kind_of(f->args[i]);
        if (!abi::argument_acceptable(k, a[i]) ||
            (k.cls == abi::arg_class::handle && a[i] >= object_counts[abi::service_index(uint64_t(f->svc))]))
            return {rule_reserved, hb::status::invalid_param, true, rule_count};
    }
    bool any_unsure = false, any_in_ram = false, any_empty = false;
    for (unsigned i = 0; i + 1 < abi::max_args; ++i) {
        if (!is_buffer(f->args[i]))
            continue;
        // A segment list names more memory, which the function checks itself:
        // a list in RAM may still get INVALID_ADDRESS for a segment outside.
        if (f->args[i] == abi::arg_kind::segment_list)
            any_unsure = true;
        switch (classify(a[i], a[i + 1])) {
        case where::outside: return {rule_address, hb::status::invalid_address, true, rule_count};
        case where::unsure: any_unsure = true; break;
        case where::in_ram: any_in_ram = true; break;
        case where::empty: any_empty = true; break;
        }
    }
    if (any_unsure)
        return {rule_count, hb::status::success, true, rule_count};
    return {rule_count, hb::status::success, true, any_in_ram ? rule_address : any_empty ? rule_empty : rule_count};
}

// The out buffer of the function the call word names, reserved bits ignored, as
// arena offsets [from, to); empty when it has none in the arena's window.
[[gnu::always_inline]] inline void out_buffer(const abi::function_desc* f, const uint64_t (&a)[abi::max_args],
                                              uint64_t& from, uint64_t& to)
{
    from = to = 0;
    if (!f)
        return;
    for (unsigned i = 0; i + 1 < abi::max_args; ++i)
        if (f->args[i] == abi::arg_kind::out_buffer && a[i + 1] != 0 && in_window(a[i], a[i + 1])) {
            from = a[i] - arena_address();
            to = from + a[i + 1];
        }
}

[[gnu::always_inline]] inline bool refusal(hb::status s)
{
    return s == hb::status::not_supported || s == hb::status::invalid_param || s == hb::status::denied ||
           s == hb::status::invalid_address;
}

// ---------------------------------------------------------------------------
// Verdicts: one per rule, with the first failing call. Everything here runs
// only on a failure, out of line.
// ---------------------------------------------------------------------------

using long_line = hb::text::line<512>;

// "POWER.shutdown", as the spec writes it.
template <typename Line>
void put_function(Line& l, const abi::function_desc& f)
{
    for (const char* c = f.service_name; *c; ++c)
        l.put(*c >= 'a' && *c <= 'z' ? char(*c - 'a' + 'A') : *c);
    l.put('.').put(f.name);
}

struct rule {
    const char* requirement;
    const char* text;
    uint64_t applied;  // calls it was checked on
    bool failed;
    long_line first_failure;
};

rule rules[rule_count] = {
    {"HB-STS-001", "every status is a code of the status table", 0, false, {}},
    {"HB-CALL-004", "RDX is zero after every call that did not succeed", 0, false, {}},
    {"HB-CALL-002", "RBX RCX RSI RDI RBP R8-R15, the arithmetic flags and DF survive every call", 0, false, {}},
    {"HB-GEN-001",
     "reserved bits of the call word, or of any argument of an offered call, give INVALID_PARAM in the order of "
     "spec 2.1",
     0, false, {}},
    {"HB-CALL-003", "unknown services and functions give NOT_SUPPORTED (after the call-word check)", 0, false, {}},
    {"HB-GEN-003",
     "a non-empty buffer outside RAM or wrapping gives INVALID_ADDRESS after the argument checks; one in RAM never "
     "does",
     0, false, {}},
    {"HB-GEN-004", "empty buffers at any address never give INVALID_ADDRESS", 0, false, {}},
    {"HB-GEN-005", "no byte of the arena outside the call's out buffer changes", 0, false, {}},
    {"HB-CALL-005", "a call refused with NOT_SUPPORTED, INVALID_PARAM, DENIED or INVALID_ADDRESS writes nothing",
     0, false, {}},
};

// The call just made, from gate_probe: "call 17 base.get_impl_name: RAX ... -> status ..., RDX ...".
void describe(long_line& l, uint64_t index)
{
    const register_block& in = gate_probe.in;
    const abi::function_desc* f = underlying(in.rax);
    l.put("call ").dec(index).put(' ');
    if (f)
        put_function(l, *f);
    else
        l.put("(unknown)");
    l.put(": RAX ").hex(in.rax).put(" RDI ").hex(in.rdi).put(" RSI ").hex(in.rsi).put(" RCX ").hex(in.rcx);
    l.put(" R8 ").hex(in.r8).put(" R9 ").hex(in.r9);
    const int64_t status = int64_t(gate_probe.out.rax);
    l.put(" -> status ").sdec(status).put(' ');
    l.put(abi::is_spec_status(status) ? abi::status_name(hb::status(status)) : "(not in the table)");
    l.put(", RDX ").hex(gate_probe.out.rdx);
}

// Keeps the first failure of a rule: the call and `why` (which appends to the line).
template <typename Why>
[[gnu::noinline, gnu::cold]] void record_failure(rule_id id, uint64_t index, Why why)
{
    rule& r = rules[id];
    if (r.failed)
        return;
    r.failed = true;
    describe(r.first_failure, index);
    r.first_failure.put("; ");
    why(r.first_failure);
}

const char* const register_names[] = {"RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R8",
                                      "R9",  "R10", "R11", "R12", "R13", "R14", "R15", "RFLAGS"};

[[gnu::noinline, gnu::cold]] void registers_changed(uint64_t index)
{
    const uint64_t* b = &gate_probe.in.rax;
    const uint64_t* a = &gate_probe.out.rax;
    unsigned i = 1;
    for (; i < 16; ++i)
        if (i != 3 && (i == 15 ? ((a[i] ^ b[i]) & flags_kept) != 0 : a[i] != b[i]))
            break;
    if (i == 16)
        i = 15;  // cannot happen: checked_gate_call saw a change
    record_failure(rule_registers, index, [=](long_line& w) {
        w.put(register_names[i]).put(" changed from ").hex(b[i]).put(" to ").hex(a[i]);
    });
}

// The arena changed: which bytes, against the out buffer [from, to) of the call
// word's function; restores the arena.
[[gnu::noinline, gnu::cold]] void arena_written(uint64_t index, uint64_t from, uint64_t to, bool refused)
{
    volatile uint64_t* words = arena;
    const volatile uint8_t* bytes = reinterpret_cast<const volatile uint8_t*>(arena);
    bool outside = false, inside = false;
    uint64_t at = 0;
    for (uint64_t i = 0; i < arena_bytes; ++i) {
        if (bytes[i] == pattern(i))
            continue;
        if (i >= from && i < to) {
            inside = true;
        } else if (!outside) {
            outside = true;
            at = i;
        }
    }
    const uint8_t now = outside ? bytes[at] : 0;
    for (uint64_t w = 0; w < arena_words; ++w)
        words[w] = arena_pattern.w[w];
    const bool named = !(gate_probe.in.rax & abi::call_reserved_mask);
    if (outside)
        record_failure(rule_arena, index, [=](long_line& w) {
            w.put("arena byte +").dec(at).put(" changed from ").hex(pattern(at)).put(" to ").hex(now);
            if (to)
                w.put(" (the out buffer is +").dec(from).put("..+").dec(to).put(')');
            else
                w.put(" (the call has no out buffer in the arena)");
        });
    if (refused && inside)
        record_failure(rule_refused, index, [=](long_line& w) {
            w.put("the refused call wrote ").put(named ? "its" : "its function's").put(" out buffer +").dec(from).put(
                "..+").dec(to);
        });
}

// One line per rule. The description is the same in every run (CI systems key
// test cases on it); how many calls each rule was checked on goes into a NOTE.
void report(const rule& r)
{
    long_line l;
    ++totals.checks;
    if (r.applied == 0) {
        ++totals.skipped;
        l.put("SKIP ").put(r.requirement).put(" random calls: ").put(r.text).put(" (no random call exercised it)");
    } else {
        if (r.failed)
            ++totals.failed;
        l.put(r.failed ? "FAIL " : "PASS ").put(r.requirement).put(" random calls: ").put(r.text);
        if (r.failed)
            l.put(" (").put(r.first_failure.c_str()).put(')');
    }
    hb::fallback::debug_write(l.c_str(), l.size());  // 0xE9 or COM1, as report.hpp's emit
    hb::fallback::debug_write("\n", 1);
}

// ---------------------------------------------------------------------------
// Set-up: the memory map and the kernel command line.
// ---------------------------------------------------------------------------

void learn_ram()
{
    // The boot protocol's map (Multiboot or PVH), as the library read it.
    if (loader_info.memory_map_from_loader()) {
        for (const hb::memory_region& r : loader_info.memory_map()) {
            reported.add(r.base, r.length);
            if (r.is_usable())
                ram.add(r.base, r.length);
        }
        have_map = ram.count > 0 && ram.holds(arena_address(), arena_address() + arena_bytes - 1);
    }
    if (!have_map) {  // only the arena is known to be RAM; only wrapping buffers are known to be outside
        ram.count = reported.count = 0;
        ram.add(arena_address(), arena_bytes);
    }
    const ranges& top = reported.count ? reported : ram;
    beyond = top.last[top.count - 1] == ~0ull ? ~0ull : top.last[top.count - 1] + 1;
}

bool parse_number(const char*& s, uint64_t& value)
{
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    uint64_t v = 0;
    bool any = false;
    for (;; ++s) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = unsigned(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = unsigned(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = unsigned(*s - 'A' + 10);
        else
            break;
        v = v * base + d;
        any = true;
    }
    if (any)
        value = v;
    return any && (*s == 0 || *s == ' ');
}

// seed=N calls=N seconds=N on the kernel command line. Its first word is the
// kernel's path (Multiboot loaders put it there), skipped when it has no '='.
void read_command_line(uint64_t& seed, uint64_t& calls, uint64_t& seconds, bool& calls_given)
{
    const mb::info* info = boot_info;
    if (!info || !(info->flags & mb::info_cmdline) || !info->cmdline)
        return;
    const char* s = reinterpret_cast<const char*>(uint64_t(info->cmdline));
    bool first = true;
    while (*s) {
        while (*s == ' ')
            ++s;
        if (!*s)
            break;
        bool has_equals = false;
        for (const char* t = s; *t && *t != ' '; ++t)
            has_equals = has_equals || *t == '=';
        struct {
            const char* key;
            uint64_t* value;
        } const keys[] = {{"seed=", &seed}, {"calls=", &calls}, {"seconds=", &seconds}};
        bool matched = false;
        for (const auto& k : keys) {
            unsigned n = 0;
            while (k.key[n] && s[n] == k.key[n])
                ++n;
            if (k.key[n] == 0) {
                const char* v = s + n;
                matched = parse_number(v, *k.value);
                calls_given = calls_given || (matched && k.value == &calls);
                break;
            }
        }
        if (!matched && !(first && !has_equals)) {
            line l;
            l.put("random calls: ignoring the kernel argument \"");
            for (unsigned n = 0; s[n] && s[n] != ' ' && n < 40; ++n)
                l.put(s[n]);
            note(l.put("\" (seed=N, calls=N and seconds=N are understood)").c_str());
        }
        first = false;
        while (*s && *s != ' ')
            ++s;
    }
}

void put_seconds(line& l, uint64_t ns)
{
    l.dec(ns / 1'000'000'000).put('.').dec(ns / 1'000'000 % 1000, 3).put(" s");
}

// Before the first call of each form that a host ignoring reserved bits would
// carry out (POWER.shutdown and POWER.reboot with reserved bits of the call word,
// or of an argument), a NOTE names it: if the run ends or restarts there, the log
// says why.
uint64_t announced;  // bit 2 * (function index) + (0: call word, 1: argument)

[[gnu::noinline, gnu::cold]] void announce(uint64_t index, const abi::function_desc* f, uint64_t word)
{
    const bool in_word = word & abi::call_reserved_mask;
    announced |= 1ull << (2 * uint64_t(f - abi::functions) + (in_word ? 0 : 1));
    line l;
    l.put("random calls: call ").dec(index).put(" is the first ");
    put_function(l, *f);
    l.put(in_word ? " with reserved call-word bits" : " with reserved argument bits");
    note(l.put(" set; a host that ignores them ends or restarts the run here").c_str());
}

[[gnu::always_inline]] inline void announce_final_calls(uint64_t index, const abi::function_desc* f, uint64_t word)
{
    if (!f || f->result != abi::result_kind::no_return)
        return;
    const uint64_t bit = 1ull << (2 * uint64_t(f - abi::functions) + ((word & abi::call_reserved_mask) ? 0 : 1));
    if (!(announced & bit))
        announce(index, f, word);
}

// The registers a call does not use get new values every clock_every calls.
void refresh_bystanders(xorshift64& rng)
{
    register_block& in = gate_probe.in;
    in.rbx = rng.next();
    in.rbp = rng.next();
    in.r10 = rng.next();
    in.r11 = rng.next();
    in.r12 = rng.next();
    in.r13 = rng.next();
    in.r14 = rng.next();
    in.r15 = rng.next();
}

struct run_result {
    uint64_t made;
    bool out_of_time;
    uint64_t last_ns;
};

// The loop: everything on the path of a call is inlined; failures go out of line.
[[gnu::noinline]] run_result run_calls(uint64_t seed, uint64_t calls, bool timed, uint64_t start_ns,
                                       uint64_t budget_ns)
{
    xorshift64 rng{seed};
    gate_probe.in.rdx = hb::detect().port;
    gate_probe.flags_mask = flags_kept;
    uint64_t made = 0, now_ns = start_ns;
    for (; made < calls; ++made) {
        if ((made & (clock_every - 1)) == 0) {
            if (timed && made) {
                now_ns = hb::time::monotonic_ns().value_or(now_ns);
                if (now_ns - start_ns >= budget_ns)
                    return {made, true, now_ns};
            }
            refresh_bystanders(rng);
        }
        uint64_t word = make_word(rng);
        const abi::function_desc* f = underlying(word);
        uint64_t a[abi::max_args];
        make_args(rng, f, a);
        make_safe(rng, f, word, a);
        announce_final_calls(made, f, word);

        register_block& in = gate_probe.in;
        in.rax = word;
        in.rdi = a[0];
        in.rsi = a[1];
        in.rcx = a[2];
        in.r8 = a[3];
        in.r9 = a[4];
        in.rflags = 0x2 | (rng.next() & flags_kept);
        const bool changed = checked_gate_call() != 0;
        const int64_t status = int64_t(gate_probe.out.rax);
        const uint64_t value = gate_probe.out.rdx;
        const hb::status got = hb::status(status);

        // HB-STS-001, HB-CALL-004, HB-CALL-002.
        if (!abi::is_spec_status(status))
            record_failure(rule_status, made, [](long_line& w) { w.put("not a status of the table"); });
        if (status != 0) {
            ++rules[rule_rdx].applied;
            if (value != 0)
                record_failure(rule_rdx, made, [](long_line& w) { w.put("RDX is not zero"); });
        }
        if (changed)
            registers_changed(made);

        // The check order of spec 2.1.
        const prediction p = predict(word, f, a);
        if (p.fixed_by != rule_count) {
            ++rules[p.fixed_by].applied;
            if (got != p.status && !(p.denied_ok && got == hb::status::denied))
                record_failure(p.fixed_by, made, [expected = p.status, denied_ok = p.denied_ok](long_line& w) {
                    w.put("expected ").put(abi::status_name(expected)).put(denied_ok ? " (or DENIED)" : "");
                });
        } else if (p.no_bad_address != rule_count) {
            ++rules[p.no_bad_address].applied;
            if (got == hb::status::invalid_address)
                record_failure(p.no_bad_address, made, [in_ram = p.no_bad_address == rule_address](long_line& w) {
                    w.put(in_ram ? "every buffer is in RAM" : "every buffer is empty");
                });
        }

        // Memory: nothing outside the out buffer changes; a refused call writes nothing.
        uint64_t from, to;
        out_buffer(f, a, from, to);
        const bool refused = refusal(got);
        if (refused && to)
            ++rules[rule_refused].applied;
        if (arena_changed())
            arena_written(made, from, to, refused);
    }
    return {made, false, now_ns};
}

}  // namespace

void run_checks()
{
    uint64_t seed = default_seed, calls = default_calls, seconds = default_seconds;
    bool calls_given = false;
    read_command_line(seed, calls, seconds, calls_given);
    if (seed == 0)
        seed = default_seed;  // xorshift's one fixed point
    learn_ram();
    learn_offered();

    // This image reboots only when a host carries out a POWER.reboot that must fail.
    const auto reason = hb::power::reset_reason();
    if (reason.ok() && reason.value == hb::abi::reset_guest_reboot) {
        check("HB-GEN-001", false,
              "random calls: the machine rebooted during the run, so a POWER.reboot with reserved call-word bits "
              "set took effect (the NOTE before the reboot names the call)");
        return;
    }

    const auto clock = hb::time::monotonic_ns();
    const bool timed = clock.ok() && seconds != 0;
    if (!clock.ok() && !calls_given && calls > calls_without_clock)
        calls = calls_without_clock;
    const uint64_t start_ns = clock.value_or(0);

    line l;
    l.put("random calls: seed ").hex(seed).put(", up to ").dec(calls).put(" calls");
    if (timed)
        l.put(" or ").dec(seconds).put(" s");
    else
        l.put(clock.ok() ? " (no time budget)" : " (no clock: TIME.monotonic_ns fails)");
    l.put("; POWER.shutdown and POWER.reboot only with reserved bits set");
    note(l.c_str());
    l.clear();
    if (have_map)
        l.put("random calls: RAM from the Multiboot memory map: ").dec(ram.count).put(" ranges, the map ends at ").hex(
            beyond);
    else
        l.put("random calls: no Multiboot memory map: only the arena is known RAM, only wrapping buffers outside");
    note(l.c_str());

    volatile uint64_t* words = arena;
    for (uint64_t w = 0; w < arena_words; ++w)
        words[w] = arena_pattern.w[w];

    const run_result run = run_calls(seed, calls, timed, start_ns, seconds * 1'000'000'000ull);
    const uint64_t end_ns = hb::time::monotonic_ns().value_or(run.last_ns);
    rules[rule_status].applied = rules[rule_registers].applied = rules[rule_arena].applied = run.made;

    l.clear();
    l.put("random calls: ").dec(run.made).put(" calls in ");
    put_seconds(l, end_ns - start_ns);
    if (run.made) {
        const uint64_t per_call = (end_ns - start_ns) / run.made;
        l.put(" (").dec(per_call / 1000).put('.').dec(per_call % 1000 / 10, 2).put(" us per call)");
    }
    if (run.out_of_time)
        l.put(", stopped by the time budget of ").dec(seconds).put(" s before ").dec(calls);
    l.put(", seed ").hex(seed);
    note(l.c_str());
    l.clear();
    l.put("random calls: calls each rule applied to:");
    for (const rule& r : rules)
        if (r.applied != run.made)
            l.put(' ').put(r.requirement).put(' ').dec(r.applied).put(',');
    note(l.put(" the others every call").c_str());
    for (const rule& r : rules)
        report(r);
}

}  // namespace conformance
