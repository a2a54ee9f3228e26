// --accel auto by measurement. Some machines have a /dev/kvm whose KVM runs guests
// through its instruction emulator (measured here: a register loop ~1000 times
// slower than on the software engine), so "KVM exists" does not mean "KVM is
// faster". Before choosing, hbvm times the same register-only guest loop on both
// engines, each in a small VM of its own, and takes KVM only where it runs the
// loop at least as fast as the software engine.
#ifndef HBVM_ACCEL_CALIBRATION_HPP
#define HBVM_ACCEL_CALIBRATION_HPP

#include "accel/select.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace hbvm {

struct engine_speed {
    double ns_per_iteration;  // of the calibration loop (two instructions)
    uint32_t iterations;      // how many were timed
};

// Times `iterations` rounds of the calibration loop (dec ecx; jnz) on a fresh VM
// of the given kind (soft or kvm); nullopt when that VM cannot run here.
std::optional<engine_speed> time_calibration_loop(accelerator_kind kind, uint32_t iterations);

struct calibration {
    std::optional<engine_speed> kvm, soft;
    double milliseconds;  // what measuring both took, VM set-up included
};

// Measures both engines, spending as little as it can: a short KVM run first,
// and a long one only where the short one shows KVM executes guest code.
calibration calibrate_accelerators();

// The decision, apart from the measuring so that tests can give it any figures.
accelerator_selection choose_by_speed(const calibration& c);

}  // namespace hbvm

#endif
