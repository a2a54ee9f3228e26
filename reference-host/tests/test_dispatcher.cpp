#include "core/dispatcher.hpp"
#include "core/error.hpp"
#include "devices/clock.hpp"
#include "devices/terminal.hpp"
#include "services/services.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <unistd.h>
#include <limits>
#include <string>

namespace hbvm {

namespace {

constexpr uint64_t ram = 4 << 20;

uint64_t call_of(abi::function f) { return uint64_t(f); }

// A dispatcher with every service module of the registry, the terminal writing to a pipe.
class DispatcherTest : public ::testing::Test {
protected:
    DispatcherTest() : memory(ram), policy(full_profile()), d(memory, policy)
    {
        EXPECT_EQ(pipe(out_pipe), 0);
        EXPECT_EQ(pipe(in_pipe), 0);
        term = std::make_unique<terminal>(in_pipe[0], out_pipe[1]);
        services = std::make_unique<service_set>(
            service_registry(), service_context{*term, clock, {1, 0x0000000100020003ull, "test host"}}, d);
        services->reset(boot_cause::power_on);
    }
    ~DispatcherTest() override
    {
        for (int fd : {out_pipe[0], out_pipe[1], in_pipe[0], in_pipe[1]})
            close(fd);
    }

    call_result call(abi::function f, uint64_t a0 = 0, uint64_t a1 = 0)
    {
        return d.dispatch({call_of(f), {a0, a1, 0, 0, 0}});
    }

    std::string drain_output(size_t n)
    {
        std::string s(n, '\0');
        EXPECT_EQ(read(out_pipe[0], s.data(), n), ssize_t(n));
        return s;
    }

