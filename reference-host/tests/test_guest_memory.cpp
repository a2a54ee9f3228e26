#include "core/guest_memory.hpp"

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <utility>

using hbvm::guest_address;
using hbvm::guest_memory;

namespace {
constexpr uint64_t mib = 1 << 20;
}

TEST(GuestMemory, AcceptsRangesInside)
{
    guest_memory m(2 * mib);
    EXPECT_TRUE(m.contains(guest_address{0}, 2 * mib));
    EXPECT_TRUE(m.contains(guest_address{2 * mib - 1}, 1));
    EXPECT_TRUE(m.contains(guest_address{2 * mib}, 0));  // empty range at the end
    auto view = m.read(guest_address{4096}, 16);
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->size(), 16u);
}

TEST(GuestMemory, RejectsRangesPastTheEnd)
{
    guest_memory m(2 * mib);
    EXPECT_FALSE(m.contains(guest_address{2 * mib}, 1));
    EXPECT_FALSE(m.contains(guest_address{2 * mib - 1}, 2));
    EXPECT_FALSE(m.contains(guest_address{0}, 2 * mib + 1));
    EXPECT_FALSE(m.read(guest_address{2 * mib - 8}, 16).has_value());
    EXPECT_FALSE(m.write(guest_address{3 * mib}, 1).has_value());
}

TEST(GuestMemory, RejectsRangesThatWrap)
{
    guest_memory m(2 * mib);
    constexpr uint64_t max = std::numeric_limits<uint64_t>::max();
    // address + length overflows to a small number that would pass a naive check
    EXPECT_FALSE(m.contains(guest_address{max - 15}, 32));
    EXPECT_FALSE(m.contains(guest_address{16}, max));
    EXPECT_FALSE(m.contains(guest_address{max}, 1));
    EXPECT_FALSE(m.read(guest_address{max - 15}, 32).has_value());
}

TEST(GuestMemory, CopyInWritesOnlyInsideAndReportsFailure)
{
    guest_memory m(2 * mib);
    const std::byte bytes[4] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
    EXPECT_TRUE(m.copy_in(guest_address{100}, bytes));
    EXPECT_EQ((*m.read(guest_address{102}, 1))[0], std::byte{3});
    EXPECT_FALSE(m.copy_in(guest_address{2 * mib - 2}, bytes));
    EXPECT_EQ((*m.read(guest_address{2 * mib - 2}, 2))[0], std::byte{0});  // nothing partially written
}

TEST(GuestMemory, ClearZeroesEverything)
{
    guest_memory m(2 * mib);
    const std::byte one[1] = {std::byte{0xAA}};
    ASSERT_TRUE(m.copy_in(guest_address{mib + 5}, one));
    m.clear();
    EXPECT_EQ((*m.read(guest_address{mib + 5}, 1))[0], std::byte{0});
}

TEST(GuestMemory, RefusesSizesThatAreNotPages)
{
    EXPECT_THROW(guest_memory(0), hbvm::error);
    EXPECT_THROW(guest_memory(4097), hbvm::error);
}

// Above 3 GiB the rest of RAM lies from 4 GiB (ram_layout): a buffer in the hole
// between, or reaching into it from either side, is outside RAM.
TEST(GuestMemory, RamAboveThreeGiBLiesFromFourGiBWithAHoleBelow)
{
    constexpr uint64_t gib = 1ull << 30;
    guest_memory m(8 * gib);  // address space only: MAP_NORESERVE
    ASSERT_EQ(m.ranges().size(), 2u);
    EXPECT_EQ(m.ranges()[0].base, 0u);
    EXPECT_EQ(m.ranges()[0].length, 3 * gib);
    EXPECT_EQ(m.ranges()[1].base, 4 * gib);
    EXPECT_EQ(m.ranges()[1].length, 5 * gib);
    EXPECT_EQ(m.size(), 8 * gib);
    EXPECT_EQ(m.end(), 9 * gib);

    EXPECT_TRUE(m.contains(guest_address{3 * gib - 16}, 16));  // the last bytes below the hole
    EXPECT_TRUE(m.contains(guest_address{4 * gib}, 16));       // the first above it
    EXPECT_TRUE(m.contains(guest_address{9 * gib - 16}, 16));  // the very end of RAM
    EXPECT_TRUE(m.contains(guest_address{3 * gib}, 0));        // empty, at the end of low RAM
    for (const auto& [address, length] : std::initializer_list<std::pair<uint64_t, uint64_t>>{
             {3 * gib, 1},                   // the hole's first byte
             {3 * gib + gib / 2, 64},        // its middle
             {4 * gib - 1, 1},               // its last byte
             {3 * gib - 8, 16},              // from low RAM into the hole
             {4 * gib - 8, 16},              // from the hole into high RAM
             {3 * gib - 4096, gib + 8192},   // across the hole
             {0, 8 * gib},                   // as many bytes as RAM has, from 0
             {9 * gib - 8, 16},              // past the end
             {9 * gib, 1},
         }) {
        EXPECT_FALSE(m.contains(guest_address{address}, length)) << std::hex << address << " + " << length;
        EXPECT_FALSE(m.read(guest_address{address}, length).has_value());
        EXPECT_FALSE(m.write(guest_address{address}, length).has_value());
    }

    // Each range is its own memory: the end of low RAM, the start and the end of high RAM.
    const std::byte a[1] = {std::byte{0xA1}}, b[1] = {std::byte{0xB2}}, c[1] = {std::byte{0xC3}};
    ASSERT_TRUE(m.copy_in(guest_address{3 * gib - 1}, a));
    ASSERT_TRUE(m.copy_in(guest_address{4 * gib}, b));
    ASSERT_TRUE(m.copy_in(guest_address{9 * gib - 1}, c));
    EXPECT_EQ((*m.read(guest_address{3 * gib - 1}, 1))[0], std::byte{0xA1});
    EXPECT_EQ((*m.read(guest_address{4 * gib}, 1))[0], std::byte{0xB2});
    EXPECT_EQ((*m.read(guest_address{9 * gib - 1}, 1))[0], std::byte{0xC3});
    EXPECT_EQ(m.ranges()[1].host, m.ranges()[0].host + 3 * gib);  // one host mapping, high RAM after low
    EXPECT_EQ(m.ranges()[1].host[0], std::byte{0xB2});
    m.clear();
    EXPECT_EQ((*m.read(guest_address{4 * gib}, 1))[0], std::byte{0});
}

TEST(GuestMemory, UpToThreeGiBIsOneRangeFromZero)
{
    constexpr uint64_t gib = 1ull << 30;
    guest_memory exactly(3 * gib);
    ASSERT_EQ(exactly.ranges().size(), 1u);
    EXPECT_EQ(exactly.end(), 3 * gib);
    EXPECT_FALSE(exactly.contains(guest_address{4 * gib}, 1));
    guest_memory one_page_more(3 * gib + 4096);
    ASSERT_EQ(one_page_more.ranges().size(), 2u);
    EXPECT_EQ(one_page_more.end(), 4 * gib + 4096);
    EXPECT_TRUE(one_page_more.contains(guest_address{4 * gib}, 4096));
    EXPECT_FALSE(one_page_more.contains(guest_address{4 * gib}, 4097));
}

TEST(GuestMemory, RefusesMoreThanTheLimit)
{
    EXPECT_THROW(guest_memory(hbvm::ram_layout::max_size + 4096), hbvm::error);
}
