#include "devices/clock.hpp"

#include <ctime>

namespace hbvm {

namespace {
uint64_t read_clock(clockid_t id)
{
    timespec ts{};
    clock_gettime(id, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}
}  // namespace

uint64_t clock_source::monotonic_ns() const { return read_clock(CLOCK_MONOTONIC); }

uint64_t clock_source::wallclock_ns() const { return read_clock(CLOCK_REALTIME); }

uint64_t clock_source::resolution_ns() const
{
    timespec ts{};
    clock_getres(CLOCK_MONOTONIC, &ts);
    uint64_t ns = uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
    return ns ? ns : 1;
}

}  // namespace hbvm
