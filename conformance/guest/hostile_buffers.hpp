// The one list of hostile buffers every conformance image passes to calls that
// take a buffer: each must be refused with INVALID_ADDRESS (HB-GEN-003) before
// the host touches a byte. Images used to keep lists of their own, which drifted
// apart; add a case here and every image that tests buffers gets it.
#ifndef HYPERBIOS_CONFORMANCE_HOSTILE_BUFFERS_HPP
#define HYPERBIOS_CONFORMANCE_HOSTILE_BUFFERS_HPP

#include <stddef.h>
#include <stdint.h>

namespace conformance {

struct hostile_buffer {
    uint64_t address, length;
    const char* what;  // "a buffer straddling the end of RAM": completes "<call> with ..."
    bool needs_ram_end;  // meaningful only when the end of RAM is known
};

// `ram_end`: the end of the highest RAM the boot protocol reported (0: unknown);
// `inside`: the address of a small buffer that lies in RAM. Fills `out` (room
// for hostile_buffer_count entries) and returns how many apply.
inline constexpr size_t hostile_buffer_count = 8;

inline size_t hostile_buffers(uint64_t ram_end, uint64_t inside, hostile_buffer (&out)[hostile_buffer_count])
{
    const hostile_buffer all[hostile_buffer_count] = {
        {ram_end, 1, "a one-byte buffer at the end of RAM", true},
        {ram_end - 8, 16, "a buffer straddling the end of RAM", true},
        {ram_end + 0x100000000ull, 16, "a buffer 4 GiB past the end of RAM", true},
        {0x100000000000ull, 16, "a buffer at 16 TiB", false},
        {~0ull - 7, 16, "a buffer whose end wraps past 2^64", false},
        {inside, ~0ull, "a length of 2^64 - 1", false},
        {0x1000, ~0ull - 0xFFF + 1, "an address + length that wraps to exactly 0", false},
        {inside, 0x8000000000000000ull, "a length of 2^63", false},
    };
    size_t n = 0;
    for (const hostile_buffer& b : all)
        if (ram_end != 0 || !b.needs_ram_end)
            out[n++] = b;
    return n;
}

}  // namespace conformance

#endif
