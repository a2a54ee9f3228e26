#include "core/error.hpp"
#include "core/multiboot_loader.hpp"

#include <hyperbios/boot/multiboot_info.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace hbvm {

namespace mb = hyperbios::multiboot;

namespace {

using bytes = std::vector<std::byte>;

template <typename T>
void put(bytes& b, size_t offset, T value)
{
    if (b.size() < offset + sizeof(T))
        b.resize(offset + sizeof(T));
    std::memcpy(b.data() + offset, &value, sizeof(T));
}

void put_header(bytes& b, size_t offset, uint32_t flags)
{
    put<uint32_t>(b, offset, mb::header_magic);
    put<uint32_t>(b, offset + 4, flags);
    put<uint32_t>(b, offset + 8, uint32_t(0) - mb::header_magic - flags);
}

// A minimal ELF32 i386 executable: one PT_LOAD of 0x100 file bytes and 0x200
// memory bytes at 0x100000, entry 0x100010, Multiboot header at file offset 0x60.
bytes make_elf32()
{
    bytes b(0x160);
    const unsigned char ident[] = {0x7F, 'E', 'L', 'F', 1, 1, 1};
    std::memcpy(b.data(), ident, sizeof ident);
    put<uint16_t>(b, 16, 2);          // ET_EXEC
    put<uint16_t>(b, 18, 3);          // EM_386
    put<uint32_t>(b, 20, 1);          // EV_CURRENT
    put<uint32_t>(b, 24, 0x100010);   // e_entry
    put<uint32_t>(b, 28, 52);         // e_phoff
    put<uint16_t>(b, 40, 52);         // e_ehsize
    put<uint16_t>(b, 42, 32);         // e_phentsize
    put<uint16_t>(b, 44, 1);          // e_phnum
    const size_t ph = 52;
    put<uint32_t>(b, ph + 0, 1);      // PT_LOAD
    put<uint32_t>(b, ph + 4, 0x60);   // p_offset
    put<uint32_t>(b, ph + 8, 0x100000);
    put<uint32_t>(b, ph + 12, 0x100000);
    put<uint32_t>(b, ph + 16, 0x100);  // p_filesz
    put<uint32_t>(b, ph + 20, 0x200);  // p_memsz
    put_header(b, 0x60, mb::header_page_align | mb::header_memory_info);
    return b;
}

// An image described by the header's address fields (what the boot stub emits).
bytes make_address_field_image(uint32_t load_end = 0x100100, uint32_t bss_end = 0x100400, uint32_t entry = 0x100020)
{
    bytes b(0x1000 + 0x100);
    put_header(b, 0x1000, mb::header_memory_info | mb::header_address_fields);
    put<uint32_t>(b, 0x100C, 0x100000);  // header_addr
    put<uint32_t>(b, 0x1010, 0x100000);  // load_addr
    put<uint32_t>(b, 0x1014, load_end);
    put<uint32_t>(b, 0x1018, bss_end);
    put<uint32_t>(b, 0x101C, entry);
    put<uint8_t>(b, 0x10FF, 0xAB);       // last loaded byte
    return b;
}

std::string rejection(const bytes& b)
{
    try {
        parse_multiboot_image(b);
    } catch (const error& e) {
        EXPECT_EQ(e.status(), exit_status::bad_image);
        return e.what();
    }
    return "(accepted)";
}

}  // namespace

TEST(MultibootLoader, ParsesElf32)
{
    multiboot_image image = parse_multiboot_image(make_elf32());
    EXPECT_EQ(image.format, "ELF32");
    EXPECT_EQ(image.entry, 0x100010u);
    ASSERT_EQ(image.segments.size(), 1u);
    EXPECT_EQ(image.segments[0].address, 0x100000u);
    EXPECT_EQ(image.segments[0].memory_size, 0x200u);
    EXPECT_EQ(image.highest_address(), 0x100200u);
}

TEST(MultibootLoader, ParsesAddressFields)
{
    multiboot_image image = parse_multiboot_image(make_address_field_image());
    EXPECT_EQ(image.format, "Multiboot address fields");
    EXPECT_EQ(image.entry, 0x100020u);
    ASSERT_EQ(image.segments.size(), 1u);
    EXPECT_EQ(image.segments[0].file_offset, 0x1000u);
    EXPECT_EQ(image.segments[0].file_size, 0x100u);
    EXPECT_EQ(image.segments[0].memory_size, 0x400u);
}

