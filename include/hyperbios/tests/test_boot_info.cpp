// hyperbios::boot::boot_info, run on the host: Multiboot and PVH structures as
// loaders lay them out, built in memory below 2 GiB (mmap's MAP_32BIT) so that
// their addresses fit the 32-bit arguments the boot stub passes.
#include <hyperbios/boot/boot_info.hpp>

#include <sys/mman.h>

#include <cstdio>
#include <cstring>

namespace hb = hyperbios;
namespace boot = hyperbios::boot;

namespace {

int failures = 0;

void expect(bool ok, const char* what, int line)
{
    if (!ok) {
        std::printf("FAIL line %d: %s\n", line, what);
        ++failures;
    }
}
#define EXPECT(condition) expect((condition), #condition, __LINE__)

// A bump allocator over one low mapping; returns 32-bit addresses.
struct low_memory {
    unsigned char* base = nullptr;
    size_t used = 0;
    static constexpr size_t size = 1 << 20;

    low_memory()
    {
        void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        base = p == MAP_FAILED ? nullptr : static_cast<unsigned char*>(p);
    }
    ~low_memory()
    {
        if (base)
            munmap(base, size);
    }
    template <typename T>
    T* take(size_t count = 1)
    {
        used = (used + 15) & ~size_t(15);
        T* p = reinterpret_cast<T*>(base + used);
        used += sizeof(T) * count;
        std::memset(static_cast<void*>(p), 0, sizeof(T) * count);
        return p;
    }
    uint32_t address(const void* p) const { return uint32_t(reinterpret_cast<uintptr_t>(p)); }
};

struct entry {
    uint64_t base, length;
    uint32_t type;
};

// A Multiboot map in the loader's layout: each entry's `size` excludes itself;
// `entry_size` larger than 20 as some loaders write.
uint32_t multiboot_info(low_memory& m, const entry* entries, size_t count, uint32_t entry_size = 20)
{
    auto* info = m.take<hb::multiboot::info>();
    unsigned char* map = m.take<unsigned char>(count * (entry_size + 4));
    for (size_t i = 0; i < count; ++i) {
        hb::multiboot::mmap_entry e{entry_size, entries[i].base, entries[i].length, entries[i].type};
        std::memcpy(map + i * (entry_size + 4), &e, sizeof e);
    }
    static const char cmdline[] = "/boot/kernel.elf seed=5";
    char* text = m.take<char>(sizeof cmdline);
    std::memcpy(text, cmdline, sizeof cmdline);
    info->flags = hb::multiboot::info_memory | hb::multiboot::info_memory_map | hb::multiboot::info_cmdline;
    info->mem_lower = 639;
    info->mem_upper = 1024;  // deliberately unlike the map: the map must win
    info->mmap_addr = m.address(map);
    info->mmap_length = uint32_t(count * (entry_size + 4));
    info->cmdline = m.address(text);
    return m.address(info);
}

bool sorted(const boot::boot_info& b)
{
    const auto map = b.memory_map();
    for (size_t i = 1; i < map.size(); ++i)
        if (map[i - 1].base > map[i].base)
            return false;
    return true;
}

void multiboot_map_sorted_and_ram_end_from_the_highest_ram()
{
    low_memory m;
    // Unsorted, with a hole between RAM ranges and reserved memory above RAM.
    const entry map[] = {
        {0x100000000ull, 0x40000000, boot::memory_ram},  // 4 GiB .. 5 GiB
        {0xFEC00000, 0x1000, boot::memory_reserved},
        {0x100000, 0x7F00000, boot::memory_ram},         // 1 MiB .. 128 MiB
        {0, 0x9FC00, boot::memory_ram},
        {0x9FC00, 0x60400, boot::memory_reserved},
        {0x200000000ull, 0x1000, boot::memory_reserved},
    };
    static boot::boot_info b;
    b.read(hb::multiboot::loader_magic, multiboot_info(m, map, 6, 24));
    EXPECT(b.loader_protocol() == boot::protocol::multiboot);
    EXPECT(b.memory_map().size() == 6);
    EXPECT(sorted(b));
    EXPECT(b.memory_map_from_loader());
    EXPECT(!b.truncated());
    EXPECT(b.ram_end() == 0x140000000ull);
    EXPECT(std::strcmp(b.command_line(), "/boot/kernel.elf seed=5") == 0);
    // Multiboot: the image path comes off the arguments.
    EXPECT(std::strcmp(b.image_path(), "/boot/kernel.elf") == 0);
    EXPECT(std::strcmp(b.arguments().text(), "seed=5") == 0);
    EXPECT(b.arguments().size() == 1 && std::strcmp(*b.arguments().begin(), "seed=5") == 0);
    EXPECT(b.arguments().value("seed") && std::strcmp(b.arguments().value("seed"), "5") == 0);
    size_t regions = 0;
    for (const hb::memory_region& r : b.memory_map())
        regions += r.length != 0;
    EXPECT(regions == b.memory_map().size());
    EXPECT(b.multiboot_info() != nullptr && b.pvh_start_info() == nullptr);
    // Holes and reserved memory are not RAM; adjoining RAM ranges are.
    EXPECT(b.is_ram(0x100000, 0x1000));
    EXPECT(b.is_ram(0x7FFF000, 0x1000));
    EXPECT(!b.is_ram(0x7FFF000, 0x1001));          // runs into the hole above 128 MiB
    EXPECT(!b.is_ram(0x8000000, 1));               // the hole
    EXPECT(!b.is_ram(0xA0000, 1));                 // reserved
    EXPECT(!b.is_ram(0x9F000, 0x2000));            // RAM, then reserved
    EXPECT(b.is_ram(0x100000000ull, 0x40000000));  // all of the range above 4 GiB
    EXPECT(!b.is_ram(b.ram_end(), 1));
    EXPECT(!b.is_ram(~0ull - 7, 16));              // wraps past 2^64
    EXPECT(b.is_ram(0x8000000, 0));                // empty: no byte outside RAM
}

void adjoining_ram_ranges_join_and_overlaps_are_not_ram()
{
    low_memory m;
    const entry map[] = {
        {0x100000, 0x100000, boot::memory_ram},
        {0x200000, 0x100000, boot::memory_ram},
        {0x280000, 0x1000, boot::memory_reserved},  // a loader's overlap: reserved inside RAM
    };
    static boot::boot_info b;
    b.read(hb::multiboot::loader_magic, multiboot_info(m, map, 3));
    EXPECT(b.is_ram(0x1FF000, 0x2000));   // across the seam of two RAM ranges
    EXPECT(!b.is_ram(0x27F000, 0x2000));  // the reserved overlap wins
    EXPECT(b.is_ram(0x290000, 0x1000));
    EXPECT(b.ram_end() == 0x300000);
}

void multiboot_without_map_falls_back_to_mem_upper()
{
    low_memory m;
    auto* info = m.take<hb::multiboot::info>();
    info->flags = hb::multiboot::info_memory;
    info->mem_lower = 639;
    info->mem_upper = 127 * 1024;
    static boot::boot_info b;
    b.read(hb::multiboot::loader_magic, m.address(info));
    EXPECT(!b.memory_map_from_loader());
    EXPECT(b.memory_map().size() == 2);
    EXPECT(b.ram_end() == 0x8000000);
    EXPECT(b.is_ram(0, 639 * 1024) && !b.is_ram(0xA0000, 1));
    EXPECT(*b.command_line() == 0);
}

void a_long_map_is_cut_but_ram_end_counts_every_entry()
{
    low_memory m;
    static entry map[boot::max_memory_ranges + 10];
    const size_t count = sizeof map / sizeof map[0];
    for (size_t i = 0; i < count; ++i)  // descending, so the highest come first and must be dropped
        map[i] = {uint64_t(count - i) * 0x200000, 0x100000, boot::memory_ram};
    static boot::boot_info b;
    b.read(hb::multiboot::loader_magic, multiboot_info(m, map, count));
    EXPECT(b.truncated());
    EXPECT(b.memory_map().size() == boot::max_memory_ranges);
    EXPECT(sorted(b));
    EXPECT(b.memory_map()[0].base == 0x200000);
    EXPECT(b.ram_end() == uint64_t(count) * 0x200000 + 0x100000);
}

void pvh_map_and_command_line()
{
    low_memory m;
    auto* start = m.take<hb::pvh::start_info>();
    auto* map = m.take<hb::pvh::memmap_entry>(4);
    map[0] = {0x100000, 0x7EE0000, boot::memory_ram, 0};
    map[1] = {0, 0x9FC00, boot::memory_ram, 0};
    map[2] = {0xFFFC0000, 0x40000, boot::memory_reserved, 0};
    map[3] = {0x7FE0000, 0x20000, boot::memory_reserved, 0};
    static const char cmdline[] = "seed=7";
    char* text = m.take<char>(sizeof cmdline);
    std::memcpy(text, cmdline, sizeof cmdline);
    start->magic = hb::pvh::start_info_magic;
    start->version = 1;
    start->cmdline_paddr = m.address(text);
    start->memmap_paddr = m.address(map);
    start->memmap_entries = 4;
    static boot::boot_info b;
    b.read(hb::pvh::start_info_magic, m.address(start));
    EXPECT(b.loader_protocol() == boot::protocol::pvh);
    EXPECT(b.memory_map().size() == 4 && sorted(b));
    EXPECT(b.ram_end() == 0x7FE0000);
    EXPECT(!b.is_ram(0x7FE0000, 1));
    EXPECT(std::strcmp(b.command_line(), "seed=7") == 0);
    // PVH: no image path, the whole line is arguments.
    EXPECT(*b.image_path() == 0);
    EXPECT(b.arguments().value("seed") && std::strcmp(b.arguments().value("seed"), "7") == 0);
    EXPECT(b.pvh_start_info() == start && b.multiboot_info() == nullptr);

    // Version 0 has no memory map; a start_info without its magic is not PVH.
    start->version = 0;
    b.read(hb::pvh::start_info_magic, m.address(start));
    EXPECT(b.loader_protocol() == boot::protocol::pvh && b.memory_map().size() == 0 && b.ram_end() == 0);
    start->magic = 0;
    b.read(hb::pvh::start_info_magic, m.address(start));
    EXPECT(b.loader_protocol() == boot::protocol::unknown);
}

void unknown_magic_knows_nothing()
{
    low_memory m;
    const entry map[] = {{0x100000, 0x100000, boot::memory_ram}};
    const uint32_t info = multiboot_info(m, map, 1);
    static boot::boot_info b;
    b.read(hb::multiboot::loader_magic, info);
    b.read(0x12345678, info);  // forgets the earlier read
    EXPECT(b.loader_protocol() == boot::protocol::unknown);
    EXPECT(b.memory_map().size() == 0 && b.ram_end() == 0 && *b.command_line() == 0);
    EXPECT(!b.is_ram(0x100000, 1));
    b.read(hb::multiboot::loader_magic, 0);  // no information at all
    EXPECT(b.loader_protocol() == boot::protocol::unknown);
}

}  // namespace

int main()
{
    if (low_memory().base == nullptr) {
        std::printf("FAIL: mmap(MAP_32BIT) gave no memory below 2 GiB\n");
        return 1;
    }
    multiboot_map_sorted_and_ram_end_from_the_highest_ram();
    adjoining_ram_ranges_join_and_overlaps_are_not_ram();
    multiboot_without_map_falls_back_to_mem_upper();
    a_long_map_is_cut_but_ram_end_counts_every_entry();
    pvh_map_and_command_line();
    unknown_magic_knows_nothing();
    std::printf(failures ? "%d check(s) failed\n" : "boot_info: every check passed\n", failures);
    return failures ? 1 : 0;
}
