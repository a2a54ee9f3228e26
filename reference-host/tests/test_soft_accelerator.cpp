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

// The accelerator HBVM_TEST_ACCEL names: "soft" by default; the nested lane runs
// the AcceleratorInjection tests with "kvm".
accelerator_kind accelerator_under_test()
{
    const char* which = std::getenv("HBVM_TEST_ACCEL");
    return which && std::string(which) == "kvm" ? accelerator_kind::kvm : accelerator_kind::soft;
}

// An accelerator with a test guest loaded and at its entry.
struct booted_guest {
    guest_memory memory{16 << 20};
    std::unique_ptr<accelerator> accel;

    explicit booted_guest(const char* elf, accelerator_kind kind = accelerator_under_test())
    {
        const image_file image(elf, memory.size());
        const multiboot_image parsed = parse_multiboot_image(image);
        load_multiboot_image(parsed, image, memory);
        const uint32_t info = write_multiboot_info(memory, "test guest");
        accel = create_accelerator(kind, memory);
        const std::vector<cpuid_entry> supported = accel->supported_cpuid();
        accel->set_cpuid(guest_cpu_model(supported.empty() ? nullptr : &supported));
        accel->prepare_multiboot_entry(parsed.entry, info);
    }
};

// inject_vector: the inject_probe guest asks for an external interrupt and an
// exception with an error code, and reports what its handlers saw.
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
    booted_guest guest(HBVM_TEST_GUESTS_DIR "/inject_probe.elf");
    inject_on_request handler;
    handler.accel = guest.accel.get();
    const vm_exit exit = guest.accel->run(handler);
    EXPECT_EQ(exit.what, vm_exit::kind::stopped) << exit.detail;
    EXPECT_EQ(handler.interrupts_seen, 1u) << "the external interrupt (vector 0x30) on " << guest.accel->name();
    EXPECT_EQ(handler.error_seen, 0x18u) << "the exception's error code on " << guest.accel->name();
}

// The shadow_probe guest asks for an external interrupt as soon as it can take
// one (an interrupt window), which the machine's event delivery does too.
class raise_when_open final : public exit_handler {
public:
    accelerator* accel = nullptr;
    uint8_t wanted = 0;
    uint32_t where_seen = 0xFFFF, error_seen = 0xFFFF;
    io_reply on_io(const io_access& a) override
    {
        if (!a.is_write)
            return {0xFFFFFFFFu, false};
        switch (a.port) {
        case 0x510: want(0x30); break;
        case 0x511: where_seen = a.value; break;
        case 0x512: want(0x40); break;
        case 0x513: error_seen = a.value; break;
        case 0xF4: return {0, true};
        default: break;
        }
        return {};
    }
    event_reply on_event_point(event_point where, bool can_interrupt) override
    {
        if (where == event_point::halted)
            return {event_reply::kind::halted, "HLT"};
        if (wanted && can_interrupt) {
            accel->inject_vector(wanted, true);
            want(0);
        }
        return {};
    }

private:
    void want(uint8_t vector)
    {
        wanted = vector;
        accel->request_interrupt_window(vector != 0);
    }
};

// HB-EVT-017: an interrupt wanted before `sti; nop` comes after the NOP, never
// inside the STI's shadow. HB-EVT-018: a vector past the IDT limit raises #GP
// with EXT (0x40 * 8 + 3), on KVM too, whose emulated delivery (kvm_pvm, QEMU's
// SVM) would leave EXT out.
TEST(AcceleratorInjection, AnInterruptWaitsOutTheStiShadowAndAnUndeliverableVectorFaultsWithExt)
{
    booted_guest guest(HBVM_TEST_GUESTS_DIR "/shadow_probe.elf");
    raise_when_open handler;
    handler.accel = guest.accel.get();
    const vm_exit exit = guest.accel->run(handler);
    EXPECT_EQ(exit.what, vm_exit::kind::stopped) << exit.detail;
    EXPECT_EQ(handler.where_seen, 2u) << "saved RIP: 1 at the NOP in the STI's shadow, 2 after it, 3 elsewhere, on "
                                      << guest.accel->name();
    EXPECT_EQ(handler.error_seen, 0x203u) << "the #GP's error code for vector 0x40 past the IDT limit on "
                                          << guest.accel->name();
}

// The faults evt-shadow-ignored and evt-event-error-code-no-ext do what they say
// on the software engine: the interrupt comes at the NOP, inside the shadow, and
// the #GP's error code lacks EXT.
TEST(SoftAccelerator, TheShadowIgnoredFaultDeliversInsideTheShadow)
{
    booted_guest guest(HBVM_TEST_GUESTS_DIR "/shadow_probe.elf", accelerator_kind::soft);
    guest.accel->deviate.interrupt_shadow_ignored = true;
    guest.accel->deviate.event_error_code_without_ext = true;
    raise_when_open handler;
    handler.accel = guest.accel.get();
    const vm_exit exit = guest.accel->run(handler);
    EXPECT_EQ(exit.what, vm_exit::kind::stopped) << exit.detail;
    EXPECT_EQ(handler.where_seen, 1u) << "saved RIP: 1 at the NOP in the STI's shadow, 2 after it, 3 elsewhere";
    EXPECT_EQ(handler.error_seen, 0x202u) << "the #GP's error code without EXT";
}

}  // namespace
}  // namespace hbvm
