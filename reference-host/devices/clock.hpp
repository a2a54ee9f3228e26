// Host clocks behind the TIME service.
#ifndef HBVM_DEVICES_CLOCK_HPP
#define HBVM_DEVICES_CLOCK_HPP

#include <cstdint>

namespace hbvm {

class clock_source {
public:
    uint64_t monotonic_ns() const;   // CLOCK_MONOTONIC
    uint64_t wallclock_ns() const;   // CLOCK_REALTIME, since the Unix epoch
    uint64_t resolution_ns() const;  // of CLOCK_MONOTONIC, at least 1
};

}  // namespace hbvm

#endif
