// BASE service (spec chapter 5) and the buffer rules of chapter 1.
#include "hostile_buffers.hpp"
#include "image.hpp"
#include "ram_fingerprint.hpp"

extern "C" char __hyperbios_load_start[], __hyperbios_bss_end[];  // the image, from the linker script

namespace conformance {

namespace {

using fn = hb::abi::function;

constexpr uint8_t fill = 0xA5;
// get_impl_name's buffer lies at `name_at`, with guard bytes around it. 4 KiB
// leaves room for a name of a few kilobytes; the spec sets no limit, so a
// longer name is tested through its first bytes (min(length, L) is what a
// buffer shorter than the name receives).
constexpr size_t name_at = 256;
alignas(4096) uint8_t arena[4096];

void fill_arena()
{
    for (uint8_t& b : arena)
        b = fill;
}

bool arena_untouched(size_t from, size_t to)
{
    for (size_t i = from; i < to && i < sizeof arena; ++i)
        if (arena[i] != fill)
            return false;
    return true;
}

// ---------------------------------------------------------------------------
// HB-GEN-005 over all of RAM.
// ---------------------------------------------------------------------------

// The out buffers of the batch, each followed by a gap the fingerprint covers,
// so that writing one byte past a buffer changes it.
alignas(4096) uint8_t out_area[3 * 4096];
// A buffer the batch names but that must never be written: the in-RAM address of
// refused calls (hostile lengths, unknown functions).
alignas(64) uint8_t never_written[256];
// The two fingerprints: the check writes them, so they are excluded.
ram_digest digest_before, digest_after;

struct batch_call {
    uint64_t call, a0, a1;
    bool a0_is_out_buffer;  // a0/a1 is an out buffer the host may write
};

constexpr size_t batch_capacity = 64;

struct batch {
    batch_call calls[batch_capacity];
    size_t count = 0;
    size_t out_used = 0;  // bytes of out_area given out, gaps included

    void add(uint64_t call, uint64_t a0 = 0, uint64_t a1 = 0) { add_call({call, a0, a1, false}); }

    // An out buffer of `length` bytes, 64 bytes after the previous one.
    void add_with_out_buffer(uint64_t call, uint64_t length)
    {
        if (length > sizeof out_area - 64 - out_used)
            return;  // a bogus name length: the other lengths still test the rule
        add_call({call, uint64_t(&out_area[out_used]), length, true});
        out_used += (length + 64 + 7) & ~7ull;
    }

