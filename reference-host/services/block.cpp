// BLOCK: the host's disks (--disk) as numbered devices of sectors. Every
// transfer is done before the call returns; flush is fdatasync.
#include "services/services.hpp"

#include "devices/device_set.hpp"
#include "devices/disk.hpp"

#include <algorithm>
#include <cstring>

namespace hbvm {

namespace {

// Limits this host reports in every info record (the spec's floors: 1 MiB, 256).
constexpr uint32_t max_transfer = 8u << 20;
constexpr uint32_t max_segments = 1024;

class block_module final : public service_module {
public:
    explicit block_module(const service_context& context) : disks_(context.devices.all<disk>("disk")) {}

    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::block_count, [this](const call&) { return succeed(disks_.size()); });
        d.add(fn::block_info, [this](const call& c) { return info(*disks_[c.arg(0)], c.out_buffer(1)); });
        d.add(fn::block_read, [this](const call& c) { return read(*disks_[c.arg(0)], c); });
        d.add(fn::block_write, [this](const call& c) { return write(*disks_[c.arg(0)], c); });
        d.add(fn::block_read_vectored, [this](const call& c) { return vectored(*disks_[c.arg(0)], c, false); });
        d.add(fn::block_write_vectored, [this](const call& c) { return vectored(*disks_[c.arg(0)], c, true); });
        d.add(fn::block_flush, [this](const call& c) {
            return disks_[c.arg(0)]->flush() ? succeed() : fail(abi::status::io_error);
        });
    }

    // Nothing to reset: a disk keeps its contents across a reset (HB-BLK-006);
    // every write is already in the file, none is held in hbvm.
    void reset(boot_cause) override {}

private:
    static call_result info(const disk& dev, std::span<std::byte> out)
    {
        abi::blk_info record{};
        record.size = sizeof record;
        record.version = 1;
        record.sector_count = dev.sector_count();
        record.sector_size = dev.sector_size();
        // Writes go to the host's page cache: they survive the process but not
        // the host machine until fdatasync, so flush matters.
        record.flags = uint32_t(abi::blk_flags::volatile_write_cache) |
                       (dev.read_only() ? uint32_t(abi::blk_flags::read_only) : 0u);
        record.max_transfer = max_transfer;
        record.max_segments = max_segments;
        // Up to the whole field: a 32-byte name has no NUL after it (spec 12.3.1).
        std::memcpy(record.name, dev.name().data(), std::min(dev.name().size(), sizeof record.name));
        std::memcpy(record.id, dev.id().data(), sizeof record.id);
        std::copy_n(reinterpret_cast<const std::byte*>(&record), std::min(out.size(), sizeof record), out.begin());
        return succeed(sizeof record);
    }

    // The checks of a transfer of `length` bytes from `first_sector` (spec 12.4).
    static bool fits(const disk& dev, uint64_t first_sector, uint64_t length)
    {
        if (length % dev.sector_size() != 0 || length > max_transfer)
            return false;
        const uint64_t sectors = length / dev.sector_size();
        return first_sector <= dev.sector_count() && sectors <= dev.sector_count() - first_sector;
    }

    static call_result read(const disk& dev, const call& c)
    {
        const uint64_t first = c.arg(1), length = c.arg(3);
        if (length == 0)
            return succeed(0);
        if (!fits(dev, first, length))
            return fail(abi::status::invalid_param);
        return dev.read(first * dev.sector_size(), c.out_buffer(2)) ? succeed(length) : fail(abi::status::io_error);
    }

    static call_result write(disk& dev, const call& c)
    {
        const uint64_t first = c.arg(1), length = c.arg(3);
        // A read-only device refuses every write, 0 bytes included, after the
        // argument checks (spec 12.5): its rights are a check of step 7 (2.1).
        if (length == 0)
            return dev.read_only() ? fail(abi::status::denied) : succeed(0);
        if (!fits(dev, first, length))
            return fail(abi::status::invalid_param);
        if (dev.read_only())
            return fail(abi::status::denied);
        return dev.write(first * dev.sector_size(), c.in_buffer(2)) ? succeed(length) : fail(abi::status::io_error);
    }

    // Every segment and the whole transfer are checked before a byte moves (HB-BLK-008).
    static call_result vectored(disk& dev, const call& c, bool writes)
    {
        const uint64_t first = c.arg(1), list_length = c.arg(3);
        if (list_length % sizeof(abi::blk_segment) != 0 || list_length / sizeof(abi::blk_segment) > max_segments)
            return fail(abi::status::invalid_param);
        // A copy of the list: the segments may overlap it, and the guest's view
        // of it must not change between the checks and the transfer.
        std::vector<abi::blk_segment> segments(list_length / sizeof(abi::blk_segment));
        if (!segments.empty())
            std::memcpy(segments.data(), c.in_buffer(2).data(), list_length);
        uint64_t total = 0;
        for (const abi::blk_segment& s : segments) {
            if (s.length % dev.sector_size() != 0 || s.length > max_transfer - std::min<uint64_t>(total, max_transfer))
                return fail(abi::status::invalid_param);
            total += s.length;
        }
        if (total == 0)
            return writes && dev.read_only() ? fail(abi::status::denied) : succeed(0);
        if (!fits(dev, first, total))
            return fail(abi::status::invalid_param);
        // Every segment's guest memory, checked before a byte moves.
        std::vector<std::span<const std::byte>> sources;
        for (const abi::blk_segment& s : segments) {
            const auto range = c.guest_range_to_read(s.address, s.length);
            if (!range)
                return fail(abi::status::invalid_address);
            sources.push_back(*range);
        }
        if (writes && dev.read_only())
            return fail(abi::status::denied);
        uint64_t offset = first * dev.sector_size();
        for (size_t i = 0; i < segments.size(); ++i) {
            bool ok;
            if (writes) {
                ok = dev.write(offset, sources[i]);
            } else {
                // The same range as checked; asking again records it as written.
                const auto target = c.guest_range_to_write(segments[i].address, segments[i].length);
                ok = target && dev.read(offset, *target);
            }
            if (!ok)
                return fail(abi::status::io_error);
            offset += segments[i].length;
        }
        return succeed(total);
    }

    const std::vector<disk*> disks_;
};

}  // namespace

std::unique_ptr<service_module> make_block_module(const service_context& context)
{
    return std::make_unique<block_module>(context);
}

}  // namespace hbvm
