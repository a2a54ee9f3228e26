#include "core/discovery.hpp"

#include <hyperbios/abi.hpp>
#include <hyperbios/detect.hpp>

#include <gtest/gtest.h>

#include <cstring>

namespace hbvm {

namespace abi = hyperbios::abi;

TEST(Discovery, LeavesFollowTheSpecLayout)
{
    auto leaves = discovery_leaves({0x40000100, "HyperBIOSRef", abi::spec_version, abi::gate_port_io, 0x0B48, 0xF});
    ASSERT_EQ(leaves.size(), 3u);
    EXPECT_EQ(leaves[0].leaf, 0x40000100u);
    EXPECT_EQ(leaves[0].eax, 0x40000102u);
    char vendor[13] = {};
    std::memcpy(vendor, &leaves[0].ebx, 4);
    std::memcpy(vendor + 4, &leaves[0].ecx, 4);
    std::memcpy(vendor + 8, &leaves[0].edx, 4);
    EXPECT_STREQ(vendor, "HyperBIOSRef");
    EXPECT_EQ(leaves[1].eax, abi::interface_signature);
    EXPECT_EQ(leaves[1].ebx, abi::spec_version);
    EXPECT_EQ(leaves[1].ecx, abi::gate_port_io);
    EXPECT_EQ(leaves[1].edx, 0x0B48u);
    EXPECT_EQ(leaves[2].eax, 0xFu);
    EXPECT_EQ(leaves[2].ebx | leaves[2].ecx | leaves[2].edx, 0u);
    // The guest library's scan accepts exactly this head.
    EXPECT_TRUE(hyperbios::detail::looks_like_range_head(0x40000100, leaves[0].eax));
}

TEST(Discovery, InterfaceSignatureSpellsHBIO)
{
    char sig[5] = {};
    std::memcpy(sig, &abi::interface_signature, 4);
    EXPECT_STREQ(sig, "HBIO");
}

TEST(Discovery, RefusesVendorOfWrongLength)
{
    EXPECT_THROW(discovery_leaves({0x40000000, "short", 1, 1, 1, 1}), std::logic_error);
}

}  // namespace hbvm
