#include "accel/kvm.hpp"
#include "accel/select.hpp"
#include "accel/soft.hpp"
#include "core/cpu_model.hpp"
#include "core/multiboot_loader.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

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

// inject_vector on the accelerator HBVM_TEST_ACCEL names ("soft" by default; the
// nested lane runs this test with "kvm"): the inject_probe guest asks for an
// external interrupt and an exception with an error code, and reports what its
// handlers saw.
class inject_on_request final : public exit_handler {
public:
    accelerator* accel = nullptr;
    uint32_t interrupts_seen = 0xFFFF, error_seen = 0xFFFF;
    io_reply on_io(const io_access& a) override
    {
        if (!a.is_write)
            return {0xFFFFFFFFu, false};
        switch (a.port) {
        case 0x500: accel->inject_vector(0x30, true); break;
        case 0x501: interrupts_seen = a.value; break;
        case 0x502: accel->inject_vector(13, false, 0x18); break;
        case 0x503: error_seen = a.value; break;
        case 0xF4: return {0, true};
        default: break;
        }
        return {};
    }
};

TEST(AcceleratorInjection, AnExternalInterruptAndAnExceptionReachTheGuestsHandlers)
{
    const char* which = std::getenv("HBVM_TEST_ACCEL");
    const accelerator_kind kind = which && std::string(which) == "kvm" ? accelerator_kind::kvm : accelerator_kind::soft;
    guest_memory memory(16 << 20);
    const image_file image(HBVM_TEST_GUESTS_DIR "/inject_probe.elf", memory.size());
    const multiboot_image parsed = parse_multiboot_image(image);
    load_multiboot_image(parsed, image, memory);
    const uint32_t info = write_multiboot_info(memory, "inject_probe");
    std::unique_ptr<accelerator> accel = create_accelerator(kind, memory);
    const std::vector<cpuid_entry> supported = accel->supported_cpuid();
    accel->set_cpuid(guest_cpu_model(supported.empty() ? nullptr : &supported));
    accel->prepare_multiboot_entry(parsed.entry, info);
    inject_on_request handler;
    handler.accel = accel.get();
    const vm_exit exit = accel->run(handler);
    EXPECT_EQ(exit.what, vm_exit::kind::stopped) << exit.detail;
    EXPECT_EQ(handler.interrupts_seen, 1u) << "the external interrupt (vector 0x30) on " << accel->name();
    EXPECT_EQ(handler.error_seen, 0x18u) << "the exception's error code on " << accel->name();
}

}  // namespace
}  // namespace hbvm
