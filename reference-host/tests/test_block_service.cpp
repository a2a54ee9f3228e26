// The BLOCK service through the dispatcher, on real files: the checks of spec
// chapter 12 in the order it gives, round trips, read-only disks, vectored
// transfers that are checked whole before a byte moves, and the --disk parser.
#include "core/dispatcher.hpp"
#include "core/error.hpp"
#include "devices/clock.hpp"
#include "devices/disk.hpp"
#include "devices/device_set.hpp"
#include "devices/terminal.hpp"
#include "core/event_hub.hpp"
#include "services/services.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace hbvm {

namespace {

constexpr uint64_t ram = 4 << 20;
constexpr uint64_t buffer_at = 0x100000;  // guest-physical scratch for the tests

std::string make_disk(uint64_t bytes, uint8_t seed)
{
    char path[] = "/tmp/hbvm-block-test-XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    std::vector<uint8_t> content(bytes);
    for (uint64_t i = 0; i < bytes; ++i)
        content[i] = uint8_t(i * 7 + seed + (i >> 9));
    EXPECT_EQ(write(fd, content.data(), bytes), ssize_t(bytes));
    close(fd);
    return path;
}

class BlockService : public ::testing::Test {
protected:
    BlockService() : memory(ram), policy(full_profile()), d(memory, policy), term(-1, -1)
    {
        paths = {make_disk(1 << 20, 1), make_disk(1 << 20, 2), make_disk(64 << 10, 3)};
        disks.push_back(std::make_unique<disk>(disk_spec{paths[0], false, "", 512}, "disk0"));
        disks.push_back(std::make_unique<disk>(disk_spec{paths[1], false, "", 4096}, "disk1"));
        disks.push_back(std::make_unique<disk>(disk_spec{paths[2], true, "", 512}, "roms"));
        devices.attach("console", term);
        for (auto& p : disks)
            devices.attach("disk", *p);
        services = std::make_unique<service_set>(service_registry(),
                                                 service_context{devices, clock, {1, 1, "t"}, ram, events}, d);
        d.on_guest_write = [this](uint64_t a, uint64_t l) { written.push_back({a, l}); };
    }
    ~BlockService() override
    {
        services.reset();
        disks.clear();
        for (const std::string& p : paths)
            unlink(p.c_str());
    }

    call_result call(abi::function f, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0)
    {
        return d.dispatch({uint64_t(f), {a0, a1, a2, a3, 0}});
    }
    std::byte* at(uint64_t gpa) { return memory.write(guest_address{gpa}, 1)->data(); }
    std::vector<uint8_t> file_bytes(size_t which, uint64_t offset, size_t n)
    {
        std::vector<uint8_t> out(n);
        const int fd = open(paths[which].c_str(), O_RDONLY);
        EXPECT_EQ(pread(fd, out.data(), n, off_t(offset)), ssize_t(n));
        close(fd);
        return out;
    }

