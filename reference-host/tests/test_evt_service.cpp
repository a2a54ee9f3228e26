// The EVT module and the event hub through the dispatcher, as a guest calls them
// (spec chapter 13): timers never early, expirations counted and not queued,
// re-arm and cancel, wait's deadline, console input as a level source, the mask
// and vector's boot values, and the watcher's wake.
#include "core/dispatcher.hpp"
#include "core/event_hub.hpp"
#include "devices/clock.hpp"
#include "devices/device_set.hpp"
#include "devices/terminal.hpp"
#include "services/services.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <unistd.h>

namespace hbvm {

namespace {

using fn = abi::function;
constexpr uint64_t ram = 4 << 20;
constexpr uint64_t ms = 1000000;
constexpr uint64_t timer0 = 1, console_input = uint64_t(1) << 32;

class EvtService : public ::testing::Test {
protected:
    EvtService() : memory(ram), policy(full_profile()), d(memory, policy)
    {
        EXPECT_EQ(pipe(in_pipe), 0);
        term = std::make_unique<terminal>(in_pipe[0], -1);
        devices = device_set::of("console", *term);
        services = std::make_unique<service_set>(
            service_registry(), service_context{devices, clock, {1, 1, "test"}, memory.size(), events}, d);
        services->reset(boot_cause::power_on);
    }
    ~EvtService() override
    {
        services.reset();
        close(in_pipe[0]);
        if (in_pipe[1] >= 0)
            close(in_pipe[1]);
    }

    call_result call(fn f, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0)
    {
        return d.dispatch({uint64_t(f), {a0, a1, a2, 0, 0}});
    }
    uint64_t now() { return *clock.monotonic_ns(); }

