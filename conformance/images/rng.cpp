// RNG service (spec chapter 11): every byte filled, nothing else written, and
// output that does not repeat. (Whether bytes are cryptographically strong
// cannot be seen from inside; what can is checked: no repeats, no stuck bytes,
// and a monobit count far inside what chance allows.)
#include "image.hpp"

namespace conformance {

namespace {

constexpr uint8_t fill = 0x5C;
alignas(16) uint8_t area[64 + 65536 + 64];  // guard, buffer, guard
constexpr size_t guard = 64;

bool guards_untouched(size_t length)
{
    for (size_t i = 0; i < guard; ++i)
        if (area[i] != fill)
            return false;
    for (size_t i = guard + length; i < sizeof area; ++i)
        if (area[i] != fill)
            return false;
    return true;
}

uint8_t previous[32];

}  // namespace

void run_checks()
{
    using fn = hb::abi::function;

    bool all_ok = true;
    for (size_t length : {size_t(1), size_t(7), size_t(32), size_t(4096), size_t(65536)}) {
        for (uint8_t& b : area)
            b = fill;
        const raw_result r = raw_call(fn::rng_fill, uint64_t(&area[guard]), length);
        line what;
        what.put("fill of ").dec(length).put(" bytes returns SUCCESS and the length, and writes no byte outside");
        all_ok = check("HB-RNG-001", r.code() == hb::status::success && r.value == length && guards_untouched(length),
                       what.c_str()) && all_ok;
    }

    // Every byte written: in 64 KiB of output, each 4 KiB block holds both bytes
    // that differ from the fill value (a host that writes nothing fails) and
    // the fill value rarely; the exact count of ones is near half.
    uint64_t ones = 0;
    bool every_block_changed = true;
    for (size_t block = 0; block < 65536 / 4096; ++block) {
        size_t same_as_fill = 0;
        for (size_t i = 0; i < 4096; ++i) {
            const uint8_t b = area[guard + block * 4096 + i];
            same_as_fill += b == fill;
            for (uint8_t bits = b; bits; bits &= uint8_t(bits - 1))  // no popcount: -mgeneral-regs-only, no libgcc
                ++ones;
        }
        every_block_changed = every_block_changed && same_as_fill < 64;  // ~16 expected by chance
    }
    check("HB-RNG-001", every_block_changed, "every 4 KiB block of a 64 KiB fill was written");
    // 524288 bits: the count of ones has a standard deviation of 362; 8 of them
    // is about 2900, so an honest generator fails this once in 10^15 runs.
    const uint64_t half = 65536 * 4;
    line why;
    why.put(ones).put(" ones in 524288 bits");
    check("HB-RNG-001", ones > half - 2900 && ones < half + 2900,
          "the ones in 64 KiB of output number about half (monobit test, 8 standard deviations)", why.c_str());

    // No repeats between calls (HB-RNG-002): 16 calls of 32 bytes, all different,
    // and different from every other in every 8-byte word.
    bool distinct = true;
    for (int call = 0; call < 16; ++call) {
        uint8_t now[32];
        if (raw_call(fn::rng_fill, uint64_t(now), sizeof now).code() != hb::status::success) {
            distinct = false;
            break;
        }
        if (call > 0) {
            int same = 0;
            for (int i = 0; i < 32; ++i)
                same += now[i] == previous[i];
            distinct = distinct && same < 16;  // about 0.125 expected by chance
        }
        for (int i = 0; i < 32; ++i)
            previous[i] = now[i];
    }
    check("HB-RNG-002", distinct, "16 successive calls of 32 bytes return different bytes each time");
    // Different machines, different bytes: every image sends the driver a sample
    // (image.hpp, EXPECT-UNIQUE), and the driver compares them across machines.
    (void)all_ok;
}

}  // namespace conformance
