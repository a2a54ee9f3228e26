// TIME: the host's monotonic and wall clocks in nanoseconds.
#include "services/services.hpp"

#include "devices/clock.hpp"

namespace hbvm {

void register_time_service(dispatcher& d, const clock_source& clock)
{
    using fn = abi::function;
    d.add(fn::time_monotonic_ns, [&clock](const call&) { return succeed(clock.monotonic_ns()); });
    d.add(fn::time_wallclock_ns, [&clock](const call&) { return succeed(clock.wallclock_ns()); });
    d.add(fn::time_resolution_ns, [&clock](const call&) { return succeed(clock.resolution_ns()); });
}

}  // namespace hbvm
