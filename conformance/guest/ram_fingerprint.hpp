// A fingerprint of all guest RAM, for HB-GEN-005 (a host writes no guest memory
// but the out buffers of the call it serves): take one before a batch of calls
// and one after; any byte the host wrote outside the buffers changes it.
//
// The fingerprint covers every byte of RAM the boot protocol reports, minus the
// ranges the caller excludes — the out buffers, and what the CPU or the check
// itself writes meanwhile (the stack, the page tables, whose accessed and dirty
// bits the CPU sets while the fingerprint walks RAM). Exclusions are exact to
// the byte, so a one-byte overrun of an out buffer is caught here too.
//
// Cost: one load, one XOR and one multiply per 8 bytes; the four lanes of the
// loop are independent so that a CPU can overlap them.
#ifndef HYPERBIOS_CONFORMANCE_RAM_FINGERPRINT_HPP
#define HYPERBIOS_CONFORMANCE_RAM_FINGERPRINT_HPP

#include "raw.hpp"

#include <hyperbios/boot/multiboot.hpp>
#include <stddef.h>
#include <stdint.h>

namespace conformance {

// [first, end): `end` is one past the last byte.
struct byte_range {
    uint64_t first, end;
};

struct range_list {
    static constexpr size_t capacity = 64;
    byte_range items[capacity];
    size_t count = 0;
    bool overflowed = false;  // more ranges than `capacity`: some RAM is not covered

