#include "core/guest_memory.hpp"

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

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
