#include "devices/clock.hpp"

#include <ctime>

namespace hbvm {

namespace {
std::optional<uint64_t> nanoseconds(int status, const timespec& ts)
{
    if (status != 0 || ts.tv_sec < 0)
        return std::nullopt;
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}
}  // namespace

std::optional<uint64_t> clock_source::monotonic_ns() const
{
    timespec ts{};
    return nanoseconds(clock_gettime(CLOCK_MONOTONIC, &ts), ts);
}

std::optional<uint64_t> clock_source::wallclock_ns() const
{
    timespec ts{};
    return nanoseconds(clock_gettime(CLOCK_REALTIME, &ts), ts);
}

std::optional<uint64_t> clock_source::resolution_ns() const
{
    timespec ts{};
    const std::optional<uint64_t> ns = nanoseconds(clock_getres(CLOCK_MONOTONIC, &ts), ts);
    if (ns && *ns == 0)
        return 1;
    return ns;
}

}  // namespace hbvm