    guest_memory memory;
    profile policy;
    dispatcher d;
    int in_pipe[2]{-1, -1};
    std::unique_ptr<terminal> term;
    device_set devices;
    clock_source clock;
    event_hub events;
    std::unique_ptr<service_set> services;
};

TEST_F(EvtService, BootStateIsQuiet)
{
    EXPECT_GE(call(fn::evt_timer_count).value, 8u);
    EXPECT_EQ(call(fn::evt_poll).value & timer0, 0u);
    EXPECT_EQ(call(fn::evt_set_mask, 0).value, ~uint64_t(0)) << "every source is masked at boot";
    EXPECT_EQ(call(fn::evt_set_vector, 0x40).value, 0u) << "no vector at boot";
    call(fn::evt_timer_set, 0, 0);  // long past: pending at once
    services->reset(boot_cause::reset);
    EXPECT_EQ(call(fn::evt_poll).value & timer0, 0u) << "a reset disarms the timers";
    EXPECT_EQ(call(fn::evt_set_mask, 0).value, ~uint64_t(0));
    EXPECT_EQ(call(fn::evt_set_vector, 0).value, 0u);
}

TEST_F(EvtService, AOneShotTimerNeverExpiresBeforeItsDeadline)
{
    for (int round = 0; round < 20; ++round) {
        const uint64_t deadline = now() + 2 * ms;
        ASSERT_EQ(call(fn::evt_timer_set, 0, deadline).status, abi::status::success);
        const call_result woken = call(fn::evt_wait, ~uint64_t(0), timer0);
        const uint64_t after = now();
        ASSERT_EQ(woken.status, abi::status::success);
        EXPECT_TRUE(woken.value & timer0);
        EXPECT_GE(after, deadline) << "round " << round;
        EXPECT_EQ(call(fn::evt_timer_ack, 0).value, 1u);
        EXPECT_EQ(call(fn::evt_poll).value & timer0, 0u) << "the acknowledgement clears the source";
        EXPECT_EQ(call(fn::evt_timer_ack, 0).value, 0u) << "a one-shot timer expires once";
    }
}

TEST_F(EvtService, APeriodicTimerCountsMissedPeriodsOnTheGrid)
{
    const uint64_t start = now();
    ASSERT_EQ(call(fn::evt_timer_set, 0, start, 1 * ms).status, abi::status::success);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_TRUE(call(fn::evt_poll).value & timer0) << "one pending bit however many expirations";
    const uint64_t count = call(fn::evt_timer_ack, 0).value;
    const uint64_t elapsed = now() - start;
    // Expirations at start + n ms, n = 0, 1, ...: never more than the grid allows.
    EXPECT_LE(count, elapsed / ms + 1);
    EXPECT_GE(count, 30u);
}

TEST_F(EvtService, ReArmingAndCancellingClearTheCount)
{
    call(fn::evt_timer_set, 0, 0, 1 * ms);  // long past, periodic: very many expirations
    EXPECT_TRUE(call(fn::evt_poll).value & timer0);
    call(fn::evt_timer_set, 0, now() + 1000 * ms);
    EXPECT_EQ(call(fn::evt_poll).value & timer0, 0u);
    EXPECT_EQ(call(fn::evt_timer_ack, 0).value, 0u);
    call(fn::evt_timer_set, 0, 0);
    EXPECT_TRUE(call(fn::evt_poll).value & timer0);
    call(fn::evt_timer_cancel, 0);
    EXPECT_EQ(call(fn::evt_poll).value & timer0, 0u);
    EXPECT_EQ(call(fn::evt_timer_ack, 0).value, 0u);
}

TEST_F(EvtService, ArgumentsOutsideTheSpecAreInvalid)
{
    EXPECT_EQ(call(fn::evt_timer_set, 0, 0, 9999).status, abi::status::invalid_param) << "under 10 us";
    EXPECT_EQ(call(fn::evt_timer_set, 0, 0, 10000).status, abi::status::success);
    EXPECT_EQ(call(fn::evt_timer_set, 8, 0, 0).status, abi::status::invalid_param) << "no timer 8";
    for (uint64_t v = 1; v < 32; ++v)
        EXPECT_EQ(call(fn::evt_set_vector, v).status, abi::status::invalid_param) << v;
    EXPECT_EQ(call(fn::evt_set_vector, 256).status, abi::status::invalid_param);
    EXPECT_EQ(call(fn::evt_set_vector, 255).status, abi::status::success);
    // The far ends of the ranges are valid: a deadline never reached, the longest period.
    EXPECT_EQ(call(fn::evt_timer_set, 1, ~uint64_t(0), ~uint64_t(0)).status, abi::status::success);
    EXPECT_EQ(call(fn::evt_poll).value & 2, 0u);
}

TEST_F(EvtService, WaitReturnsAtItsDeadlineNeverBefore)
{
    const uint64_t start = now();
    const call_result past = call(fn::evt_wait, start - 1, timer0);
    EXPECT_EQ(past.status, abi::status::success);
    EXPECT_LT(now() - start, 50 * ms) << "a past deadline returns at once";
    const uint64_t deadline = now() + 20 * ms;
    EXPECT_EQ(call(fn::evt_wait, deadline, timer0).status, abi::status::success);
    EXPECT_GE(now(), deadline);
}

TEST_F(EvtService, AWaitForSomethingAlreadyPendingReturnsAtOnce)
{
    call(fn::evt_timer_set, 0, 0);  // expired before the wait
    const uint64_t start = now();
    const call_result r = call(fn::evt_wait, start + 5000 * ms, timer0);
    EXPECT_TRUE(r.value & timer0);
    EXPECT_LT(now() - start, 1000 * ms);
}

TEST_F(EvtService, ConsoleInputIsALevelSource)
{
    EXPECT_EQ(call(fn::evt_poll).value & console_input, 0u);
    ASSERT_EQ(write(in_pipe[1], "hello", 5), 5);
    EXPECT_TRUE(call(fn::evt_poll).value & console_input);
    EXPECT_TRUE(call(fn::evt_poll).value & console_input) << "stays pending until read";
    std::byte* buffer = memory.host_base() + 0x1000;
    EXPECT_EQ(call(fn::console_read, 0x1000, 2).value, 2u);
    EXPECT_TRUE(call(fn::evt_poll).value & console_input) << "three bytes still wait";
    EXPECT_EQ(call(fn::console_read, 0x1000, 64).value, 3u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buffer), 3), "llo");
    EXPECT_EQ(call(fn::evt_poll).value & console_input, 0u) << "reading everything clears it";
    // A wait on console input ends when a byte arrives from elsewhere.
    std::thread typist([fd = in_pipe[1]] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        (void)!write(fd, "x", 1);
    });
    const call_result r = call(fn::evt_wait, now() + 5000 * ms, console_input);
    typist.join();
    EXPECT_TRUE(r.value & console_input);
    // At the end of input nothing more can arrive: the source never wakes a wait.
    call(fn::console_read, 0x1000, 64);
    close(in_pipe[1]);
    in_pipe[1] = -1;
    call(fn::evt_poll);
    call(fn::console_read, 0x1000, 64);
    std::string why;
    EXPECT_FALSE(events.wait(console_input, event_hub::no_deadline, &why));
    EXPECT_NE(why.find("console input, at its end"), std::string::npos) << why;
}

TEST_F(EvtService, TheWatcherWakesOnceWhenAWatchedSourceBecomesPending)
{
    std::atomic<int> wakes{0};
    call(fn::evt_timer_set, 0, now() + 10 * ms);
    events.watch(timer0, [&] { ++wakes; });
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    EXPECT_EQ(wakes, 1) << "once, until watched again";
    events.watch(0, {});
}

}  // namespace

}  // namespace hbvm
