// BASE service (spec chapter 5) and the buffer rules of chapter 1.
#include "image.hpp"

namespace conformance {

namespace {

constexpr uint8_t fill = 0xA5;
alignas(16) uint8_t arena[512];  // buffer in the middle, guard bytes around it

void fill_arena()
{
    for (uint8_t& b : arena)
        b = fill;
}

bool arena_untouched(size_t from, size_t to)
{
    for (size_t i = from; i < to; ++i)
        if (arena[i] != fill)
            return false;
    return true;
}

}  // namespace

void run_checks()
{
    using fn = hb::abi::function;

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
    bool offered_ok = true, absent_ok = true;
    const uint32_t bitmap = hb::arch::cpuid(hb::detect().base_leaf + 2).eax;
    for (const hb::abi::service_desc& s : hb::abi::services) {
        auto r = hb::base::probe_service(s.id);
        const bool offered = (bitmap >> uint16_t(s.id)) & 1;
        offered_ok = offered_ok && r.ok() && (offered ? r.value >= 1 : r.value == 0);
    }
    for (uint16_t id : {uint16_t(31), uint16_t(0x0100), uint16_t(0x7FFF), uint16_t(0xFFFF)}) {
        auto r = hb::base::probe_service(hb::abi::service(id));
        absent_ok = absent_ok && r.ok() && r.value == 0;
    }
    check("HB-BASE-002", offered_ok, "probe_service reports a version of at least 1 for each offered service");
    check("HB-BASE-002", absent_ok, "probe_service reports 0 for IDs no service has");
    for (uint64_t bad : {1ull << 16, 1ull << 40, 1ull << 63}) {
        raw_result r = raw_call(fn::base_probe_service, bad | 1);
        check_status("HB-BASE-003", hb::result<uint64_t>{r.code(), 0}, hb::status::invalid_param,
                     "probe_service with a reserved bit of the ID set is INVALID_PARAM");
        check("HB-CALL-004", r.value == 0, "RDX is zero after INVALID_PARAM");
    }

    auto id1 = hb::base::impl_id(), id2 = hb::base::impl_id();
    check("HB-BASE-004", id1.ok() && id1.value != 0 && id2.value == id1.value, "get_impl_id is non-zero and stable");
    auto v1 = hb::base::impl_version(), v2 = hb::base::impl_version();
    check("HB-BASE-005", v1.ok() && v2.ok() && v1.value == v2.value, "get_impl_version succeeds and is stable");

    // get_impl_name: the length, then exact copies of prefixes.
    constexpr size_t at = 128;  // the buffer starts here in the arena
    fill_arena();
    raw_result length = raw_call(fn::base_get_impl_name, uint64_t(&arena[at]), 0);
    const size_t name_length = length.value;
    check("HB-BASE-006", length.code() == hb::status::success && name_length >= 1 && name_length <= 256 &&
                             arena_untouched(0, sizeof arena),
          "get_impl_name with length 0 reports the name's length and writes nothing");
    fill_arena();
    raw_result three = raw_call(fn::base_get_impl_name, uint64_t(&arena[at]), 3);
    check("HB-BASE-006", three.code() == hb::status::success && three.value == name_length &&
                             arena_untouched(0, at) && arena_untouched(at + (name_length < 3 ? name_length : 3), sizeof arena),
          "get_impl_name with a short buffer writes exactly that many bytes");
    uint8_t first[3] = {arena[at], arena[at + 1], arena[at + 2]};
    fill_arena();
    const size_t roomy = name_length + 16 < 300 ? name_length + 16 : 300;
    raw_result whole = raw_call(fn::base_get_impl_name, uint64_t(&arena[at]), roomy);
    check("HB-BASE-006", whole.code() == hb::status::success && whole.value == name_length &&
                             arena_untouched(0, at) && arena_untouched(at + name_length, sizeof arena) &&
                             first[0] == arena[at] && first[1] == arena[at + 1] && first[2] == arena[at + 2],
          "get_impl_name with a large buffer writes the name and nothing after it, the same name each time");
    check("HB-GEN-005", arena_untouched(0, at), "the host writes no byte before an out buffer");

    // BASE is always there and never denied.
    check("HB-BASE-007", (bitmap & 1) && offered_ok, "BASE is offered (bit 0 of the services leaf)");

    // Buffers (chapter 1.4), through get_impl_name.
    const uint64_t end = ram_end;
    if (end == 0) {
        skip("HB-GEN-003", "buffers outside RAM are INVALID_ADDRESS", "the boot loader reported no memory size");
    } else {
        struct {
            uint64_t address, length;
            const char* what;
        } const bad[] = {
            {end, 16, "a buffer starting at the end of RAM"},
            {end - 8, 16, "a buffer straddling the end of RAM"},
            {end + 0x100000000ull, 16, "a buffer 4 GiB past RAM"},
            {~0ull - 7, 16, "a buffer whose end wraps past 2^64"},
            {0x1000, ~0ull, "a length of 2^64 - 1"},
            {0x1000, ~0ull - 0xFFF + 1, "an address + length that wraps to exactly 0"},
        };
        for (const auto& b : bad) {
            raw_result r = raw_call(fn::base_get_impl_name, b.address, b.length);
            line d;
            d.put("get_impl_name with ").put(b.what).put(" is INVALID_ADDRESS");
            check_status("HB-GEN-003", hb::result<uint64_t>{r.code(), 0}, hb::status::invalid_address, d.c_str());
            check("HB-CALL-004", r.value == 0, "RDX is zero after INVALID_ADDRESS");
        }
        // The part of a straddling buffer inside RAM must be untouched (no partial copy).
        volatile uint8_t* last = reinterpret_cast<volatile uint8_t*>(end - 8);
        for (int i = 0; i < 8; ++i)
            last[i] = fill;
        raw_result r = raw_call(fn::base_get_impl_name, end - 8, 16);
        bool untouched = true;
        for (int i = 0; i < 8; ++i)
            untouched = untouched && last[i] == fill;
        check("HB-CALL-005", r.code() == hb::status::invalid_address && untouched,
              "a call refused with INVALID_ADDRESS writes nothing, even inside RAM");
    }
    raw_result empty = raw_call(fn::base_get_impl_name, ~0ull, 0);
    check("HB-GEN-004", empty.code() == hb::status::success && empty.value == name_length,
          "a zero-length buffer at an impossible address is accepted");
}

}  // namespace conformance
