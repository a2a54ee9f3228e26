// fuzz_image_loader: libFuzzer target for the Multiboot loader.
//
// The input is an image file. It goes through hbvm::parse_multiboot_image and, when
// that accepts it, hbvm::load_multiboot_image into 8 MiB of guest memory and
// hbvm::write_multiboot_info. Rejection is an hbvm::error with the bad_image status;
// any other exception, a sanitizer report or a crash is a finding. The target checks:
//   - what parse returns: segments whose file bytes lie inside the file and whose
//     file size is at most their memory size (load relies on both);
//   - after a load, accepted or rejected: no byte of guest memory outside the
//     segments' ranges (and, after a full load, the boot_layout areas) was written.
//     Guard bytes with a pattern surround every allowed range, and the pages the
//     process touched (mincore) must all hold an allowed range or a guard, so stray
//     writes are caught near a range and far from it, even when they write zeros;
//   - after a full load: the segments hold the file's bytes then zeros (later
//     segments win where they overlap), the entry point lies in a segment, and the
//     Multiboot information says what write_multiboot_info promises.
// A violation prints one diagnostic and aborts, which libFuzzer records as a crash.
//
// A custom mutator repairs the Multiboot header checksum of three mutants in four,
// so that mutations of the header's flags and address fields reach the parser
// instead of failing the checksum.
#include "core/error.hpp"
#include "core/guest_memory.hpp"
#include "core/multiboot_loader.hpp"

#include <hyperbios/boot/multiboot_info.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <sys/mman.h>
#include <typeinfo>
#include <unistd.h>
#include <vector>

namespace {

namespace mb = hyperbios::multiboot;
namespace layout = hbvm::boot_layout;

constexpr uint64_t ram_size = 8ull << 20;
constexpr uint64_t page = 4096;
constexpr uint64_t guard_bytes = 64;
constexpr size_t max_segments_for_content_check = 256;
const std::string cmdline = "fuzz console=debug";

[[noreturn]] __attribute__((format(printf, 1, 2))) void finding(const char* format, ...)
{
    std::fprintf(stderr, "\nfuzz_image_loader: FINDING: ");
    va_list ap;
    va_start(ap, format);
    std::vfprintf(stderr, format, ap);
    va_end(ap);
    std::fprintf(stderr, "\n");
    std::abort();
}

#define FUZZ_CHECK(cond, ...)      \
    do {                           \
        if (!(cond))               \
            finding(__VA_ARGS__);  \
    } while (0)

struct interval {
    uint64_t begin, end;  // [begin, end)
};

// Sorted, merged, clipped to RAM.
std::vector<interval> normalise(std::vector<interval> v)
{
    for (interval& i : v) {
        i.begin = std::min(i.begin, ram_size);
        i.end = std::min(std::max(i.end, i.begin), ram_size);
    }
    std::erase_if(v, [](const interval& i) { return i.begin == i.end; });
    std::sort(v.begin(), v.end(), [](const interval& a, const interval& b) { return a.begin < b.begin; });
    std::vector<interval> out;
    for (const interval& i : v) {
        if (!out.empty() && i.begin <= out.back().end)
            out.back().end = std::max(out.back().end, i.end);
        else
            out.push_back(i);
    }
    return out;
}

// The parts of [begin, end) that no interval of `sorted` (normalised) covers.
template <typename F>
void for_each_gap(const std::vector<interval>& sorted, uint64_t begin, uint64_t end, F f)
{
    auto it = std::upper_bound(sorted.begin(), sorted.end(), begin,
                               [](uint64_t a, const interval& i) { return a < i.end; });
    uint64_t at = begin;
    for (; it != sorted.end() && it->begin < end; ++it) {
        if (it->begin > at)
            f(at, it->begin);
        at = std::max(at, it->end);
    }
    if (at < end)
        f(at, end);
}

uint8_t guard_byte(uint64_t address) { return uint8_t(((address + 1) * 0x9E3779B97F4A7C15ull) >> 56) | 1; }

// Where [address, address + length) of guest RAM differs from `expected` (same
// length), or -1. memcmp first: the checks run on every input and byte loops would
// be slowed down by the fuzzer's comparison tracing.
int64_t first_difference(const std::byte* ram, const std::byte* expected, uint64_t length)
{
    if (length == 0 || std::memcmp(ram, expected, length) == 0)
        return -1;
    uint64_t i = 0;
    while (ram[i] == expected[i])
        ++i;
    return int64_t(i);
}

struct harness {
    hbvm::guest_memory memory{ram_size};
    std::vector<std::byte> guards = std::vector<std::byte>(ram_size);  // guard_byte(a) at a
    std::vector<std::byte> zeros = std::vector<std::byte>(ram_size);
    bool touched = false;            // the previous input wrote guest memory
    bool residency_works = false;    // mincore tells written pages from untouched ones
    std::vector<unsigned char> resident = std::vector<unsigned char>(ram_size / page);

