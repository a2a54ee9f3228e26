// Host clocks behind the TIME service. Each reading is empty when the host's
// clock_gettime/clock_getres fails (a seccomp filter, a broken vDSO): a host
// failure, which the TIME service turns into a clean stop of the VM.
#ifndef HBVM_DEVICES_CLOCK_HPP
#define HBVM_DEVICES_CLOCK_HPP

#include <cstdint>
#include <optional>

namespace hbvm {

class clock_source {
public:
    std::optional<uint64_t> monotonic_ns() const;   // CLOCK_MONOTONIC
    std::optional<uint64_t> wallclock_ns() const;   // CLOCK_REALTIME, since the Unix epoch
    std::optional<uint64_t> resolution_ns() const;  // of CLOCK_MONOTONIC, at least 1
};

}  // namespace hbvm

#endif
