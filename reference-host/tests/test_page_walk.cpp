#include "accel/page_walk.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace hbvm {
namespace {

constexpr uint64_t p = 1, w = 2, u = 4, large = 0x80;
constexpr uint64_t cr0_pg = 1ull << 31, cr4_pse = 1ull << 4, cr4_pae = 1ull << 5, efer_lma = 1ull << 10;

class PageWalk : public ::testing::Test {
protected:
    PageWalk() : memory(8 << 20) {}
    template <typename T>
    void put(uint64_t address, T value)
    {
        ASSERT_TRUE(memory.copy_in(guest_address{address}, std::as_bytes(std::span(&value, 1))));
    }
    guest_memory memory;
};

TEST_F(PageWalk, PagingOffIsIdentity)
{
    const page_walk_result r = walk_page_tables(memory, {0x11, 0, 0, 0}, 0x12345);
    EXPECT_TRUE(r.present);
    EXPECT_EQ(r.physical, 0x12345u);
}

TEST_F(PageWalk, LongModeWith4KiB2MiBAnd1GiBPages)
{
    const paging_state s{cr0_pg | 1, 0x10000, cr4_pae, efer_lma};
    put<uint64_t>(0x10000 + 0 * 8, 0x11000 | p | w | u);      // PML4[0] -> PDPT
    put<uint64_t>(0x11000 + 0 * 8, 0x12000 | p | w | u);      // PDPT[0] -> PD
    put<uint64_t>(0x11000 + 1 * 8, 0x40000000 | p | large);   // PDPT[1]: 1 GiB page at 1 GiB
    put<uint64_t>(0x12000 + 1 * 8, 0x13000 | p | w);          // PD[1] -> PT (2 MiB..4 MiB)
    put<uint64_t>(0x12000 + 2 * 8, 0x600000 | p | w | large); // PD[2]: 2 MiB page at 6 MiB
    put<uint64_t>(0x13000 + 5 * 8, 0x7000 | p);               // PT[5]: 0x205000 -> 0x7000, read-only

    page_walk_result r = walk_page_tables(memory, s, 0x205123);
    EXPECT_TRUE(r.present);
    EXPECT_EQ(r.physical, 0x7123u);
    EXPECT_FALSE(r.writable);
    EXPECT_FALSE(r.user);
    r = walk_page_tables(memory, s, 0x412345);
    EXPECT_TRUE(r.present);
    EXPECT_EQ(r.physical, 0x612345u);
    EXPECT_TRUE(r.writable);
    r = walk_page_tables(memory, s, 0x40000000 + 0x1234567);
    EXPECT_TRUE(r.present);
    EXPECT_EQ(r.physical, 0x41234567u);
    EXPECT_FALSE(walk_page_tables(memory, s, 0x206000).present);        // PT entry absent
    EXPECT_FALSE(walk_page_tables(memory, s, 0x8000000000ull).present); // PML4[1] absent
}

TEST_F(PageWalk, PaeAndThirtyTwoBitPaging)
{
    const paging_state pae{cr0_pg | 1, 0x20000, cr4_pae, 0};
    put<uint64_t>(0x20000 + 1 * 8, 0x21000 | p);              // PDPTE[1]: 1 GiB..2 GiB
    put<uint64_t>(0x21000 + 0 * 8, 0x200000 | p | w | large); // 2 MiB page
    page_walk_result r = walk_page_tables(memory, pae, 0x40000000 + 0x1234);
    EXPECT_TRUE(r.present);
    EXPECT_EQ(r.physical, 0x201234u);

    const paging_state legacy{cr0_pg | 1, 0x30000, cr4_pse, 0};
    put<uint32_t>(0x30000 + 1 * 4, 0x31000 | p | w);          // PDE[1]: 4 MiB..8 MiB through a PT
    put<uint32_t>(0x31000 + 2 * 4, 0x9000 | p | w);           // 0x402000 -> 0x9000
    put<uint32_t>(0x30000 + 2 * 4, 0x400000 | p | large);     // PDE[2]: a 4 MiB page at 4 MiB
    r = walk_page_tables(memory, legacy, 0x402ABC);
    EXPECT_TRUE(r.present);
    EXPECT_EQ(r.physical, 0x9ABCu);
    r = walk_page_tables(memory, legacy, 0x812345);
    EXPECT_TRUE(r.present);
    EXPECT_EQ(r.physical, 0x412345u);
}

TEST_F(PageWalk, TablesOutsideRamAreNotPresent)
{
    const paging_state s{cr0_pg | 1, 0x10000, cr4_pae, efer_lma};
    put<uint64_t>(0x10000, 0x7FFFFFFF000ull | p);  // PML4[0] -> a PDPT far outside RAM
    EXPECT_FALSE(walk_page_tables(memory, s, 0x1000).present);
}

}  // namespace
}  // namespace hbvm
