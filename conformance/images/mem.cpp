// MEM service (spec chapter 10): the memory map as a result record, its order
// and types, and that it tells the same truth as the boot protocol's map.
#include "image.hpp"

namespace conformance {

namespace {

namespace abi = hb::abi;

constexpr uint8_t fill = 0xA7;
alignas(16) uint8_t map_area[4096 + 64];  // the map, then guard bytes
constexpr size_t map_room = 4096;

void fill_area()
{
    for (uint8_t& b : map_area)
        b = fill;
}

bool untouched(size_t from, size_t to)
{
    for (size_t i = from; i < to; ++i)
        if (map_area[i] != fill)
            return false;
    return true;
}

struct span_of_ranges {
    uint64_t base[64], end[64];
    size_t count = 0;
    void add(uint64_t b, uint64_t e)
    {
        if (count < 64 && e > b) {
            base[count] = b;
            end[count] = e;
            ++count;
        }
    }
    // True when [b, e) lies inside the union of the (sorted) ranges.
    bool covers(uint64_t b, uint64_t e) const
    {
        uint64_t at = b;
        for (size_t i = 0; i < count && at < e; ++i)
            if (base[i] <= at && at < end[i])
                at = end[i];
        return at >= e;
    }
    bool touches(uint64_t b, uint64_t e) const
    {
        for (size_t i = 0; i < count; ++i)
            if (base[i] < e && b < end[i])
                return true;
        return false;
    }
};

}  // namespace

void run_checks()
{
    using fn = abi::function;

    // Sizing: length 0 at an impossible address writes nothing and reports the size.
    const raw_result sized = raw_call(fn::mem_get_map, ~0ull, 0);
    const uint64_t size = sized.value;
    check("HB-MEM-001", sized.code() == hb::status::success && size >= sizeof(abi::mem_map_header),
          "get_map with length 0 returns SUCCESS and the size of the whole map");
    if (sized.code() != hb::status::success || size < sizeof(abi::mem_map_header) || size > map_room) {
        check("HB-MEM-001", false, "the map fits in 4 KiB for this test", "size out of range");
        return;
    }

    // The whole map, and exactly that many bytes.
    fill_area();
    const raw_result whole = raw_call(fn::mem_get_map, uint64_t(map_area), map_room);
    check("HB-MEM-001", whole.code() == hb::status::success && whole.value == size && untouched(size, sizeof map_area),
          "get_map into a large buffer writes the map and no byte after it");

    // A short buffer gets the start of the same map, and nothing past its length.
    static uint8_t first_bytes[4096];
    for (size_t i = 0; i < size; ++i)
        first_bytes[i] = map_area[i];
    bool prefixes_ok = true;
    for (uint64_t length : {uint64_t(1), uint64_t(15), uint64_t(16), uint64_t(17), size - 1}) {
        fill_area();
        const raw_result r = raw_call(fn::mem_get_map, uint64_t(map_area), length);
        bool same = r.code() == hb::status::success && r.value == size && untouched(length, sizeof map_area);
        for (size_t i = 0; i < length && same; ++i)
            same = map_area[i] == first_bytes[i];
        prefixes_ok = prefixes_ok && same;
    }
    check("HB-MEM-001", prefixes_ok, "get_map into a short buffer writes exactly the map's first bytes");

    // The same map every time (HB-MEM-004).
    fill_area();
    raw_call(fn::mem_get_map, uint64_t(map_area), map_room);
    bool stable = true;
    for (size_t i = 0; i < size; ++i)
        stable = stable && map_area[i] == first_bytes[i];
    check("HB-MEM-004", stable, "get_map returns the same map on every call");

    // The record: header and entries (HB-MEM-002).
    abi::mem_map_header header;
    __builtin_memcpy(&header, first_bytes, sizeof header);
    const bool header_ok = header.header_size >= sizeof header && header.version >= 1 &&
                           header.entry_size >= sizeof(abi::mem_region) &&
                           uint64_t(header.header_size) + uint64_t(header.entry_count) * header.entry_size == size &&
                           header.reserved0 == 0;
    line why;
    why.put("header_size ").dec(header.header_size).put(" version ").dec(header.version).put(" entry_size ").dec(
        header.entry_size).put(" entry_count ").dec(header.entry_count).put(", map ").dec(size).put(" bytes");
    check("HB-MEM-002", header_ok, "the header's sizes add up to the map's size, its reserved field is zero",
          why.c_str());
    if (!header_ok)
        return;

    span_of_ranges usable, not_usable;
    bool sorted = true, types_ok = true, lengths_ok = true, reserved_ok = true;
    uint64_t previous_end = 0;
    for (size_t i = 0; i < header.entry_count; ++i) {
        abi::mem_region r;  // the wire layout, reserved field included
        __builtin_memcpy(&r, first_bytes + header.header_size + i * header.entry_size, sizeof r);
        sorted = sorted && r.base >= previous_end;
        previous_end = r.base + r.length;
        lengths_ok = lengths_ok && r.length != 0 && r.base + r.length > r.base;
        types_ok = types_ok && (r.type == abi::mem_type::usable || r.type == abi::mem_type::reserved ||
                                r.type == abi::mem_type::hyperbios);
        reserved_ok = reserved_ok && r.reserved0 == 0;
        (r.type == abi::mem_type::usable ? usable : not_usable).add(r.base, r.base + r.length);
    }
    size_t through_library = 0;  // the library's iterator sees the same entries
    for (const hb::mem::region r : hb::mem::regions(first_bytes, size))
        through_library += r.length != 0;
    check("HB-MEM-002", through_library == header.entry_count, "the guest library iterates every entry");
    check("HB-MEM-002", sorted, "entries are sorted by base and do not overlap");
    check("HB-MEM-002", lengths_ok, "every entry has a non-zero length that does not wrap");
    check("HB-MEM-002", types_ok, "every entry's type is usable, reserved or hyperbios");
    check("HB-MEM-002", reserved_ok, "every entry's reserved field is zero");

    // The same truth as the boot protocol's map (HB-MEM-003).
    if (!loader_info.memory_map_from_loader()) {
        check("HB-MEM-003", false, "the map agrees with the boot protocol's",
              "the boot loader passed no memory map to compare with");
        return;
    }
    bool ram_is_usable = true, usable_is_ram = true, reserved_not_usable = true;
    span_of_ranges boot_ram;
    for (const hb::memory_region& r : loader_info.memory_map()) {
        if (r.is_usable()) {
            boot_ram.add(r.base, r.end());
            ram_is_usable = ram_is_usable && usable.covers(r.base, r.end());
        } else {
            reserved_not_usable = reserved_not_usable && !usable.touches(r.base, r.end());
        }
    }
    for (size_t i = 0; i < usable.count; ++i)
        usable_is_ram = usable_is_ram && boot_ram.covers(usable.base[i], usable.end[i]);
    check("HB-MEM-003", ram_is_usable, "every range the boot protocol reports as RAM is usable in the MEM map");
    check("HB-MEM-003", usable_is_ram, "every usable range of the MEM map is RAM in the boot protocol's map");
    check("HB-MEM-003", reserved_not_usable, "no range the boot protocol reports as reserved is usable in the MEM map");
}

}  // namespace conformance