TEST(MultibootLoader, LoadsSegmentsAndZeroesBss)
{
    bytes file = make_address_field_image();
    multiboot_image image = parse_multiboot_image(file);
    guest_memory memory(4 << 20);
    const std::byte junk[1] = {std::byte{0xEE}};
    ASSERT_TRUE(memory.copy_in(guest_address{0x100200}, junk));  // inside the bss
    load_multiboot_image(image, file, memory);
    EXPECT_EQ((*memory.read(guest_address{0x1000FF}, 1))[0], std::byte{0xAB});
    EXPECT_EQ((*memory.read(guest_address{0x100200}, 1))[0], std::byte{0});
}

TEST(MultibootLoader, RejectsFileWithoutHeader)
{
    bytes b(4096, std::byte{0});
    EXPECT_NE(rejection(b).find("no Multiboot header"), std::string::npos);
}

TEST(MultibootLoader, RejectsBadChecksum)
{
    bytes b = make_elf32();
    put<uint32_t>(b, 0x68, 0);  // checksum
    EXPECT_NE(rejection(b).find("no Multiboot header"), std::string::npos);
}

TEST(MultibootLoader, IgnoresHeaderPast8KiB)
{
    bytes b(0x3000);
    put_header(b, 0x2000, 0);
    EXPECT_NE(rejection(b).find("no Multiboot header"), std::string::npos);
}

TEST(MultibootLoader, RejectsAddressFieldsPast8KiB)
{
    // Magic, flags and checksum end inside the first 8 KiB, the address fields do not.
    bytes b(0x3000);
    const size_t at = 0x2000 - 16;
    put_header(b, at, mb::header_memory_info | mb::header_address_fields);
    put<uint32_t>(b, at + 12, 0x100000);
    put<uint32_t>(b, at + 16, 0x100000);
    put<uint32_t>(b, at + 28, 0x100010);
    EXPECT_NE(rejection(b).find("past the first 8 KiB"), std::string::npos) << rejection(b);
    // The same header 16 bytes earlier fits, and is read.
    bytes fits(0x3000);
    put_header(fits, at - 16, mb::header_memory_info | mb::header_address_fields);
    put<uint32_t>(fits, at - 4, 0x100000 + uint32_t(at - 16));  // header_addr
    put<uint32_t>(fits, at, 0x100000);                          // load_addr
    put<uint32_t>(fits, at + 12, 0x100010);                     // entry_addr
    EXPECT_EQ(rejection(fits), "(accepted)");
}

TEST(MultibootLoader, RejectsOverlappingSegments)
{
    // A second PT_LOAD whose memory overlaps the first: its zero-fill would wipe
    // the first one's bytes, depending on the order of the headers.
    bytes b = make_elf32();
    put<uint16_t>(b, 44, 2);  // e_phnum
    const size_t ph = 52 + 32;
    bytes second(32);
    std::memcpy(second.data(), b.data() + 52, 32);
    b.insert(b.begin() + ph, second.begin(), second.end());
    // The insertion moved the Multiboot header and the segment's bytes by 32.
    put<uint32_t>(b, 52 + 4, 0x80);
    put<uint32_t>(b, ph + 4, 0x80);
    put<uint32_t>(b, ph + 8, 0x1001F0);   // p_vaddr
    put<uint32_t>(b, ph + 12, 0x1001F0);  // p_paddr: inside the first segment's memory
    put<uint32_t>(b, ph + 16, 0x10);
    put<uint32_t>(b, ph + 20, 0x20);
    EXPECT_NE(rejection(b).find("segments overlap in memory"), std::string::npos) << rejection(b);
    put<uint32_t>(b, ph + 12, 0x100200);  // right after it: fine
    EXPECT_EQ(rejection(b), "(accepted)");
}

TEST(MultibootLoader, RejectsUnsupportedRequiredFlags)
{
    bytes video = make_elf32();
    put_header(video, 0x60, 1u << 2);
    EXPECT_NE(rejection(video).find("graphics mode"), std::string::npos);
    bytes unknown = make_elf32();
    put_header(unknown, 0x60, 1u << 7);
    EXPECT_NE(rejection(unknown).find("does not know"), std::string::npos);
}

TEST(MultibootLoader, RejectsElf64WithoutAddressFields)
{
    bytes b = make_elf32();
    put<uint8_t>(b, 4, 2);  // ELFCLASS64
    EXPECT_NE(rejection(b).find("ELF64 image without Multiboot address fields"), std::string::npos);
}

