// BLOCK service: the host's disks as numbered devices of sectors (spec chapter 12).
#ifndef HYPERBIOS_BLOCK_HPP
#define HYPERBIOS_BLOCK_HPP

#include <hyperbios/call.hpp>

namespace hyperbios::block {

using info_record = abi::blk_info;
using segment = abi::blk_segment;

// How many devices there are (0 without a host or without disks).
inline result<uint64_t> count() noexcept { return detail::call<abi::function::block_count>(); }

// The device's info record; the value is the record's full size on the host
// (a later version's may be longer: check `size` and `version`).
inline result<size_t> info(uint16_t device, info_record& out) noexcept
{
    return detail::call<abi::function::block_info>(device, gpa{detail::to_gpa(&out)}, sizeof out);
}

// Reads `length` bytes (a multiple of the sector size) from `first_sector` on.
inline result<size_t> read(uint16_t device, uint64_t first_sector, void* buffer, size_t length) noexcept
{
    return detail::call<abi::function::block_read>(device, first_sector, gpa{detail::to_gpa(buffer)}, length);
}

// Writes `length` bytes (a multiple of the sector size) from `first_sector` on.
inline result<size_t> write(uint16_t device, uint64_t first_sector, const void* buffer, size_t length) noexcept
{
    return detail::call<abi::function::block_write>(device, first_sector, gpa{detail::to_gpa(buffer)}, length);
}

// One transfer through `count` segments, in order, from `first_sector` on.
inline result<size_t> read_vectored(uint16_t device, uint64_t first_sector, const segment* segments,
                                    size_t count) noexcept
{
    return detail::call<abi::function::block_read_vectored>(device, first_sector, gpa{detail::to_gpa(segments)},
                                                            count * sizeof(segment));
}

inline result<size_t> write_vectored(uint16_t device, uint64_t first_sector, const segment* segments,
                                     size_t count) noexcept
{
    return detail::call<abi::function::block_write_vectored>(device, first_sector, gpa{detail::to_gpa(segments)},
                                                             count * sizeof(segment));
}

// Makes every write that completed before it durable.
inline result<uint64_t> flush(uint16_t device) noexcept { return detail::call<abi::function::block_flush>(device); }

}  // namespace hyperbios::block

#endif