    guest_memory memory;
    profile policy;
    dispatcher d;
    terminal term;
    clock_source clock;
    event_hub events;
    std::vector<std::string> paths;
    std::vector<std::unique_ptr<disk>> disks;
    device_set devices;
    std::unique_ptr<service_set> services;
    std::vector<std::pair<uint64_t, uint64_t>> written;
};

using fn = abi::function;

TEST_F(BlockService, CountAndInfo)
{
    EXPECT_EQ(call(fn::block_count).value, 3u);
    const call_result r = call(fn::block_info, 2, buffer_at, 4096);
    ASSERT_EQ(r.status, abi::status::success);
    ASSERT_EQ(r.value, sizeof(abi::blk_info));
    abi::blk_info info;
    std::memcpy(&info, at(buffer_at), sizeof info);
    EXPECT_EQ(info.size, sizeof info);
    EXPECT_EQ(info.version, 1);
    EXPECT_EQ(info.sector_count, (64u << 10) / 512);
    EXPECT_EQ(info.sector_size, 512u);
    EXPECT_TRUE(info.flags & abi::blk_flags::read_only);
    EXPECT_GE(info.max_transfer, 1u << 20);
    EXPECT_GE(info.max_segments, 256u);
    EXPECT_STREQ(reinterpret_cast<const char*>(info.name), "roms");
    EXPECT_EQ(call(fn::block_info, 3, buffer_at, 4096).status, abi::status::invalid_param);  // no device 3
    // A short buffer gets the record's first bytes only.
    std::memset(at(buffer_at), 0xEE, 16);
    EXPECT_EQ(call(fn::block_info, 0, buffer_at, 6).value, sizeof(abi::blk_info));
    EXPECT_EQ(uint8_t(*at(buffer_at + 6)), 0xEE);
}

TEST_F(BlockService, ReadWriteRoundTripAndBoundaries)
{
    const uint64_t last = (1u << 20) / 512 - 1;
    EXPECT_EQ(call(fn::block_read, 0, last, buffer_at, 512).value, 512u);
    EXPECT_EQ(std::memcmp(at(buffer_at), file_bytes(0, last * 512, 512).data(), 512), 0);
    EXPECT_EQ(call(fn::block_read, 0, last, buffer_at, 1024).status, abi::status::invalid_param);  // one past the end
    EXPECT_EQ(call(fn::block_read, 0, last + 1, buffer_at, 512).status, abi::status::invalid_param);
    EXPECT_EQ(call(fn::block_read, 0, ~0ull, buffer_at, 512).status, abi::status::invalid_param);  // no wrap
    EXPECT_EQ(call(fn::block_read, 0, 0, buffer_at, 100).status, abi::status::invalid_param);      // not a sector
    EXPECT_EQ(call(fn::block_read, 1, 0, buffer_at, 512).status, abi::status::invalid_param);      // 4096-byte sectors
    EXPECT_EQ(call(fn::block_read, 0, ~0ull, buffer_at, 0).status, abi::status::success);          // length 0
    EXPECT_EQ(call(fn::block_read, 0, 0, ram - 256, 512).status, abi::status::invalid_address);

    std::memset(at(buffer_at), 0x42, 4096);
    written.clear();
    ASSERT_EQ(call(fn::block_write, 1, 255, buffer_at, 4096).value, 4096u);  // the last 4 KiB sector
    EXPECT_EQ(file_bytes(1, 255 * 4096, 4096), std::vector<uint8_t>(4096, 0x42));
    EXPECT_TRUE(written.empty());  // a write reads guest memory only
    EXPECT_EQ(call(fn::block_read, 1, 255, buffer_at + 8192, 4096).value, 4096u);
    EXPECT_EQ(std::memcmp(at(buffer_at + 8192), at(buffer_at), 4096), 0);
    EXPECT_EQ(call(fn::block_flush, 1).status, abi::status::success);
}

TEST_F(BlockService, ReadOnlyDiskRefusesWritesAndKeepsItsContents)
{
    const std::vector<uint8_t> before = file_bytes(2, 0, 1024);
    EXPECT_EQ(call(fn::block_write, 2, 0, buffer_at, 1024).status, abi::status::denied);
    const abi::blk_segment seg{buffer_at, 512};
    std::memcpy(at(buffer_at + 8192), &seg, sizeof seg);
    EXPECT_EQ(call(fn::block_write_vectored, 2, 0, buffer_at + 8192, sizeof seg).status, abi::status::denied);
    // Every write, of any length: 0 bytes and an empty list are DENIED too, but
    // only after the argument and buffer checks (spec 12.5, 2.1).
    EXPECT_EQ(call(fn::block_write, 2, 0, buffer_at, 0).status, abi::status::denied);
    EXPECT_EQ(call(fn::block_write, 2, ~0ull, buffer_at, 0).status, abi::status::denied);
    EXPECT_EQ(call(fn::block_write_vectored, 2, 0, buffer_at + 8192, 0).status, abi::status::denied);
    EXPECT_EQ(call(fn::block_write, 2, 0, buffer_at, 100).status, abi::status::invalid_param);
    EXPECT_EQ(call(fn::block_write, 2, 0, ~0ull - 100, 512).status, abi::status::invalid_address);
    EXPECT_EQ(call(fn::block_write, 0, 0, buffer_at, 0).status, abi::status::success);  // writable: nothing to refuse
    EXPECT_EQ(file_bytes(2, 0, 1024), before);
    EXPECT_EQ(call(fn::block_flush, 2).status, abi::status::success);  // flush is always accepted
}

TEST_F(BlockService, VectoredTransfersMoveSegmentsInOrder)
{
    const abi::blk_segment segs[3] = {{0x200000, 512}, {0x300000, 1024}, {0x280000, 512}};
    std::memcpy(at(buffer_at), segs, sizeof segs);
    written.clear();
    ASSERT_EQ(call(fn::block_read_vectored, 0, 10, buffer_at, sizeof segs).value, 2048u);
    EXPECT_EQ(std::memcmp(at(0x200000), file_bytes(0, 10 * 512, 512).data(), 512), 0);
    EXPECT_EQ(std::memcmp(at(0x300000), file_bytes(0, 11 * 512, 1024).data(), 1024), 0);
    EXPECT_EQ(std::memcmp(at(0x280000), file_bytes(0, 13 * 512, 512).data(), 512), 0);
    EXPECT_EQ(written.size(), 3u);  // each segment reported, so code caches drop it

    std::memset(at(0x200000), 0x11, 512);
    std::memset(at(0x300000), 0x22, 1024);
    std::memset(at(0x280000), 0x33, 512);
    ASSERT_EQ(call(fn::block_write_vectored, 0, 100, buffer_at, sizeof segs).value, 2048u);
    std::vector<uint8_t> expect(2048, 0x22);
    std::fill(expect.begin(), expect.begin() + 512, 0x11);
    std::fill(expect.begin() + 1536, expect.end(), 0x33);
    EXPECT_EQ(file_bytes(0, 100 * 512, 2048), expect);
}

TEST_F(BlockService, VectoredCallsAreCheckedWholeBeforeAnyByteMoves)
{
    const std::vector<uint8_t> before = file_bytes(0, 0, 4096);
    const abi::blk_segment bad_address[2] = {{0x200000, 512}, {ram - 256, 512}};
    std::memcpy(at(buffer_at), bad_address, sizeof bad_address);
    std::memset(at(0x200000), 0x77, 512);
    EXPECT_EQ(call(fn::block_write_vectored, 0, 0, buffer_at, sizeof bad_address).status,
              abi::status::invalid_address);
    EXPECT_EQ(call(fn::block_read_vectored, 0, 0, buffer_at, sizeof bad_address).status,
              abi::status::invalid_address);
    EXPECT_EQ(uint8_t(*at(0x200000)), 0x77);  // nothing read into the good segment
    EXPECT_EQ(file_bytes(0, 0, 4096), before);  // nothing written

    const abi::blk_segment odd[2] = {{0x200000, 512}, {0x300000, 100}};
    std::memcpy(at(buffer_at), odd, sizeof odd);
    EXPECT_EQ(call(fn::block_read_vectored, 0, 0, buffer_at, sizeof odd).status, abi::status::invalid_param);
    EXPECT_EQ(call(fn::block_read_vectored, 0, 0, buffer_at, 24).status, abi::status::invalid_param);  // not 16n
    EXPECT_EQ(call(fn::block_read_vectored, 0, 0, buffer_at, 0).value, 0u);  // empty list
    const abi::blk_segment past_end[1] = {{0x200000, 1024}};
    std::memcpy(at(buffer_at), past_end, sizeof past_end);
    EXPECT_EQ(call(fn::block_read_vectored, 0, 2047, buffer_at, sizeof past_end).status, abi::status::invalid_param);
}

TEST(DiskSpec, ParsesOptionsAndRefusesBadOnes)
{
    const disk_spec s = parse_disk_spec("a.img,ro,name=boot,sector=4096");
    EXPECT_EQ(s.path, "a.img");
    EXPECT_TRUE(s.read_only);
    EXPECT_EQ(s.name, "boot");
    EXPECT_EQ(s.sector_size, 4096u);
    EXPECT_THROW(parse_disk_spec("a.img,sector=1024"), error);
    EXPECT_THROW(parse_disk_spec(",ro"), error);
    EXPECT_THROW(parse_disk_spec("a.img,fast"), error);
}

TEST(Disk, RefusesFilesItCannotUseBeforeBoot)
{
    EXPECT_THROW(disk(disk_spec{"/nonexistent/disk.img", false, "", 512}, "d"), error);
    const std::string odd = make_disk(1000, 0);
    try {
        disk d(disk_spec{odd, false, "", 512}, "d");
        ADD_FAILURE() << "a 1000-byte file was accepted as a 512-byte-sector disk";
    } catch (const error& e) {
        EXPECT_EQ(e.status(), exit_status::bad_disk);
        EXPECT_NE(std::string(e.what()).find("not a multiple of the sector size"), std::string::npos);
    }
    const std::string ok = make_disk(4096, 0);
    disk first(disk_spec{ok, false, "", 512}, "a");
    EXPECT_THROW(disk(disk_spec{ok, false, "", 512}, "b"), error);  // locked by the first
    unlink(odd.c_str());
    unlink(ok.c_str());
}

}  // namespace

}  // namespace hbvm
