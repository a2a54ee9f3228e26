// TIME: the host's monotonic and wall clocks in nanoseconds.
#include "services/services.hpp"

#include "devices/clock.hpp"

namespace hbvm {

namespace {
// The spec gives these calls no failure status: a host whose clock fails stops the VM.
call_result reading(std::optional<uint64_t> ns, const char* clock)
{
    if (ns)
        return succeed(*ns);
    return host_failure(std::string("the host's ") + clock + " failed");
}
}  // namespace

void register_time_service(dispatcher& d, const clock_source& clock)
{
    using fn = abi::function;
    d.add(fn::time_monotonic_ns, [&clock](const call&) { return reading(clock.monotonic_ns(), "CLOCK_MONOTONIC"); });
    d.add(fn::time_wallclock_ns, [&clock](const call&) { return reading(clock.wallclock_ns(), "CLOCK_REALTIME"); });
    d.add(fn::time_resolution_ns,
          [&clock](const call&) { return reading(clock.resolution_ns(), "clock_getres(CLOCK_MONOTONIC)"); });
}

}  // namespace hbvm