    void add_call(const batch_call& c)
    {
        if (count < batch_capacity)
            calls[count++] = c;
    }
};

// Every call of the batch, in one fingerprint pair: calls with out buffers of
// many lengths (get_impl_name, console.read), calls without buffers, and calls
// that must be refused (hostile buffers, unknown IDs, reserved bits) naming
// memory the fingerprint covers.
batch make_batch(size_t name_length)
{
    batch b;
    const uint64_t name_lengths[] = {0, 1, 3, name_length ? name_length - 1 : 0, name_length, name_length + 16, 1000};
    for (uint64_t length : name_lengths)
        b.add_with_out_buffer(uint64_t(fn::base_get_impl_name), length);
    for (uint64_t length : {uint64_t(1), uint64_t(64), uint64_t(512)})
        b.add_with_out_buffer(uint64_t(fn::console_read), length);

    for (const hb::abi::function_desc& f : hb::abi::functions)
        if (hb::abi::arity(f.call) == 0 && f.result != hb::abi::result_kind::no_return)
            b.add(uint64_t(f.call));
    for (const hb::abi::service_desc& s : hb::abi::services)
        b.add(uint64_t(fn::base_probe_service), uint64_t(s.id));
    b.add(uint64_t(fn::base_probe_service), hb::abi::unassigned_service_first);
    b.add(uint64_t(fn::base_probe_service), 1ull << 16);  // INVALID_PARAM

    hostile_buffer hostile[hostile_buffer_count];
    const size_t n = hostile_buffers(ram_end, uint64_t(never_written), hostile);
    for (size_t i = 0; i < n; ++i) {
        b.add(uint64_t(fn::base_get_impl_name), hostile[i].address, hostile[i].length);
        b.add(uint64_t(fn::console_read), hostile[i].address, hostile[i].length);
    }
    // Refused before any buffer is looked at: an unknown service, an unknown
    // function of BASE, reserved call-word bits, each with arguments that look
    // like a buffer the fingerprint covers.
    const uint64_t looks_like_buffer = uint64_t(never_written);
    b.add(hb::abi::make_call(hb::abi::unassigned_service_first, 4), looks_like_buffer, sizeof never_written);
    b.add(hb::abi::make_call(0, hb::abi::unassigned_function_first), looks_like_buffer, sizeof never_written);
    b.add(uint64_t(fn::base_get_impl_name) | (1ull << 32), looks_like_buffer, sizeof never_written);
    b.add(uint64_t(fn::console_read) | (1ull << 32), looks_like_buffer, sizeof never_written);
    return b;
}

// Kept out of line so that the stack range below covers its frame and those of
// everything it calls.
[[gnu::noinline]] void check_ram_untouched_by_calls(size_t name_length)
{
    if (ram_end == 0) {
        skip("HB-GEN-005", "a batch of calls writes no byte of RAM outside their out buffers",
             "the boot loader reported no memory size");
        return;
    }
    const batch b = make_batch(name_length);

    // Excluded: the out buffers as passed, the stack of this function and its
    // callees, the page tables (the CPU sets accessed and dirty bits there), and
    // the digests this check writes.
    byte_range excluded[batch_capacity + 8];
    size_t n = 0;
    for (size_t i = 0; i < b.count; ++i)
        if (b.calls[i].a0_is_out_buffer)
            excluded[n++] = {b.calls[i].a0, b.calls[i].a0 + b.calls[i].a1};
    // The stack: this function's frame (a few KiB: the batch, this list, the
    // range list) lies above the stack pointer, its callees' frames below.
    excluded[n++] = stack_range(16 * 1024, __builtin_frame_address(0));
    byte_range tables[4];
    for (size_t i = 0, count = page_table_ranges(tables); i < count; ++i)
        excluded[n++] = tables[i];
    excluded[n++] = {uint64_t(&digest_before), uint64_t(&digest_before) + sizeof digest_before};
    excluded[n++] = {uint64_t(&digest_after), uint64_t(&digest_after) + sizeof digest_after};

    const bool page_zero_was_mapped = map_page_zero();
    const range_list covered = without(reported_ram(), excluded, n);

    const uint64_t started = hb::time::monotonic_ns().value_or(0);
    fingerprint(covered, digest_before);
    for (size_t i = 0; i < b.count; ++i)
        (void)raw_call(b.calls[i].call, b.calls[i].a0, b.calls[i].a1);
    fingerprint(covered, digest_after);
    const uint64_t ended = hb::time::monotonic_ns().value_or(0);
    unmap_page_zero(page_zero_was_mapped);

    line what;
    what.put("whole RAM: ").dec(covered.bytes() / 1024).put(" KiB in ").dec(covered.count).put(
        " ranges fingerprinted around ").dec(b.count).put(" calls in ").dec((ended - started) / 1000000).put(" ms");
    note(what.c_str());
    const size_t changed = first_changed_chunk(digest_before, digest_after);
    line why;
    const uint64_t chunk = digest_after.chunk_size;
    why.put("RAM changed in [").hex(changed * chunk).put(", ").hex((changed + 1) * chunk).put(")");
    check("HB-GEN-005", changed == digest_count && !covered.overflowed,
          "a batch of calls (get_impl_name and console.read with out buffers of many lengths, calls without "
          "buffers, refused calls) writes no byte of RAM outside their out buffers",
          covered.overflowed ? "the memory map has too many ranges to cover" : why.c_str());
}

// ---------------------------------------------------------------------------
// Appendix B: the boot protocol and its memory map (HB-BOOT-001, HB-BOOT-002).
// ---------------------------------------------------------------------------

// Writes a pattern to the 8 bytes at `address` and reads it back, then puts back
// what was there: interrupts are off and nothing else runs, so even a word of
// the loader's structures is only borrowed.
bool read_write_restore(uint64_t address)
{
    volatile uint64_t* word = reinterpret_cast<volatile uint64_t*>(uintptr_t(address));
    const uint64_t was = *word;
    *word = ~was;
    const bool flipped = *word == ~was;
    *word = was;
    return flipped && *word == was;
}

void check_boot_protocol()
{
    using hb::boot::protocol;
    const protocol how = loader_info.loader_protocol();
    bool map = false;
    line which;
    if (how == protocol::multiboot) {
        const auto* mb = loader_info.multiboot_info();
        map = mb && (mb->flags & hb::multiboot::info_memory_map) && mb->mmap_length != 0 &&
              loader_info.memory_map_from_loader();
        which.put("Multiboot, flags ").hex(mb ? mb->flags : 0).put(map ? "" : ": no memory map (flags bit 6)");
    } else if (how == protocol::pvh) {
        const auto* pvh = loader_info.pvh_start_info();
        map = pvh && pvh->version >= 1 && pvh->memmap_entries != 0 && loader_info.memory_map_from_loader();
        which.put("PVH, hvm_start_info version ").dec(pvh ? pvh->version : 0).put(map ? "" : ": no memory map");
    } else {
        which.put("neither Multiboot nor PVH: the entry's magic matched no protocol");
    }
    check("HB-BOOT-001", map, "the guest was started through Multiboot or PVH, with that protocol's memory map",
          which.c_str());
    if (!map)
        return;

    const auto ranges = loader_info.memory_map();  // sorted by base
    bool disjoint = true;
    line overlap;
    for (size_t i = 1; i < ranges.size() && disjoint; ++i)
        if (ranges[i].base < ranges[i - 1].end()) {
            disjoint = false;
            overlap.put("[").hex(ranges[i - 1].base).put(", ").hex(ranges[i - 1].end()).put(") and [").hex(
                ranges[i].base).put(", ").hex(ranges[i].end()).put(")");
        }
    check("HB-BOOT-002", disjoint && !loader_info.truncated(),
          "the boot protocol's memory map has no overlapping entries", overlap.c_str());

    // Every available range is RAM the guest can read and write: its first and
    // last word and one word in every MiB (the image itself is left alone), as
    // far as the boot stub's identity map reaches (all RAM the map reports,
    // unless there is more than its page tables hold).
    const uint64_t image_start = uint64_t(uintptr_t(__hyperbios_load_start));
    const uint64_t image_end = uint64_t(uintptr_t(__hyperbios_bss_end));
    const uint64_t mapped = hb::boot::identity_map_end();
    constexpr uint64_t MiB = 1 << 20;
    bool usable = true, cut = false;
    unsigned probed = 0;
    line bad;
    for (const hb::memory_region& r : ranges) {
        if (!r.is_usable() || r.length < 8)
            continue;
        // The boot stub leaves page 0 unmapped, to catch null pointers: from 4 KiB up.
        const uint64_t from = r.base < 4096 ? 4096 : r.base;
        const uint64_t end = r.end() < mapped ? r.end() : mapped;
        cut = cut || end < r.end();
        if (from >= end || end - from < 8)
            continue;
        const uint64_t first = (from + 7) & ~7ull, last = (end - 8) & ~7ull;
        for (uint64_t at = first; usable;) {
            if (at + 8 <= image_start || at >= image_end) {
                ++probed;
                if (!read_write_restore(at)) {
                    usable = false;
                    bad.put("the word at ").hex(at).put(" of the available range [").hex(r.base).put(", ").hex(
                        r.end()).put(") does not keep what is written");
                }
            }
            if (at >= last)
                break;
            const uint64_t next_mib = (at | (MiB - 1)) + 1;
            at = next_mib < last ? next_mib : last;
        }
    }
    line what;
    what.put("every range the map reports as available is RAM the guest reads and writes (").dec(probed).put(
        " words: each range's first and last, one per MiB");
    if (cut)
        what.put("; none from ").hex(mapped).put(" up, past the boot stub's identity map");
    what.put(")");
    check("HB-BOOT-002", usable, what.c_str(), bad.c_str());
}

}  // namespace

void run_checks()
{
    check_boot_protocol();

    // Identity, for the certificate.
    char name[200];
    if (hb::base::impl_name(name, sizeof name).ok())
        info("impl-name", name);
    info("impl-id", hb::base::impl_id().value);
    info("impl-version", hb::base::impl_version().value);
    info("vendor", hb::detect().vendor);
    line spec;
    spec.dec(hb::abi::version_major(hb::detect().interface_version)).put('.').dec(
        hb::abi::version_minor(hb::detect().interface_version));
    info("spec-version", spec.c_str());

    auto version = hb::base::spec_version();
    check("HB-BASE-001", version.ok() && hb::abi::version_major(version.value) == hb::abi::version_major(hb::abi::spec_version),
          "get_spec_version returns SUCCESS and this major version");

    // probe_service: offered services report their version, everything else 0.
    // "Everything else" is taken from the IDs never assigned to anything (spec
    // 1.5), so that a later version or a vendor extension offering more
    // services still passes.
    bool offered_ok = true, absent_ok = true;
    const uint32_t bitmap = hb::arch::cpuid(hb::detect().base_leaf + 2).eax;
    for (const hb::abi::service_desc& s : hb::abi::services) {
        auto r = hb::base::probe_service(s.id);
        const bool offered = (bitmap >> uint16_t(s.id)) & 1;
        offered_ok = offered_ok && r.ok() && (offered ? r.value >= 1 : r.value == 0);
    }
    constexpr uint16_t unassigned = hb::abi::unassigned_service_first;
    for (uint16_t id : {unassigned, uint16_t(unassigned + 1), uint16_t(unassigned + 0x0ABC), uint16_t(0xFFFE),
                        uint16_t(0xFFFF)}) {
        auto r = hb::base::probe_service(hb::abi::service(id));
        absent_ok = absent_ok && r.ok() && r.value == 0;
    }
    check("HB-BASE-002", offered_ok, "probe_service reports a version of at least 1 for each offered service");
    check("HB-BASE-002", absent_ok, "probe_service reports 0 for IDs never assigned to a service");
    for (uint64_t bad : {1ull << 16, 1ull << 40, 1ull << 63}) {
        raw_result r = raw_call(fn::base_probe_service, bad | 1);
        check_status("HB-BASE-003", hb::result<uint64_t>{r.code(), 0}, hb::status::invalid_param,
                     "probe_service with a reserved bit of the ID set is INVALID_PARAM");
        check("HB-CALL-004", r.value == 0, "RDX is zero after INVALID_PARAM");
    }

    auto id1 = hb::base::impl_id(), id2 = hb::base::impl_id();
    {
        line why;
        why.put("first ").hex(id1.value).put(", then ").hex(id2.value);
        check("HB-BASE-004", id1.ok() && id2.ok() && id2.value == id1.value,
              "get_impl_id succeeds and is stable", why.c_str());
        check("HB-BASE-004", id1.ok() && hb::abi::is_implementation_id(id1.value),
              "get_impl_id is a registered ID (1 to 0xFFFF) or a private one (bit 63 set), never 0 or reserved",
              why.c_str());
    }
    auto v1 = hb::base::impl_version(), v2 = hb::base::impl_version();
    check("HB-BASE-005", v1.ok() && v2.ok() && v1.value == v2.value, "get_impl_version succeeds and is stable");

    // get_impl_name: the length, then exact copies of prefixes. The spec sets no
    // upper bound on the name's length.
    fill_arena();
    raw_result length = raw_call(fn::base_get_impl_name, uint64_t(&arena[name_at]), 0);
    const size_t name_length = length.value;
    check("HB-BASE-006", length.code() == hb::status::success && name_length >= 1 && arena_untouched(0, sizeof arena),
          "get_impl_name with length 0 reports the name's length and writes nothing");
    const size_t short_length = name_length < 3 ? name_length : 3;
    fill_arena();
    raw_result three = raw_call(fn::base_get_impl_name, uint64_t(&arena[name_at]), 3);
    check("HB-BASE-006", three.code() == hb::status::success && three.value == name_length &&
                             arena_untouched(0, name_at) && arena_untouched(name_at + short_length, sizeof arena),
          "get_impl_name with a short buffer writes exactly that many bytes");
    uint8_t first[3] = {arena[name_at], arena[name_at + 1], arena[name_at + 2]};
    fill_arena();
    constexpr size_t room = sizeof arena - name_at - 16;  // 16 guard bytes stay after the largest buffer
    const size_t roomy = name_length + 16 < room ? name_length + 16 : room;
    const size_t copied = name_length < roomy ? name_length : roomy;
    raw_result whole = raw_call(fn::base_get_impl_name, uint64_t(&arena[name_at]), roomy);
    bool same_start = true;
    for (size_t i = 0; i < short_length; ++i)
        same_start = same_start && first[i] == arena[name_at + i];
    check("HB-BASE-006", whole.code() == hb::status::success && whole.value == name_length &&
                             arena_untouched(0, name_at) && arena_untouched(name_at + copied, sizeof arena) &&
                             same_start,
          "get_impl_name with a large buffer writes the name and nothing after it, the same name each time");

    // BASE is always there and never denied.
    check("HB-BASE-007", (bitmap & 1) && offered_ok, "BASE is offered (bit 0 of the services leaf)");

    // permitted_functions (5.7): 0 for a service not offered, for an offered one
    // only bits of functions the host implements (BASE's all set, HB-BASE-007),
    // the same at every call. The driver compares the sets with a profile's
    // DENIED functions (INFO permitted).
    if (hb::detect().interface_version >= hb::abi::make_version(0, 9)) {
        for (const hb::abi::service_desc& svc : hb::abi::services) {
            const raw_result a = raw_call(fn::base_permitted_functions, uint64_t(svc.id));
            const raw_result b = raw_call(fn::base_permitted_functions, uint64_t(svc.id));
            const auto probe = hb::base::probe_service(svc.id);
            const bool offered = probe.ok() && probe.value != 0;
            uint64_t implemented = 0;
            for (const hb::abi::function_desc& f : hb::abi::functions)
                if (f.svc == svc.id && f.since <= hb::detect().interface_version && f.id < 64)
                    implemented |= uint64_t(1) << f.id;
            line what, why;
            what.put("permitted_functions(").put(svc.name).put(offered ? ") names only functions the host implements"
                                                                       : ") is 0: the service is not offered");
            if (svc.id == hb::abi::service::base)
                what.put(", all of BASE's");
            why.put(hb::abi::status_name(a.code())).put(" ").hex(a.value, 16).put(", then ").hex(b.value, 16);
            const bool ok = a.code() == hb::status::success && b.code() == hb::status::success && a.value == b.value &&
                            (offered ? (a.value & ~implemented) == 0 : a.value == 0) &&
                            (svc.id != hb::abi::service::base || a.value == implemented);
            check("HB-BASE-008", ok, what.c_str(), why.c_str());
            if (offered && a.code() == hb::status::success)
                info(line().put("permitted-").put(svc.name).c_str(), a.value);
        }
        for (uint64_t id : {uint64_t(0x7FFF), uint64_t(0xC000), uint64_t(0xFFFF)}) {
            const raw_result r = raw_call(fn::base_permitted_functions, id);
            check("HB-BASE-008", r.code() == hb::status::success && r.value == 0,
                  line().put("permitted_functions(").hex(id, 4).put(") of an unknown service is 0").c_str());
        }
        bool limited = false;
        for (const hb::abi::function_desc& f : hb::abi::functions) {
            const raw_result a = raw_call(fn::base_rate_limit, uint64_t(f.call));
            const raw_result b = raw_call(fn::base_rate_limit, uint64_t(f.call));
            check("HB-BASE-010", a.code() == hb::status::success && a.value == b.value,
                  line().put("rate_limit(").put(f.service_name).put(".").put(f.name).put(") is the same at every call").c_str());
            if (a.code() == hb::status::success && a.value != 0) {
                info(line().put("rate-").put(f.service_name).put(".").put(f.name).c_str(), a.value);
                limited = true;
                // Only DSP.present's limit is measured (the dsp image); a limit
                // elsewhere is a behaviour no check reaches yet.
                if (f.call != fn::dsp_present)
                    not_tested("HB-BASE-011",
                               line().put("the rate limit on ").put(f.service_name).put(".").put(f.name).c_str(),
                               "only the limit on dsp.present is measured by this suite");
            }
        }
        if (!limited)
            skip("HB-BASE-011", "a rate limit", "the host may set none: rate_limit answers 0 for every function");
    } else {
        skip("HB-BASE-008", "permitted_functions", "the host may implement a version before 0.9, which has no permitted_functions");
        skip("HB-BASE-010", "rate_limit", "the host may implement a version before 0.9, which has no rate_limit");
        skip("HB-BASE-011", "a rate limit", "the host may implement a version before 0.9, which has no rate_limit");
    }

    // Buffers (chapter 1.4), through get_impl_name, from the shared list.
    hostile_buffer hostile[hostile_buffer_count];
    const size_t hostile_count = hostile_buffers(ram_end, uint64_t(&arena[name_at]), hostile);
    if (ram_end == 0)
        skip("HB-GEN-003", "buffers at or past the end of RAM are INVALID_ADDRESS",
             "the boot loader reported no memory size");
    for (size_t i = 0; i < hostile_count; ++i) {
        raw_result r = raw_call(fn::base_get_impl_name, hostile[i].address, hostile[i].length);
        line d;
        d.put("get_impl_name with ").put(hostile[i].what).put(" is INVALID_ADDRESS");
        check_status("HB-GEN-003", hb::result<uint64_t>{r.code(), 0}, hb::status::invalid_address, d.c_str());
        check("HB-CALL-004", r.value == 0, "RDX is zero after INVALID_ADDRESS");
    }
    // The end of the highest RAM the image can reach: RAM's end, or where the
    // boot stub's identity map ends if RAM goes on past it (the end of a range
    // below that, with no RAM after it).
    uint64_t reachable_end = ram_end;
    if (ram_end > hb::boot::identity_map_end()) {
        reachable_end = 0;
        for (const hb::memory_region& r : loader_info.memory_map())
            if (r.is_usable() && r.length >= 8 && r.end() <= hb::boot::identity_map_end() &&
                !loader_info.is_ram(r.end(), 1) && r.end() > reachable_end)
                reachable_end = r.end();
    }
    if (reachable_end != 0) {
        // The part of a straddling buffer inside RAM must be untouched (no partial copy).
        volatile uint8_t* last = reinterpret_cast<volatile uint8_t*>(reachable_end - 8);
        for (int i = 0; i < 8; ++i)
            last[i] = fill;
        raw_result r = raw_call(fn::base_get_impl_name, reachable_end - 8, 16);
        bool untouched = true;
        for (int i = 0; i < 8; ++i)
            untouched = untouched && last[i] == fill;
        check("HB-CALL-005", r.code() == hb::status::invalid_address && untouched,
              "a call refused with INVALID_ADDRESS writes nothing, even inside RAM");
    }
    raw_result empty = raw_call(fn::base_get_impl_name, ~0ull, 0);
    check("HB-GEN-004", empty.code() == hb::status::success && empty.value == name_length,
          "a zero-length buffer at an impossible address is accepted");

    check_ram_untouched_by_calls(name_length);
}

}  // namespace conformance
