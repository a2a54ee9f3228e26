// Host clocks behind the TIME service. Each reading is empty when the host's
// clock_gettime/clock_getres fails (a seccomp filter, a broken vDSO): a host
// failure, which the TIME service turns into a clean stop of the VM.
#ifndef HBVM_DEVICES_CLOCK_HPP
#define HBVM_DEVICES_CLOCK_HPP

#include <cstdint>
#include <ctime>
#include <optional>

namespace hbvm {

class clock_source {
public:
    std::optional<uint64_t> monotonic_ns() const;   // CLOCK_MONOTONIC
    std::optional<uint64_t> wallclock_ns() const;   // CLOCK_REALTIME, since the Unix epoch
    std::optional<uint64_t> resolution_ns() const;  // of CLOCK_MONOTONIC, at least 1
};

// CLOCK_MONOTONIC in nanoseconds, the clock of TIME.monotonic_ns: for the
// host's own deadlines and for stamping events a guest compares with its
// TIME readings. Inline: a back-end module may stamp too.
inline uint64_t monotonic_now_ns() noexcept
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

}  // namespace hbvm

#endif
