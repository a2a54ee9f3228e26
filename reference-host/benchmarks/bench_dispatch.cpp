// Micro-benchmark of the shared call path: decoding, policy, argument checks and
// the handler, without any accelerator. Printed next to a memcpy of the same
// registers, the floor for any dispatcher that reads its arguments.
#include "core/dispatcher.hpp"
#include "devices/clock.hpp"
#include "devices/device_set.hpp"
#include "devices/terminal.hpp"
#include "core/event_hub.hpp"
#include "services/services.hpp"

#include <benchmark/benchmark.h>

#include <cstring>
#include <unistd.h>

namespace {

using namespace hbvm;

struct fixture {
    guest_memory memory{4 << 20};
    dispatcher d{memory, full_profile()};
    terminal term{-1, -1};
    device_set devices = device_set::of("console", term);
    clock_source clock;
    event_hub events;
    service_set services{service_registry(), service_context{devices, clock, {1, 1, "bench"}, 128ull << 20, events}, d};
};

void null_call(benchmark::State& state)
{
    fixture f;
    const call_request request{uint64_t(abi::function::base_get_spec_version), {}};
    for (auto _ : state)
        benchmark::DoNotOptimize(f.d.dispatch(request));
}
BENCHMARK(null_call);

void call_with_buffer_check(benchmark::State& state)
{
    fixture f;
    const call_request request{uint64_t(abi::function::base_get_impl_name), {0x1000, 16, 0, 0, 0}};
    for (auto _ : state)
        benchmark::DoNotOptimize(f.d.dispatch(request));
}
BENCHMARK(call_with_buffer_check);

void unknown_call(benchmark::State& state)
{
    fixture f;
    const call_request request{abi::make_call(0x7FFF, 0), {}};
    for (auto _ : state)
        benchmark::DoNotOptimize(f.d.dispatch(request));
}
BENCHMARK(unknown_call);

void copy_call_registers(benchmark::State& state)
{
    // The floor: moving the six call registers in and the two result registers out.
    uint64_t in[6] = {1, 2, 3, 4, 5, 6}, out[6];
    for (auto _ : state) {
        benchmark::DoNotOptimize(in);
        std::memcpy(out, in, sizeof out);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(copy_call_registers);

}  // namespace

BENCHMARK_MAIN();