TEST(MultibootLoader, RejectsOtherMachinesAndTypes)
{
    bytes machine = make_elf32();
    put<uint16_t>(machine, 18, 40);  // EM_ARM
    EXPECT_NE(rejection(machine).find("not for i386"), std::string::npos);
    bytes type = make_elf32();
    put<uint16_t>(type, 16, 3);  // ET_DYN
    EXPECT_NE(rejection(type).find("not an executable"), std::string::npos);
}

TEST(MultibootLoader, RejectsTruncatedProgramHeaders)
{
    bytes b = make_elf32();
    put<uint32_t>(b, 28, 0x150);  // e_phoff near the end of the file
    EXPECT_NE(rejection(b).find("truncated image"), std::string::npos);
}

TEST(MultibootLoader, RejectsSegmentPastEndOfFile)
{
    bytes b = make_elf32();
    put<uint32_t>(b, 52 + 16, 0x1000);  // p_filesz
    put<uint32_t>(b, 52 + 20, 0x1000);  // p_memsz
    EXPECT_NE(rejection(b).find("truncated image"), std::string::npos);
}

TEST(MultibootLoader, RejectsSegmentWhoseOffsetPlusSizeWraps)
{
    bytes b = make_elf32();
    put<uint32_t>(b, 52 + 4, 0xFFFFFF00);  // p_offset
    EXPECT_NE(rejection(b).find("truncated image"), std::string::npos);
}

TEST(MultibootLoader, RejectsFileSizeAboveMemorySize)
{
    bytes b = make_elf32();
    put<uint32_t>(b, 52 + 20, 0x10);
    EXPECT_NE(rejection(b).find("p_filesz > p_memsz"), std::string::npos);
}

TEST(MultibootLoader, RejectsEntryOutsideSegments)
{
    bytes b = make_elf32();
    put<uint32_t>(b, 24, 0x500000);
    EXPECT_NE(rejection(b).find("entry point"), std::string::npos);
}

TEST(MultibootLoader, RejectsInconsistentAddressFields)
{
    EXPECT_NE(rejection(make_address_field_image(0x200000)).find("truncated image"), std::string::npos);
    EXPECT_NE(rejection(make_address_field_image(0x0FFFFF)).find("below load_addr"), std::string::npos);
    EXPECT_NE(rejection(make_address_field_image(0x100100, 0x100080)).find("bss_end_addr"), std::string::npos);
    EXPECT_NE(rejection(make_address_field_image(0x100100, 0x100400, 0x100400)).find("entry_addr"), std::string::npos);
    bytes above = make_address_field_image();
    put<uint32_t>(above, 0x1010, 0x100004);  // load_addr above header_addr
    EXPECT_NE(rejection(above).find("above header_addr"), std::string::npos);
    bytes before_file = make_address_field_image();
    put<uint32_t>(before_file, 0x1010, 0x0F0000);  // would start 64 KiB before the file
    EXPECT_NE(rejection(before_file).find("larger than the header's offset"), std::string::npos);
}

TEST(MultibootLoader, EveryTruncationIsRejectedCleanly)
{
    // Cutting a valid image anywhere must give an error or a valid parse, never a crash.
    for (const bytes& whole : {make_elf32(), make_address_field_image()}) {
        for (size_t n = 1; n < whole.size(); ++n) {
            bytes cut(whole.begin(), whole.begin() + long(n));
            try {
                multiboot_image image = parse_multiboot_image(cut);
                for (const image_segment& s : image.segments)
                    EXPECT_LE(s.file_offset + s.file_size, n);
            } catch (const error& e) {
                EXPECT_EQ(e.status(), exit_status::bad_image);
            }
        }
    }
}

TEST(MultibootLoader, RefusesImagesThatDoNotFitOrLoadLow)
{
    bytes big = make_address_field_image(0x100100, 0x900000);
    guest_memory small(4 << 20);
    try {
        load_multiboot_image(parse_multiboot_image(big), big, small);
        FAIL() << "an image larger than RAM was loaded";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("--mem"), std::string::npos);
    }
    bytes low = make_elf32();
    put<uint32_t>(low, 52 + 12, 0x8000);  // p_paddr below 1 MiB
    EXPECT_THROW(load_multiboot_image(parse_multiboot_image(low), low, small), error);
}

