// RAM above 4 GiB, and the hole below it: the boot stub's identity map reaches
// the end of RAM the loader's memory map reports; a pattern written at the last
// bytes of every RAM range above the image (the last bytes below the hole, the
// very end of RAM) and at the first bytes of every range from 4 GiB up (just
// above 4 GiB) reads back, each place its own memory. With a HyperBIOS host too:
// MEM's map is the loader's (HB-MEM-003), a buffer in the hole or reaching into
// it is INVALID_ADDRESS, and one in RAM above 4 GiB, up to its very end, is
// served. Touches a few pages only, so that a guest of many GiB costs the host
// little memory.
//
// "INFO" lines give the maps and the identity map's end, for
// test_high_memory.py to compare with what the machine was given; "PASS
// name" / "FAIL name (detail)" one check each, on the debug console. Ends with 0
// when every check passed, 1 otherwise; without a HyperBIOS host (QEMU) with
// the emulator's exit and 3, or 4 on a failure.
#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot.hpp>
#include <hyperbios/hyperbios.hpp>

namespace hb = hyperbios;

extern "C" char __hyperbios_bss_end[];

namespace {

constexpr uint64_t gib = 1ull << 30;
constexpr uint64_t four_gib = 4 * gib;

hb::boot::boot_info boot;
alignas(8) unsigned char mem_map[4096];
bool all_passed = true;

void report(bool ok, const char* name, const char* detail = "")
{
    if (ok)
        hb::printf("PASS %s\n", name);
    else
        hb::printf("FAIL %s (%s)\n", name, detail);
    all_passed = all_passed && ok;
}

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

// The places a pattern goes, each 16 bytes.
struct spot {
    uint64_t address;
    const char* what;
};
spot spots[2 * hb::boot::max_memory_ranges];
size_t spot_count = 0;

uint64_t pattern(uint64_t address, int word)
{
    return (address * 0x9E3779B97F4A7C15ull) ^ (0xA5A5'0000'0000'5A5Aull + uint64_t(word));
}

void touch_ram(uint64_t mapped)
{
    const uint64_t image_end = uint64_t(uintptr_t(__hyperbios_bss_end));
    for (const hb::memory_region& r : boot.memory_map()) {
        if (!r.is_usable() || r.end() <= image_end + 16)
            continue;  // below the image: the loader's structures, the host's pages
        if (r.base >= mapped) {
            hb::printf("INFO not mapped: RAM at %#llx, past the identity map\n", ull(r.base));
            continue;
        }
        const uint64_t end = r.end() < mapped ? r.end() : mapped;
        const char* what = end < r.end()                 ? "the end of the identity map, inside RAM"
                           : r.end() == boot.ram_end() ? "the very end of RAM"
                           : r.end() <= four_gib       ? "the end of RAM below the hole"
                                                       : "the end of a RAM range";
        spots[spot_count++] = {end - 16, what};
        if (r.base >= four_gib && r.base >= image_end)
            spots[spot_count++] = {r.base,
                                   r.base == four_gib ? "the start of RAM at 4 GiB" : "the start of a RAM range"};
    }
    // Every place written first, then every place read: places that were the
    // same memory (a host mapping two ranges onto one) show as a wrong value.
    for (size_t i = 0; i < spot_count; ++i) {
        auto* p = reinterpret_cast<volatile uint64_t*>(uintptr_t(spots[i].address));
        p[0] = pattern(spots[i].address, 0);
        p[1] = pattern(spots[i].address, 1);
    }
    for (size_t i = 0; i < spot_count; ++i) {
        auto* p = reinterpret_cast<volatile uint64_t*>(uintptr_t(spots[i].address));
        const bool ok = p[0] == pattern(spots[i].address, 0) && p[1] == pattern(spots[i].address, 1);
        hb::text::line<160> name;
        name.put("a pattern at ").put(spots[i].what).put(" (").hex(spots[i].address).put(") reads back");
        report(ok, name.c_str(), "other bytes read back");
    }
}

// MEM's map against the loader's, and buffers around the hole (HB-GEN-003).
void check_mem_service(uint64_t mapped)
{
    const auto got = hb::mem::get_map(mem_map, sizeof mem_map);
    report(got.ok() && got.value <= sizeof mem_map, "MEM.get_map returns the whole map");
    if (!got.ok())
        return;
    const hb::mem::regions regions(mem_map, got.value);
    size_t i = 0;
    bool agree = regions.size() == boot.memory_map().size();
    for (const hb::mem::region r : regions) {
        hb::printf("INFO mem: base %#llx length %#llx type %u\n", ull(r.base), ull(r.length), r.type);
        if (agree && i < boot.memory_map().size()) {
            const hb::memory_region& b = boot.memory_map()[i];
            agree = b.base == r.base && b.length == r.length && b.is_usable() == r.is_usable();
        }
        ++i;
    }
    report(agree, "MEM's map is the loader's map (HB-MEM-003)", "they differ: see the INFO lines");

    // The hole: from the end of the highest RAM range below 4 GiB to 4 GiB, when RAM
    // lies above 4 GiB too.
    uint64_t low_end = 0;
    for (const hb::memory_region& r : boot.memory_map())
        if (r.is_usable() && r.end() <= four_gib && r.end() > low_end)
            low_end = r.end();
    const bool hole = boot.ram_end() > four_gib && low_end < four_gib;
    hb::printf("INFO hole: %s\n", hole ? "yes" : "no");
    if (hole) {
        const struct {
            uint64_t address, length;
            const char* what;
        } outside[] = {
            {low_end, 64, "a buffer at the start of the hole"},
            {low_end + (four_gib - low_end) / 2, 64, "a buffer in the middle of the hole"},
            {four_gib - 64, 64, "a buffer at the end of the hole"},
            {low_end - 8, 16, "a buffer from the end of RAM below the hole into it"},
            {four_gib - 8, 16, "a buffer from the hole into RAM at 4 GiB"},
            {low_end - 4096, four_gib - low_end + 8192, "a buffer across the hole"},
        };
        for (const auto& o : outside) {
            const auto r = hb::mem::get_map(hb::gpa{o.address}, o.length);
            hb::text::line<160> name;
            name.put(o.what).put(" (").hex(o.address).put(") is INVALID_ADDRESS");
            report(r.code == hb::status::invalid_address, name.c_str(), hb::abi::status_name(r.code));
        }
    }
    // RAM above 4 GiB serves as buffers, up to its very end (where mapped: the
    // map is read back here).
    const uint64_t end = boot.ram_end();
    if (end > four_gib && end <= mapped) {
        const uint64_t at[] = {four_gib, end - got.value};  // the map is written before the patterns
        for (uint64_t a : at) {
            const auto r = hb::mem::get_map(hb::gpa{a}, got.value);
            bool same = r.ok();
            const auto* there = reinterpret_cast<const volatile unsigned char*>(uintptr_t(a));
            for (size_t k = 0; same && k < got.value; ++k)  // no memcmp: freestanding
                same = there[k] == mem_map[k];
            hb::text::line<160> name;
            name.put("MEM.get_map into RAM above 4 GiB at ").hex(a).put(" writes the map there");
            report(same, name.c_str(), r.ok() ? "other bytes arrived" : hb::abi::status_name(r.code));
        }
        const auto past = hb::mem::get_map(hb::gpa{end - 8}, 16);
        report(past.code == hb::status::invalid_address, "a buffer past the very end of RAM is INVALID_ADDRESS",
               hb::abi::status_name(past.code));
    }
}

}  // namespace

extern "C" void kernel_main(uint32_t magic, uint32_t info)
{
    boot.read(magic, info);
    const bool host = hb::present();
    const uint64_t mapped = hb::boot::identity_map_end();
    hb::printf("INFO host: %s\n", host ? "HyperBIOS" : "none");
    hb::printf("INFO ram end: %#llx\n", ull(boot.ram_end()));
    hb::printf("INFO identity map end: %#llx\n", ull(mapped));
    if (mapped > four_gib)
        hb::printf("INFO pages above 4 GiB: %s\n", hb::boot::boot_page_tables().pdpt[4] & 0x80 ? "1 GiB" : "2 MiB");
    for (const hb::memory_region& r : boot.memory_map())
        hb::printf("INFO boot: base %#llx length %#llx type %u\n", ull(r.base), ull(r.length), r.type);
    report(boot.memory_map_from_loader(), "the loader gave a memory map");
    report(mapped >= four_gib && mapped % gib == 0, "the identity map covers at least 4 GiB, in whole GiB");
    report(mapped >= boot.ram_end() || mapped == hb::boot::page_directories * gib,
           "the identity map reaches the end of RAM, or as far as its page directories reach",
           "it ends short of both");
    if (host)
        check_mem_service(mapped);
    touch_ram(mapped);
    (void)hb::power::shutdown(all_passed ? 0 : 1);
    hb::fallback::power_off_emulator(all_passed ? 3 : 4);
}
