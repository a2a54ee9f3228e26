#include "accel/calibration.hpp"

#include <gtest/gtest.h>

namespace hbvm {
namespace {

calibration figures(std::optional<double> kvm_ns, std::optional<double> soft_ns)
{
    calibration c;
    if (kvm_ns)
        c.kvm = engine_speed{*kvm_ns, 1000};
    if (soft_ns)
        c.soft = engine_speed{*soft_ns, 20000};
    c.milliseconds = 2.5;
    return c;
}

TEST(AcceleratorChoice, KvmThatExecutesGuestCodeIsChosen)
{
    const accelerator_selection s = choose_by_speed(figures(0.4, 4.1));
    EXPECT_EQ(s.kind, accelerator_kind::kvm);
    EXPECT_NE(s.reason.find("KVM, because it executes guest code here (calibration 2.5 ms: 10.2x faster"),
              std::string::npos)
        << s.reason;
}

TEST(AcceleratorChoice, KvmThatEmulatesIsPassedOver)
{
    const accelerator_selection s = choose_by_speed(figures(540, 4.0));
    EXPECT_EQ(s.kind, accelerator_kind::soft);
    EXPECT_NE(s.reason.find("/dev/kvm emulates guest code here (calibration 2.5 ms: 135x slower)"), std::string::npos)
        << s.reason;
    EXPECT_NE(s.reason.find("--accel kvm forces KVM"), std::string::npos);
}

TEST(AcceleratorChoice, SlightlySlowerKvmIsPassedOverWithoutCallingItEmulation)
{
    const accelerator_selection s = choose_by_speed(figures(6.0, 4.0));
    EXPECT_EQ(s.kind, accelerator_kind::soft);
    EXPECT_NE(s.reason.find("runs guest code slower than it here"), std::string::npos) << s.reason;
}

TEST(AcceleratorChoice, AnEngineThatCannotRunDecides)
{
    EXPECT_EQ(choose_by_speed(figures(std::nullopt, 4.0)).kind, accelerator_kind::soft);
    EXPECT_EQ(choose_by_speed(figures(0.5, std::nullopt)).kind, accelerator_kind::kvm);
}

// The measurement itself, on the software engine, which runs everywhere.
TEST(AcceleratorChoice, TheCalibrationLoopRunsOnTheSoftwareEngine)
{
    const std::optional<engine_speed> soft = time_calibration_loop(accelerator_kind::soft, 20000);
    ASSERT_TRUE(soft.has_value());
    EXPECT_EQ(soft->iterations, 20000u);
    EXPECT_GT(soft->ns_per_iteration, 0.0);
}

}  // namespace
}  // namespace hbvm