TEST(MultibootLoader, InfoReportsMemoryAndCommandLine)
{
    guest_memory memory(64 << 20);
    const uint32_t address = write_multiboot_info(memory, "kernel.elf verbose");
    mb::info info;
    std::memcpy(&info, memory.read(guest_address{address}, sizeof info)->data(), sizeof info);
    EXPECT_TRUE(info.flags & mb::info_memory);
    EXPECT_EQ(info.mem_lower, 639u);
    EXPECT_EQ(info.mem_upper, (64u << 10) - 1024u);
    const char* cmdline = reinterpret_cast<const char*>(memory.read(guest_address{info.cmdline}, 1)->data());
    EXPECT_STREQ(cmdline, "kernel.elf verbose");
    ASSERT_EQ(info.mmap_length, 5 * sizeof(mb::mmap_entry));
    mb::mmap_entry map[5];
    std::memcpy(map, memory.read(guest_address{info.mmap_addr}, sizeof map)->data(), sizeof map);
    // Sorted, without overlaps or holes below 1 MiB; the host's entry page reserved.
    for (int i = 1; i < 5; ++i)
        EXPECT_EQ(map[i].addr, map[i - 1].addr + map[i - 1].len) << "entry " << i;
    EXPECT_EQ(map[1].addr, boot_layout::entry_page);
    EXPECT_EQ(map[1].len, 0x1000u);
    EXPECT_EQ(map[1].type, 2u);
    EXPECT_EQ(map[4].addr, 0x100000u);
    EXPECT_EQ(map[4].addr + map[4].len, 64u << 20);
    EXPECT_EQ(map[4].type, 1u);
    EXPECT_THROW(write_multiboot_info(memory, std::string(5000, 'x')), error);
}

// Above 3 GiB: the Multiboot map has the hole (no entry) up to 4 GiB and the rest
// of RAM from there; mem_upper counts the contiguous RAM above 1 MiB, up to the
// hole; MEM's map is the same (guest_memory_map, one truth for both).
TEST(MultibootLoader, InfoReportsTheHoleBelowFourGiB)
{
    constexpr uint64_t gib = 1ull << 30;
    guest_memory memory(16 * gib);  // address space only: MAP_NORESERVE
    const uint32_t address = write_multiboot_info(memory, "kernel.elf");
    mb::info info;
    std::memcpy(&info, memory.read(guest_address{address}, sizeof info)->data(), sizeof info);
    EXPECT_EQ(info.mem_lower, 639u);
    EXPECT_EQ(info.mem_upper, (3u << 20) - 1024u);  // KiB from 1 MiB to 3 GiB
    ASSERT_EQ(info.mmap_length, 6 * sizeof(mb::mmap_entry));
    mb::mmap_entry map[6];
    std::memcpy(map, memory.read(guest_address{info.mmap_addr}, sizeof map)->data(), sizeof map);
    EXPECT_EQ(map[4].addr, 0x100000u);
    EXPECT_EQ(map[4].addr + map[4].len, 3 * gib);
    EXPECT_EQ(map[4].type, 1u);
    EXPECT_EQ(map[5].addr, 4 * gib);
    EXPECT_EQ(map[5].len, 13 * gib);
    EXPECT_EQ(map[5].type, 1u);
    const auto regions = guest_memory_map(memory.size());
    ASSERT_EQ(regions.size(), 6u);
    for (size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(regions[i].base, map[i].addr) << i;
        EXPECT_EQ(regions[i].length, map[i].len) << i;
        EXPECT_EQ(regions[i].type == hyperbios::abi::mem_type::usable, map[i].type == 1) << i;
    }
    // Exactly 3 GiB: one range up to 3 GiB, as before the hole existed.
    EXPECT_EQ(guest_memory_map(3 * gib).size(), 5u);
    EXPECT_EQ(guest_memory_map(3 * gib).back().base + guest_memory_map(3 * gib).back().length, 3 * gib);

    // An image reaching past 3 GiB meets the hole, however much RAM there is.
    bytes image = make_address_field_image(0x100100, 0xC0001000);  // bss up to just past 3 GiB
    try {
        load_multiboot_image(parse_multiboot_image(image), image, memory);
        FAIL() << "an image reaching into the hole was loaded";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("RAM below 4 GiB ends at 0xc0000000"), std::string::npos) << e.what();
    }
}

}  // namespace hbvm