    std::byte* ram() { return memory.host_base(); }

    harness()
    {
        for (uint64_t a = 0; a < ram_size; ++a)
            guards[a] = std::byte(guard_byte(a));
        // One page fault maps one page: no transparent huge pages in guest RAM.
        (void)madvise(ram(), ram_size, MADV_NOHUGEPAGE);
        // Self-test of the page check: after clear() nothing is resident; a write
        // makes exactly its page resident.
        memory.clear();
        ram()[3 * page + 5] = std::byte{1};
        residency_works = mincore(ram(), ram_size, resident.data()) == 0;
        for (uint64_t p = 0; residency_works && p < ram_size / page; ++p)
            residency_works = bool(resident[p] & 1) == (p == 3);
        memory.clear();
        if (!residency_works)
            std::fprintf(stderr, "fuzz_image_loader: mincore cannot tell written pages here; checking all of RAM\n");
    }
};

harness& the_harness()
{
    static harness* h = new harness();  // never destroyed: libFuzzer may exit from anywhere
    return *h;
}

// What parse returns must be loadable without reading past the file.
void check_parsed(const hbvm::multiboot_image& image, size_t file_size)
{
    FUZZ_CHECK(!image.segments.empty(), "parse accepted an image without segments (%s)", image.format.c_str());
    for (size_t i = 0; i < image.segments.size(); ++i) {
        const hbvm::image_segment& s = image.segments[i];
        FUZZ_CHECK(s.file_offset <= file_size && s.file_size <= file_size - s.file_offset,
                   "%s segment %zu: file bytes [0x%" PRIx64 ", +0x%" PRIx64 ") lie outside the %zu-byte file",
                   image.format.c_str(), i, s.file_offset, s.file_size, file_size);
        FUZZ_CHECK(s.file_size <= s.memory_size,
                   "%s segment %zu: file size 0x%" PRIx64 " exceeds memory size 0x%" PRIx64, image.format.c_str(), i,
                   s.file_size, s.memory_size);
        FUZZ_CHECK(s.address <= UINT64_MAX - s.memory_size, "%s segment %zu wraps past 2^64", image.format.c_str(), i);
    }
}

void check_no_stray_writes(harness& h, const std::vector<interval>& allowed, const std::vector<interval>& guards,
                           const char* when)
{
    for (const interval& g : guards)
        if (const int64_t d = first_difference(h.ram() + g.begin, h.guards.data() + g.begin, g.end - g.begin); d >= 0)
            finding("%s: guard byte 0x%" PRIx64 " (outside every segment and boot area) changed to 0x%02x", when,
                    g.begin + d, unsigned(h.ram()[g.begin + d]));
    std::vector<interval> known = allowed;
    known.insert(known.end(), guards.begin(), guards.end());
    known = normalise(known);

    auto zero_outside_known = [&](uint64_t begin, uint64_t end) {
        for_each_gap(known, begin, end, [&](uint64_t b, uint64_t e) {
            if (const int64_t d = first_difference(h.ram() + b, h.zeros.data(), e - b); d >= 0)
                finding("%s: byte 0x%" PRIx64 " (outside every segment and boot area) was written: 0x%02x", when,
                        b + d, unsigned(h.ram()[b + d]));
        });
    };
    if (!h.residency_works) {
        zero_outside_known(0, ram_size);
        return;
    }
    FUZZ_CHECK(mincore(h.ram(), ram_size, h.resident.data()) == 0, "mincore failed");
    for (uint64_t p = 0; p < ram_size / page; ++p) {
        if (!(h.resident[p] & 1))
            continue;  // never written since clear(): still zero
        const uint64_t b = p * page, e = b + page;
        bool untouchable = false;  // the whole page lies outside every allowed range and guard
        for_each_gap(known, b, e, [&](uint64_t gb, uint64_t ge) { untouchable = untouchable || (gb == b && ge == e); });
        FUZZ_CHECK(!untouchable, "%s: page 0x%" PRIx64 " was written, but holds no segment, boot area or guard", when, b);
        zero_outside_known(b, e);
    }
}

// The segments hold the file's bytes, then zeros; a later segment wins where two overlap.
void check_segment_contents(harness& h, const hbvm::multiboot_image& image, std::span<const std::byte> file)
{
    if (image.segments.size() > max_segments_for_content_check)
        return;
    std::vector<interval> claimed;  // by later segments
    for (size_t i = image.segments.size(); i-- > 0;) {
        const hbvm::image_segment& s = image.segments[i];
        const std::vector<interval> later = normalise(claimed);
        auto report = [&](uint64_t a, std::byte want) {
            finding("segment %zu of %zu (%s, 0x%" PRIx64 "+0x%" PRIx64 ", file 0x%" PRIx64 "+0x%" PRIx64
                    "): guest byte 0x%" PRIx64 " is 0x%02x, expected 0x%02x",
                    i, image.segments.size(), image.format.c_str(), s.address, s.memory_size, s.file_offset,
                    s.file_size, a, unsigned(h.ram()[a]), unsigned(want));
        };
        const uint64_t file_end = s.address + s.file_size;  // file bytes below, zeros above
        for_each_gap(later, s.address, s.address + s.memory_size, [&](uint64_t b, uint64_t e) {
            if (b < file_end) {
                const uint64_t n = std::min(e, file_end) - b;
                const std::byte* want = file.data() + s.file_offset + (b - s.address);
                if (const int64_t d = first_difference(h.ram() + b, want, n); d >= 0)
                    report(b + d, want[d]);
                b += n;
            }
            if (b < e)
                if (const int64_t d = first_difference(h.ram() + b, h.zeros.data(), e - b); d >= 0)
                    report(b + d, std::byte{0});
        });
        claimed.push_back({s.address, s.address + s.memory_size});
    }
}

template <typename T>
T read_guest(harness& h, uint64_t address)
{
    T v;
    std::memcpy(&v, h.ram() + address, sizeof v);
    return v;
}

void check_multiboot_info(harness& h, uint32_t ebx)
{
    FUZZ_CHECK(ebx == layout::multiboot_info, "write_multiboot_info returned 0x%x, not the info area", ebx);
    const auto info = read_guest<mb::info>(h, ebx);
    const uint32_t needed = mb::info_memory | mb::info_cmdline | mb::info_memory_map | mb::info_loader_name;
    FUZZ_CHECK((info.flags & needed) == needed, "Multiboot info flags 0x%x", info.flags);
    FUZZ_CHECK(info.mem_lower == layout::conventional_top / 1024 &&
                   info.mem_upper == (ram_size - layout::image_lowest) / 1024,
               "Multiboot info: mem_lower %u, mem_upper %u KiB", info.mem_lower, info.mem_upper);
    FUZZ_CHECK(info.mmap_addr >= layout::memory_map && info.mmap_length % sizeof(mb::mmap_entry) == 0 &&
                   info.mmap_length > 0 && info.mmap_addr + uint64_t(info.mmap_length) <= layout::loader_name,
               "Multiboot memory map at 0x%x, %u bytes, outside its area", info.mmap_addr, info.mmap_length);
    const auto last = read_guest<mb::mmap_entry>(h, info.mmap_addr + info.mmap_length - sizeof(mb::mmap_entry));
    FUZZ_CHECK(last.type == 1 && last.addr + last.len == ram_size, "the memory map does not end with RAM at 0x%" PRIx64,
               ram_size);
    FUZZ_CHECK(info.cmdline == layout::cmdline &&
                   std::memcmp(h.ram() + info.cmdline, cmdline.c_str(), cmdline.size() + 1) == 0,
               "Multiboot command line at 0x%x is not \"%s\"", info.cmdline, cmdline.c_str());
    FUZZ_CHECK(info.boot_loader_name >= layout::loader_name && info.boot_loader_name < layout::cmdline &&
                   std::memchr(h.ram() + info.boot_loader_name, 0, layout::cmdline - info.boot_loader_name),
               "Multiboot loader name at 0x%x is not a string inside its area", info.boot_loader_name);
}

// Everything else hbvm::error is a finding, with its type and message.
[[noreturn]] void unexpected_exception(const char* during)
{
    try {
        throw;
    } catch (const std::exception& e) {
        finding("%s threw %s (not hbvm::error): %s", during, typeid(e).name(), e.what());
    } catch (...) {
        finding("%s threw something that is not a std::exception", during);
    }
}

void expect_bad_image(const hbvm::error& e, const char* during)
{
    FUZZ_CHECK(e.status() == hbvm::exit_status::bad_image, "%s rejected the image with status %d, not bad_image: %s",
               during, e.status(), e.what());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
    hbvm::multiboot_image image;
    try {
        image = hbvm::parse_multiboot_image(file);
    } catch (const hbvm::error& e) {
        expect_bad_image(e, "parse_multiboot_image");
        return 0;
    } catch (...) {
        unexpected_exception("parse_multiboot_image");
    }
    check_parsed(image, size);

    harness& h = the_harness();
    if (h.touched)
        h.memory.clear();
    h.touched = true;

    // Allowed: the segments, and the boot areas once the whole load succeeded.
    std::vector<interval> segments;
    for (const hbvm::image_segment& s : image.segments)
        segments.push_back({s.address, s.address + s.memory_size});
    const std::vector<interval> boot_areas = {
        {layout::multiboot_info, layout::memory_map},
        {layout::memory_map, layout::loader_name},
        {layout::loader_name, layout::cmdline},
        {layout::cmdline, layout::cmdline + layout::cmdline_capacity},
    };
    std::vector<interval> all = segments;
    all.insert(all.end(), boot_areas.begin(), boot_areas.end());
    all = normalise(all);

    // Guards around every allowed range, outside all of them.
    std::vector<interval> guards;
    for (const interval& i : all) {
        for (const interval& g : {interval{i.begin >= guard_bytes ? i.begin - guard_bytes : 0, i.begin},
                                  interval{i.end, std::min(i.end + guard_bytes, ram_size)}})
            for_each_gap(all, g.begin, g.end, [&](uint64_t b, uint64_t e) { guards.push_back({b, e}); });
    }
    guards = normalise(guards);
    for (const interval& g : guards)
        std::memcpy(h.ram() + g.begin, h.guards.data() + g.begin, g.end - g.begin);

    bool loaded = false;
    try {
        hbvm::load_multiboot_image(image, file, h.memory);
        loaded = true;
    } catch (const hbvm::error& e) {
        expect_bad_image(e, "load_multiboot_image");
    } catch (...) {
        unexpected_exception("load_multiboot_image");
    }
    if (!loaded) {
        // A rejected load may have placed some segments, and nothing else.
        check_no_stray_writes(h, normalise(segments), guards, "rejected load");
        return 0;
    }

    uint32_t ebx = 0;
    try {
        ebx = hbvm::write_multiboot_info(h.memory, cmdline);
    } catch (...) {
        unexpected_exception("write_multiboot_info");
    }
    check_no_stray_writes(h, all, guards, "after load and write_multiboot_info");
    check_segment_contents(h, image, file);
    bool entry_in_segment = false;
    for (const hbvm::image_segment& s : image.segments)
        entry_in_segment = entry_in_segment || (image.entry >= s.address && image.entry - s.address < s.memory_size);
    FUZZ_CHECK(entry_in_segment, "%s: entry point 0x%x lies in no loaded segment", image.format.c_str(), image.entry);
    check_multiboot_info(h, ebx);
    return 0;
}

// Repairs the checksum of the first Multiboot header (where parse looks for it) in
// three mutants in four.
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed)
{
    size = LLVMFuzzerMutate(data, size, max_size);
    if (seed % 4 == 0)
        return size;
    const size_t limit = std::min<size_t>(size, 8192);
    for (size_t off = 0; off + 12 <= limit; off += 4) {
        uint32_t magic, flags;
        std::memcpy(&magic, data + off, 4);
        if (magic != mb::header_magic)
            continue;
        std::memcpy(&flags, data + off + 4, 4);
        const uint32_t checksum = uint32_t(0) - mb::header_magic - flags;
        std::memcpy(data + off + 8, &checksum, 4);
        break;
    }
    return size;
}
