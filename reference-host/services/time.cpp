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

class time_module final : public service_module {
public:
    explicit time_module(const service_context& context) : clock_(context.clock) {}

    void add_handlers(dispatcher& d) override
    {
        using fn = abi::function;
        d.add(fn::time_monotonic_ns, [this](const call&) { return reading(clock_.monotonic_ns(), "CLOCK_MONOTONIC"); });
        d.add(fn::time_wallclock_ns, [this](const call&) { return reading(clock_.wallclock_ns(), "CLOCK_REALTIME"); });
        d.add(fn::time_resolution_ns,
              [this](const call&) { return reading(clock_.resolution_ns(), "clock_getres(CLOCK_MONOTONIC)"); });
    }

    // Nothing to reset: both clocks are the host's and keep running through a
    // reset (the spec asks the monotonic clock never to go back, and says nothing
    // of where it starts).
    void reset(boot_cause) override {}

private:
    const clock_source& clock_;
};

}  // namespace

std::unique_ptr<service_module> make_time_module(const service_context& context)
{
    return std::make_unique<time_module>(context);
}

}  // namespace hbvm