    void add(uint64_t first, uint64_t end)
    {
        if (first >= end)
            return;
        if (count == capacity) {
            overflowed = true;
            return;
        }
        items[count++] = {first, end};
    }
    uint64_t bytes() const
    {
        uint64_t n = 0;
        for (size_t i = 0; i < count; ++i)
            n += items[i].end - items[i].first;
        return n;
    }
};

// RAM as the boot protocol reports it: the memory map's available (type 1)
// entries, below conformance::ram_end and the end of the boot stub's identity
// map (all RAM the loader reports, unless there is more than its page tables
// reach: then what lies above cannot be read without new tables). Without a
// memory map: [1 MiB, ram_end), the range Multiboot's mem_upper describes.
inline range_list reported_ram()
{
    range_list ram;
    const uint64_t mapped = hb::boot::identity_map_end();
    const uint64_t limit = ram_end < mapped ? ram_end : mapped;
    if (loader_info.memory_map_from_loader())  // Multiboot or PVH, as the library read it
        for (const hb::memory_region& r : loader_info.memory_map())
            if (r.is_usable() && r.base < limit)
                ram.add(r.base, r.length > limit - r.base ? limit : r.base + r.length);
    if (ram.count == 0)
        ram.add(0x100000, limit);
    return ram;
}

// `from` without every byte of the `excluded` ranges (any order, may overlap).
inline range_list without(const range_list& from, const byte_range* excluded, size_t excluded_count)
{
    range_list result = from;
    for (size_t x = 0; x < excluded_count; ++x) {
        const byte_range cut = excluded[x];
        range_list next;
        next.overflowed = result.overflowed;
        for (size_t i = 0; i < result.count; ++i) {
            const byte_range r = result.items[i];
            if (cut.end <= r.first || cut.first >= r.end) {
                next.add(r.first, r.end);
                continue;
            }
            next.add(r.first, cut.first);  // empty when the cut starts before r
            next.add(cut.end, r.end);
        }
        result = next;
    }
    return result;
}

namespace detail {

inline constexpr uint64_t fingerprint_prime = 0x100000001B3ull;  // FNV-1a's 64-bit prime
inline constexpr uint64_t fingerprint_seed = 0xCBF29CE484222325ull;

// Reads RAM as 8-byte words whatever object lives there.
typedef uint64_t __attribute__((may_alias)) aliasing_word;

// (h ^ w) * odd prime is a bijection of h for a fixed w, so one changed word
// always changes the lane it goes into, and later words cannot undo that.
[[gnu::noinline]] inline uint64_t fingerprint_words(const aliasing_word* p, uint64_t words, uint64_t h)
{
    uint64_t h0 = h, h1 = h ^ 1, h2 = h ^ 2, h3 = h ^ 3;
    uint64_t i = 0;
    for (; i + 4 <= words; i += 4) {
        h0 = (h0 ^ p[i]) * fingerprint_prime;
        h1 = (h1 ^ p[i + 1]) * fingerprint_prime;
        h2 = (h2 ^ p[i + 2]) * fingerprint_prime;
        h3 = (h3 ^ p[i + 3]) * fingerprint_prime;
    }
    for (; i < words; ++i)
        h0 = (h0 ^ p[i]) * fingerprint_prime;
    // Lanes combined in order, each step again a bijection of the running value.
    h = (h0 ^ words) * fingerprint_prime;
    h = (h ^ h1) * fingerprint_prime;
    h = (h ^ h2) * fingerprint_prime;
    return (h ^ h3) * fingerprint_prime;
}

inline uint64_t fingerprint_bytes(const volatile uint8_t* p, uint64_t n, uint64_t h)
{
    for (uint64_t i = 0; i < n; ++i)
        h = (h ^ p[i]) * fingerprint_prime;
    return h;
}

}  // namespace detail

// Fingerprints of RAM in chunks, so that a changed fingerprint also says where
// the host wrote: digest.chunk[k] covers the bytes of `ranges` in
// [k * chunk_size, (k + 1) * chunk_size). Chunks are 1 MiB while RAM ends at or
// below 4 GiB, and twice as large for each doubling of RAM above, so that the
// digest keeps its size. Unaligned heads and tails go byte by byte, the rest by
// words.
inline constexpr size_t digest_count = 4096;

struct ram_digest {
    uint64_t chunk_size;
    uint64_t chunk[digest_count];
};

inline void fingerprint(const range_list& ranges, ram_digest& digest)
{
    uint64_t digest_chunk = 0x100000;
    for (size_t i = 0; i < ranges.count; ++i)
        while (ranges.items[i].end > digest_chunk * digest_count)
            digest_chunk *= 2;
    digest.chunk_size = digest_chunk;
    for (uint64_t& d : digest.chunk)
        d = detail::fingerprint_seed;
    // The bytes are read through pointers the compiler cannot see written; make
    // sure it reads them afresh on every call.
    asm volatile("" ::: "memory");
    for (size_t i = 0; i < ranges.count; ++i) {
        for (uint64_t first = ranges.items[i].first; first < ranges.items[i].end;) {
            const uint64_t k = first / digest_chunk;
            const uint64_t chunk_end = (k + 1) * digest_chunk;
            const uint64_t end = ranges.items[i].end < chunk_end ? ranges.items[i].end : chunk_end;
            uint64_t& h = digest.chunk[k];
            const uint64_t aligned_first = (first + 7) & ~7ull;
            const uint64_t aligned_end = end & ~7ull;
            if (aligned_first >= aligned_end) {
                h = detail::fingerprint_bytes(reinterpret_cast<const volatile uint8_t*>(first), end - first, h);
            } else {
                h = detail::fingerprint_bytes(reinterpret_cast<const volatile uint8_t*>(first), aligned_first - first, h);
                h = detail::fingerprint_words(reinterpret_cast<const detail::aliasing_word*>(aligned_first),
                                              (aligned_end - aligned_first) / 8, h);
                h = detail::fingerprint_bytes(reinterpret_cast<const volatile uint8_t*>(aligned_end), end - aligned_end,
                                              h);
            }
            first = end;
        }
    }
}

// The first chunk whose fingerprint differs, or digest_count when none does.
inline size_t first_changed_chunk(const ram_digest& before, const ram_digest& after)
{
    for (size_t k = 0; k < digest_count; ++k)
        if (before.chunk[k] != after.chunk[k])
            return k;
    return digest_count;
}

// The boot stub leaves page 0 unmapped (null pointers fault) unless the
// Multiboot information lies there. To cover it, map it for the duration of a
// check and unmap it after: both fingerprints then see the same page table.
// Returns whether it was mapped before.
inline bool map_page_zero()
{
    uint64_t* pt0 = hb::boot::boot_page_tables().pt0;
    const bool was_mapped = pt0[0] & 1;
    if (!was_mapped) {
        pt0[0] = 0x3;  // present, writable, physical page 0
        asm volatile("invlpg (%0)" : : "r"(uint64_t(0)) : "memory");
    }
    return was_mapped;
}

inline void unmap_page_zero(bool was_mapped)
{
    if (was_mapped)
        return;
    hb::boot::boot_page_tables().pt0[0] = 0;
    asm volatile("invlpg (%0)" : : "r"(uint64_t(0)) : "memory");
}

// The boot stub's page tables: the CPU sets accessed and dirty bits in them
// while the fingerprint and the calls touch memory, so they cannot be covered.
inline size_t page_table_ranges(byte_range (&out)[4])
{
    const hb::boot::page_tables t = hb::boot::boot_page_tables();
    out[0] = {uint64_t(t.pml4), uint64_t(t.pml4) + 4096};
    out[1] = {uint64_t(t.pdpt), uint64_t(t.pdpt) + 4096};
    out[2] = {uint64_t(t.pd), uint64_t(t.pd) + hb::boot::page_directories * 4096ull};
    out[3] = {uint64_t(t.pt0), uint64_t(t.pt0) + 4096};
    return 4;
}

// The stack the check and everything it calls use: from `below` bytes under
// the current stack pointer (rounded down to a page) to the end of the frame
// that `frame` (the check's __builtin_frame_address(0)) starts: its saved frame
// pointer and return address. Frames further up belong to callers that do not
// run meanwhile, and the fingerprint covers them.
[[gnu::always_inline]] inline byte_range stack_range(uint64_t below, const void* frame)
{
    uint64_t rsp;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    return {(rsp - below) & ~0xFFFull, uint64_t(frame) + 16};
}

}  // namespace conformance

#endif
