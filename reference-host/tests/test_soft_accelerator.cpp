#include "accel/soft.hpp"
#include "core/multiboot_loader.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace hbvm {
namespace {

// Stops the run at the first OUT, as a shutdown does.
class stop_at_first_out final : public exit_handler {
public:
    io_reply on_io(const io_access&) override { return {0, true}; }
};

// HB-PWR-001: no guest instruction after the access that ends the run. Unicorn's
// uc_emu_stop takes effect only at the end of a translation block; the store and
// the second OUT below are in the same block as the first OUT.
TEST(SoftAccelerator, NothingRunsAfterTheAccessThatStopsTheRun)
{
    guest_memory memory(4 << 20);
    // 32-bit: out 0x80, al; mov byte [0x200000], 1; out 0x81, al; hlt
    const unsigned char code[] = {0xE6, 0x80, 0xC6, 0x05, 0x00, 0x00, 0x20, 0x00, 0x01, 0xE6, 0x81, 0xF4};
    ASSERT_TRUE(memory.copy_in(guest_address{0x100000}, std::as_bytes(std::span(code))));
    soft_accelerator accel(memory);
    accel.prepare_multiboot_entry(0x100000, 0);
    stop_at_first_out handler;
    const vm_exit exit = accel.run(handler);
    EXPECT_EQ(exit.what, vm_exit::kind::stopped);
    EXPECT_EQ((*memory.read(guest_address{0x200000}, 1))[0], std::byte{0}) << "the store after the stopping OUT ran";
}

}  // namespace
}  // namespace hbvm