    guest_memory memory;
    profile policy;
    dispatcher d;
    int out_pipe[2]{}, in_pipe[2]{};
    std::unique_ptr<terminal> term;
    clock_source clock;
    std::unique_ptr<service_set> services;
};

TEST_F(DispatcherTest, UnknownServiceIsNotSupported)
{
    call_result r = d.dispatch({abi::make_call(0x7FFF, 0), {}});
    EXPECT_EQ(r.status, abi::status::not_supported);
    EXPECT_EQ(r.value, 0u);
}

TEST_F(DispatcherTest, UnknownFunctionOfKnownServiceIsNotSupported)
{
    EXPECT_EQ(d.dispatch({abi::make_call(uint16_t(abi::service::console), 0x00FF), {}}).status,
              abi::status::not_supported);
    EXPECT_EQ(d.dispatch({abi::make_call(uint16_t(abi::service::base), 0xFFFF), {}}).status,
              abi::status::not_supported);
}

TEST_F(DispatcherTest, ReservedBitsInCallWordAreInvalidParam)
{
    const uint64_t word = call_of(abi::function::base_get_spec_version) | (1ull << 32);
    call_result r = d.dispatch({word, {}});
    EXPECT_EQ(r.status, abi::status::invalid_param);
    // Reserved bits are checked before the function is looked up.
    EXPECT_EQ(d.dispatch({abi::make_call(0x7FFF, 0) | (1ull << 63), {}}).status, abi::status::invalid_param);
}

TEST_F(DispatcherTest, ReservedBitsInArgumentsAreInvalidParam)
{
    EXPECT_EQ(call(abi::function::base_probe_service, 1ull << 16).status, abi::status::invalid_param);
    call_result shutdown = call(abi::function::power_shutdown, 0x100);
    EXPECT_EQ(shutdown.status, abi::status::invalid_param);
    EXPECT_EQ(shutdown.request.what, machine_request::kind::none);  // no effect
}

TEST_F(DispatcherTest, BuffersOutsideRamAreInvalidAddress)
{
    EXPECT_EQ(call(abi::function::console_write, ram - 4, 8).status, abi::status::invalid_address);
    EXPECT_EQ(call(abi::function::console_write, ram, 1).status, abi::status::invalid_address);
    EXPECT_EQ(call(abi::function::base_get_impl_name, std::numeric_limits<uint64_t>::max() - 3, 16).status,
              abi::status::invalid_address);
    EXPECT_EQ(call(abi::function::console_read, 0x1000, std::numeric_limits<uint64_t>::max()).status,
              abi::status::invalid_address);
}

TEST_F(DispatcherTest, ZeroLengthBufferIsNeverChecked)
{
    call_result r = call(abi::function::console_write, std::numeric_limits<uint64_t>::max(), 0);
    EXPECT_EQ(r.status, abi::status::success);
    EXPECT_EQ(r.value, 0u);
}

TEST_F(DispatcherTest, ZeroLengthOutBufferAtImpossibleAddressGetsAnEmptyView)
{
    // The handler must see an empty buffer, not a view derived from the bad address.
    call_result name = call(abi::function::base_get_impl_name, std::numeric_limits<uint64_t>::max(), 0);
    EXPECT_EQ(name.status, abi::status::success);
    EXPECT_EQ(name.value, std::string("test host").size());
    call_result read = call(abi::function::console_read, ram + 4096, 0);
    EXPECT_EQ(read.status, abi::status::success);
    EXPECT_EQ(read.value, 0u);
}

TEST_F(DispatcherTest, ConsoleWriteDeliversBytes)
{
    const char text[] = "hello";
    ASSERT_TRUE(memory.copy_in(guest_address{0x2000}, std::as_bytes(std::span(text, 5))));
    call_result r = call(abi::function::console_write, 0x2000, 5);
    EXPECT_EQ(r.status, abi::status::success);
    EXPECT_EQ(r.value, 5u);
    EXPECT_EQ(drain_output(5), "hello");
}

TEST_F(DispatcherTest, ConsoleReadNeverBlocksAndWritesOnlyWhatItRead)
{
    std::byte sentinel[8];
    std::memset(sentinel, 0x5A, sizeof sentinel);
    ASSERT_TRUE(memory.copy_in(guest_address{0x3000}, sentinel));
    call_result empty = call(abi::function::console_read, 0x3000, 8);
    EXPECT_EQ(empty.status, abi::status::success);
    EXPECT_EQ(empty.value, 0u);

    ASSERT_EQ(write(in_pipe[1], "ab", 2), 2);
    call_result got = call(abi::function::console_read, 0x3000, 8);
    EXPECT_EQ(got.status, abi::status::success);
    ASSERT_EQ(got.value, 2u);
    auto bytes = *memory.read(guest_address{0x3000}, 8);
    EXPECT_EQ(bytes[0], std::byte{'a'});
    EXPECT_EQ(bytes[1], std::byte{'b'});
    EXPECT_EQ(bytes[2], std::byte{0x5A});
}

TEST_F(DispatcherTest, ProbeServiceReportsVersionsAndAbsence)
{
    EXPECT_EQ(call(abi::function::base_probe_service, uint64_t(abi::service::console)).value, 1u);
    call_result absent = call(abi::function::base_probe_service, 0x1234);
    EXPECT_EQ(absent.status, abi::status::success);
    EXPECT_EQ(absent.value, 0u);
    EXPECT_EQ(d.service_bitmap(), 0xFu);
}

TEST_F(DispatcherTest, ImplNameIsTruncatedToTheBufferAndReportsFullLength)
{
    std::byte fill[16];
    std::memset(fill, 0x77, sizeof fill);
    ASSERT_TRUE(memory.copy_in(guest_address{0x4000}, fill));
    call_result r = call(abi::function::base_get_impl_name, 0x4000, 4);
    EXPECT_EQ(r.status, abi::status::success);
    EXPECT_EQ(r.value, std::string("test host").size());
    auto bytes = *memory.read(guest_address{0x4000}, 5);
    EXPECT_EQ(std::memcmp(bytes.data(), "test", 4), 0);
    EXPECT_EQ(bytes[4], std::byte{0x77});
}

TEST_F(DispatcherTest, ShutdownAndRebootAskTheMachine)
{
    call_result r = call(abi::function::power_shutdown, 42);
    EXPECT_EQ(r.request.what, machine_request::kind::power_off);
    EXPECT_EQ(r.request.exit_code, 42);
    EXPECT_EQ(call(abi::function::power_reboot).request.what, machine_request::kind::reset);
    // The reason changes only when the reset the reboot asked for happens.
    EXPECT_EQ(call(abi::function::power_reset_reason).value, abi::reset_power_on);
    services->reset(boot_cause::reset);
    EXPECT_EQ(call(abi::function::power_reset_reason).value, abi::reset_guest_reboot);
}

TEST_F(DispatcherTest, EveryFunctionOfTheAbiTableHasAHandler)
{
    for (const abi::function_desc& f : abi::functions) {
        uint64_t args[abi::max_args] = {};
        call_result r = d.dispatch({uint64_t(f.call), {args[0], args[1], args[2], args[3], args[4]}});
        EXPECT_NE(r.status, abi::status::not_supported) << f.service_name << "." << f.name;
    }
}

TEST(Dispatcher, ProfileDeniesAndHidesServices)
{
    guest_memory memory(ram);
    profile restricted{"test", "", {abi::service::base, abi::service::power}, {abi::function::power_reboot}};
    dispatcher d(memory, restricted);
    terminal term(-1, -1);
    clock_source clock;
    service_set services(service_registry(), service_context{term, clock, {1, 1, "x"}}, d);
    EXPECT_EQ(d.dispatch({uint64_t(abi::function::power_reboot), {}}).status, abi::status::denied);
    EXPECT_EQ(d.dispatch({uint64_t(abi::function::console_write), {}}).status, abi::status::not_supported);
    EXPECT_EQ(d.service_bitmap(), (1u << 0) | (1u << 3));
}

TEST(Dispatcher, NonSpecStatusFromAHandlerBecomesFailed)
{
    guest_memory memory(ram);
    dispatcher d(memory, full_profile());
    std::string reported;
    d.on_host_bug = [&](const std::string& what) { reported = what; };
    d.add(abi::function::time_monotonic_ns, [](const call&) { return call_result{abi::status(-99), 7, {}}; });
    call_result r = d.dispatch({uint64_t(abi::function::time_monotonic_ns), {}});
    EXPECT_EQ(r.status, abi::status::failed);
    EXPECT_EQ(r.value, 0u);
    EXPECT_NE(reported.find("time.monotonic_ns"), std::string::npos);
}

TEST(Dispatcher, RefusesTwoHandlersForOneFunction)
{
    guest_memory memory(ram);
    dispatcher d(memory, full_profile());
    d.add(abi::function::time_monotonic_ns, [](const call&) { return succeed(); });
    EXPECT_THROW(d.add(abi::function::time_monotonic_ns, [](const call&) { return succeed(); }), std::logic_error);
}

// Spec 2.1 orders the reserved-bit checks of all arguments before any buffer
// check. No function of today's table has an argument with reserved bits after a
// buffer, so a synthetic entry pins the order: (in buffer, length, flags).
TEST(Dispatcher, ReservedBitsOfEveryArgumentComeBeforeBufferChecks)
{
    constexpr auto synthetic_service = abi::service(0x001E);
    constexpr auto synthetic_call = abi::function(abi::make_call(0x001E, 0x0002));
    const abi::function_desc table[] = {
        {synthetic_call, synthetic_service, 0x0002, "synthetic", "write_flags", abi::make_version(0, 1),
         {abi::arg_kind::in_buffer, abi::arg_kind::length, abi::arg_kind::exit_code, abi::arg_kind::none,
          abi::arg_kind::none},
         abi::result_kind::count, "HB-GEN-001"},
    };
    guest_memory memory(ram);
    profile with_synthetic{"synthetic", "", {abi::service::base, synthetic_service}, {}};
    dispatcher d(memory, with_synthetic, table);
    int handled = 0;
    d.add(synthetic_call, [&](const call&) { ++handled; return succeed(); });
    const uint64_t word = uint64_t(synthetic_call);
    const uint64_t outside = ram + 0x1000, reserved_flag = 0x100;
    EXPECT_EQ(d.dispatch({word, {outside, 16, reserved_flag, 0, 0}}).status, abi::status::invalid_param);
    EXPECT_EQ(d.dispatch({word, {outside, 16, 0x01, 0, 0}}).status, abi::status::invalid_address);
    EXPECT_EQ(d.dispatch({word, {0x1000, 16, reserved_flag, 0, 0}}).status, abi::status::invalid_param);
    EXPECT_EQ(handled, 0);
    EXPECT_EQ(d.dispatch({word, {0x1000, 16, 0x01, 0, 0}}).status, abi::status::success);
    EXPECT_EQ(handled, 1);
}

TEST(Dispatcher, RefusesAProfileWithoutBase)
{
    guest_memory memory(ram);
    const profile without_base{"no-base", "", {abi::service::console}, {}};
    try {
        dispatcher d(memory, without_base);
        FAIL() << "a profile without BASE was accepted";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("does not offer BASE"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("HB-BASE-007"), std::string::npos) << e.what();
    }
}

TEST(Dispatcher, RefusesAProfileThatDeniesABaseCall)
{
    guest_memory memory(ram);
    for (const abi::function_desc& f : abi::functions) {
        if (f.svc != abi::service::base)
            continue;
        const profile denies_base{"denies-base", "", {abi::service::base}, {f.call}};
        EXPECT_THROW(dispatcher(memory, denies_base), error) << "base." << f.name;
    }
}

}  // namespace

}  // namespace hbvm
