#include "core/dispatcher.hpp"
#include "core/error.hpp"
#include "devices/clock.hpp"
#include "devices/device_set.hpp"
#include "devices/audio.hpp"
#include "devices/display.hpp"
#include "devices/terminal.hpp"
#include "core/event_hub.hpp"
#include "services/services.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <memory>
#include <unistd.h>
#include <limits>
#include <string>
#include <utility>
#include <vector>

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
        devices = device_set::of("console", *term);
        // A display that takes every size the pixel_count kind allows, so that the
        // table's largest values reach DSP.set_mode's handler and pass.
        display::settings wide;
        wide.name = "display0";
        wide.max_width = wide.max_height = 0xFFFF;
        screen = std::make_unique<display>(wide, device_host{});
        devices.attach("display", *screen);
        // A sound output that plays into nothing: AUD.open with the kinds' least
        // values opens it, so set_low_water's largest value reaches its handler.
        audio::settings quiet;
        quiet.name = "audio0";
        sound = std::make_unique<audio>(quiet, device_host{});
        devices.attach("audio", *sound);
        services = std::make_unique<service_set>(
            service_registry(), service_context{devices, clock, {1, 0x0000000100020003ull, "test host"}, memory.size(), events}, d);
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

    std::unique_ptr<display> screen;
    std::unique_ptr<audio> sound;
    guest_memory memory;
    profile policy;
    dispatcher d;
    int out_pipe[2]{}, in_pipe[2]{};
    std::unique_ptr<terminal> term;
    device_set devices;
    clock_source clock;
    event_hub events;
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

// RAM above 3 GiB lies from 4 GiB: a buffer in the hole between, or reaching into
// it, is outside RAM (spec 1.4); RAM above it takes buffers up to its end, and
// MEM's map shows the hole.
TEST(Dispatcher, BuffersInTheHoleBelowFourGiBAreInvalidAddress)
{
    constexpr uint64_t gib = 1ull << 30;
    guest_memory memory(6 * gib);  // address space only: MAP_NORESERVE
    profile policy = full_profile();
    dispatcher d(memory, policy);
    int out_pipe[2], in_pipe[2];
    ASSERT_EQ(pipe(out_pipe), 0);
    ASSERT_EQ(pipe(in_pipe), 0);
    terminal term(in_pipe[0], out_pipe[1]);
    const device_set devices = device_set::of("console", term);
    clock_source clock;
    event_hub events;
    service_set services(service_registry(),
                         service_context{devices, clock, {1, 0x0000000100020003ull, "test host"}, memory.size(), events},
                         d);
    services.reset(boot_cause::power_on);
    auto get_map = [&](uint64_t address, uint64_t length) {
        return d.dispatch({call_of(abi::function::mem_get_map), {address, length, 0, 0, 0}});
    };
    for (const auto& [address, length] : std::initializer_list<std::pair<uint64_t, uint64_t>>{
             {3 * gib, 16}, {3 * gib + 0x1000, 16}, {4 * gib - 16, 16}, {3 * gib - 8, 16}, {4 * gib - 8, 16},
             {3 * gib - 4096, gib + 8192}, {7 * gib - 8, 16}})
        EXPECT_EQ(get_map(address, length).status, abi::status::invalid_address) << std::hex << address;

    const call_result whole = get_map(4 * gib, 4096);
    ASSERT_EQ(whole.status, abi::status::success);
    const uint64_t size = whole.value;
    EXPECT_EQ(get_map(7 * gib - size, size).status, abi::status::success);  // ending at the very end of RAM
    abi::mem_map_header header;
    std::memcpy(&header, memory.read(guest_address{4 * gib}, sizeof header)->data(), sizeof header);
    ASSERT_GE(header.entry_count, 2u);
    abi::mem_region last[2];
    std::memcpy(last, memory.read(guest_address{4 * gib + sizeof header + (header.entry_count - 2) * sizeof(abi::mem_region)},
                                  sizeof last)->data(), sizeof last);
    EXPECT_EQ(last[0].base + last[0].length, 3 * gib);  // RAM below the hole ends at 3 GiB...
    EXPECT_EQ(last[0].type, abi::mem_type::usable);
    EXPECT_EQ(last[1].base, 4 * gib);                   // ...and the rest starts at 4 GiB
    EXPECT_EQ(last[1].length, 3 * gib);
    EXPECT_EQ(last[1].type, abi::mem_type::usable);
    for (int fd : {out_pipe[0], out_pipe[1], in_pipe[0], in_pipe[1]})
        close(fd);
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
    EXPECT_EQ(call(abi::function::base_probe_service, uint64_t(abi::service::console)).value, abi::find_service(uint64_t(abi::service::console))->version);
    call_result absent = call(abi::function::base_probe_service, 0x1234);
    EXPECT_EQ(absent.status, abi::status::success);
    EXPECT_EQ(absent.value, 0u);
    uint32_t every_service = 0;  // the full profile offers each service of the ABI table
    for (const abi::service_desc& s : abi::services)
        every_service |= 1u << uint16_t(s.id);
    EXPECT_EQ(d.service_bitmap(), every_service);
    EXPECT_EQ(every_service, 0xFFFu);  // BASE, CONSOLE, TIME, POWER, BLOCK, MEM, RNG, EVT, DSP, INP, NET, AUD
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
    const device_set devices = device_set::of("console", term);
    clock_source clock;
    event_hub events;
    service_set services(service_registry(), service_context{devices, clock, {1, 1, "x"}, memory.size(), events}, d);
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

TEST(Dispatcher, StatusOutsideTheFunctionsErrorTableBecomesFailed)
{
    guest_memory memory(ram);
    dispatcher d(memory, full_profile());
    std::string reported;
    d.on_host_bug = [&](const std::string& what) { reported = what; };
    // IO_ERROR is a spec status, but not one monotonic_ns may return (its error table: SUCCESS).
    static_assert(!abi::contains(abi::describe(abi::function::time_monotonic_ns).statuses, abi::status::io_error));
    d.add(abi::function::time_monotonic_ns, [](const call&) { return fail(abi::status::io_error); });
    call_result r = d.dispatch({uint64_t(abi::function::time_monotonic_ns), {}});
    EXPECT_EQ(r.status, abi::status::failed);
    EXPECT_EQ(r.value, 0u);
    EXPECT_NE(reported.find("time.monotonic_ns returned status IO_ERROR"), std::string::npos) << reported;
    EXPECT_NE(reported.find("error table"), std::string::npos) << reported;

    // A listed status passes unchanged, and FAILED is always allowed.
    reported.clear();
    d.add(abi::function::console_write, [](const call&) { return fail(abi::status::io_error); });
    EXPECT_EQ(d.dispatch({uint64_t(abi::function::console_write), {0x1000, 1}}).status, abi::status::io_error);
    d.add(abi::function::console_read, [](const call&) { return fail(abi::status::failed); });
    EXPECT_EQ(d.dispatch({uint64_t(abi::function::console_read), {0x1000, 1}}).status, abi::status::failed);
    EXPECT_EQ(reported, "");
}

TEST(Dispatcher, EveryUnlistedStatusOfEveryFunctionIsCaught)
{
    // Derived from the table: for each function, each spec status its error table
    // does not list (and FAILED, which is always allowed, aside) is turned into FAILED.
    for (const abi::function_desc& f : abi::functions) {
        for (abi::status s : abi::all_statuses) {
            if (abi::contains(f.statuses, s) || s == abi::status::failed)
                continue;
            guest_memory memory(ram);
            dispatcher d(memory, full_profile());
            int bugs = 0;
            d.on_host_bug = [&](const std::string&) { ++bugs; };
            d.add(f.call, [s](const call&) { return call_result{s, 5, {}}; });
            // A handle argument needs an object to name: its service counts one.
            const size_t counter = abi::object_count_function(abi::functions, abi::function_count, f.svc);
            if (counter < abi::function_count && abi::functions[counter].call != f.call)
                d.add(abi::functions[counter].call, [](const call&) { return succeed(1); });
            // Every argument at the least its kind takes (a pixel_count is at least 1).
            call_request request{uint64_t(f.call), {}};
            for (unsigned i = 0; i < abi::max_args; ++i)
                request.args[i] = abi::kind_of(f.args[i]).min;
            const call_result r = d.dispatch(request);
            EXPECT_EQ(r.status, abi::status::failed) << f.service_name << "." << f.name << " " << abi::status_name(s);
            EXPECT_EQ(bugs, 1) << f.service_name << "." << f.name << " " << abi::status_name(s);
        }
    }
}

TEST(Dispatcher, NoReturnFunctionThatReturnsSuccessIsAHostBug)
{
    guest_memory memory(ram);
    dispatcher d(memory, full_profile());
    std::string reported;
    d.on_host_bug = [&](const std::string& what) { reported = what; };
    d.add(abi::function::power_reboot, [](const call&) { return succeed(); });  // forgot to ask for the reboot
    EXPECT_EQ(d.dispatch({uint64_t(abi::function::power_reboot), {}}).status, abi::status::failed);
    EXPECT_NE(reported.find("power.reboot returned status SUCCESS"), std::string::npos) << reported;
}

TEST_F(DispatcherTest, ArgumentMasksAndRangesComeFromTheTable)
{
    // For every argument of every function: the lowest reserved bit, bit 63, and
    // the first value above the kind's range (when it has no reserved bit set)
    // are INVALID_PARAM, with no effect; the largest valid value is accepted.
    for (const abi::function_desc& f : abi::functions) {
        for (unsigned i = 0; i < abi::max_args; ++i) {
            const abi::arg_kind_desc& k = abi::kind_of(f.args[i]);
            std::vector<uint64_t> invalid;
            if (k.reserved) {
                invalid.push_back(k.reserved & (0 - k.reserved));
                invalid.push_back(1ull << 63);
            }
            if (k.max != ~0ull && !((k.max + 1) & k.reserved))
                invalid.push_back(k.max + 1);
            // The other arguments at the least their kinds take.
            call_request least{uint64_t(f.call), {}};
            for (unsigned j = 0; j < abi::max_args; ++j)
                least.args[j] = abi::kind_of(f.args[j]).min;
            for (uint64_t value : invalid) {
                call_request request = least;
                request.args[i] = value;
                const call_result r = d.dispatch(request);
                EXPECT_EQ(r.status, abi::status::invalid_param) << f.service_name << "." << f.name << " arg " << i
                                                                << " = " << value;
                EXPECT_EQ(r.request.what, machine_request::kind::none) << f.service_name << "." << f.name;
            }
            if (k.cls == abi::arg_class::value && k.reserved) {
                call_request request = least;
                request.args[i] = k.max;
                EXPECT_NE(d.dispatch(request).status, abi::status::invalid_param) << f.service_name << "." << f.name;
            }
        }
    }
}

TEST_F(DispatcherTest, UnusedArgumentRegistersAreIgnored)
{
    // HB-CALL-010, derived from the table: garbage in every register a function
    // does not use changes neither status nor (for repeatable results) value.
    for (const abi::function_desc& f : abi::functions) {
        call_request zeros{uint64_t(f.call), {}};
        if (abi::kind_of(f.result).cls == abi::result_class::no_return) {
            // Make the call fail at an argument, so that it does not stop the machine.
            unsigned i = 0;
            while (i < abi::max_args && abi::kind_of(f.args[i]).reserved == 0)
                ++i;
            if (i == abi::max_args)
                continue;  // reboot: nothing makes it fail
            zeros.args[i] = 1ull << 63;
        }
        call_request garbage = zeros;
        for (unsigned i = abi::arity(f); i < abi::max_args; ++i)
            garbage.args[i] = 0xDEAD'BEEF'0000'0000ull | (i * 0x1111);
        const call_result a = d.dispatch(zeros), b = d.dispatch(garbage);
        EXPECT_EQ(a.status, b.status) << f.service_name << "." << f.name;
        if (abi::kind_of(f.result).repeatable) {
            EXPECT_EQ(a.value, b.value) << f.service_name << "." << f.name;
        }
        EXPECT_EQ(a.request.what, b.request.what) << f.service_name << "." << f.name;
    }
}

// Handles, records and enumerations: kinds no function of today's table uses
// yet, pinned with a synthetic service. Its `count` function answers how many
// devices there are; `info(device, record)` writes a 16-byte record; `set_mode`
// takes a value of an enumeration.
TEST(Dispatcher, HandlesRecordsAndEnumerationsFollowTheirKinds)
{
    constexpr auto svc = abi::service(0x001D);
    constexpr auto device = abi::arg_kind(0x40), record = abi::arg_kind(0x41), mode = abi::arg_kind(0x42);
    const abi::arg_kind_desc kinds[] = {
        abi::kind_of(abi::arg_kind::none),
        {device, "device", abi::arg_class::handle, 0xFFFFFFFFFFFF0000ull, 0, 0xFFFE, 0, "", "a device"},
        {record, "info_record", abi::arg_class::out_record, 0, 0, ~0ull, 16, "", "a 16-byte record"},
        {mode, "mode", abi::arg_class::enumeration, 0xFFFFFFFFFFFFFF00ull, 0, 1, 0, "reset_reason", "a mode"},
    };
    constexpr auto count_call = abi::function(abi::make_call(0x001D, 0));
    constexpr auto info_call = abi::function(abi::make_call(0x001D, 1));
    constexpr auto mode_call = abi::function(abi::make_call(0x001D, 2));
    using abi::arg_kind;
    const abi::function_desc table[] = {
        {count_call, svc, 0, "synthetic", "count", 1, {arg_kind::none, arg_kind::none, arg_kind::none, arg_kind::none,
          arg_kind::none}, abi::result_kind::object_count, abi::status_set_of(abi::status::success), "HB-GEN-001"},
        {info_call, svc, 1, "synthetic", "info", 1, {device, record, arg_kind::none, arg_kind::none, arg_kind::none},
         abi::result_kind::none,
         abi::status_set_of(abi::status::success, abi::status::invalid_param, abi::status::invalid_address),
         "HB-GEN-001"},
        {mode_call, svc, 2, "synthetic", "set_mode", 1, {mode, arg_kind::none, arg_kind::none, arg_kind::none,
          arg_kind::none}, abi::result_kind::none,
         abi::status_set_of(abi::status::success, abi::status::invalid_param), "HB-GEN-001"},
    };
    guest_memory memory(ram);
    profile with_synthetic{"synthetic", "", {abi::service::base, svc}, {}};
    dispatcher d(memory, with_synthetic, table, kinds);
    int info_calls = 0;
    std::vector<std::pair<uint64_t, uint64_t>> written;
    d.on_guest_write = [&](uint64_t address, uint64_t length) { written.push_back({address, length}); };
    d.add(count_call, [](const call&) { return succeed(2); });
    d.add(info_call, [&](const call& c) {
        ++info_calls;
        EXPECT_EQ(c.out_record(1).size(), 16u);  // the kind's record_size
        return succeed();
    });
    d.add(mode_call, [](const call&) { return succeed(); });
    auto status = [&](abi::function f, uint64_t a0, uint64_t a1 = 0) { return d.dispatch({uint64_t(f), {a0, a1}}).status; };

    EXPECT_EQ(status(info_call, 1, 0x1000), abi::status::success);
    EXPECT_EQ(written, (std::vector<std::pair<uint64_t, uint64_t>>{{0x1000, 16}}));
    EXPECT_EQ(status(info_call, 2, 0x1000), abi::status::invalid_param);        // no device 2: count is 2
    EXPECT_EQ(status(info_call, 0xFFFF, 0x1000), abi::status::invalid_param);   // above the kind's range
    EXPECT_EQ(status(info_call, 1ull << 16, 0x1000), abi::status::invalid_param);  // reserved bit
    EXPECT_EQ(status(info_call, 0, ram - 8), abi::status::invalid_address);     // record straddles the end of RAM
    EXPECT_EQ(status(info_call, 2, ram - 8), abi::status::invalid_param);       // arguments before records
    EXPECT_EQ(info_calls, 1);

    EXPECT_EQ(status(mode_call, abi::reset_reason::power_on), abi::status::success);
    EXPECT_EQ(status(mode_call, abi::reset_reason::guest_reboot), abi::status::success);
    EXPECT_EQ(status(mode_call, 2), abi::status::invalid_param);  // not a value of the enumeration
}

TEST(Dispatcher, RefusesAMalformedTable)
{
    // A buffer whose function's error table lacks INVALID_ADDRESS: the table check
    // that guards abi.hpp guards synthetic tables too.
    constexpr auto call_word = abi::function(abi::make_call(0x001E, 0));
    using abi::arg_kind;
    const abi::function_desc table[] = {
        {call_word, abi::service(0x001E), 0, "synthetic", "write", 1,
         {arg_kind::in_buffer, arg_kind::length, arg_kind::none, arg_kind::none, arg_kind::none},
         abi::result_kind::count, abi::status_set_of(abi::status::success), "HB-GEN-001"},
    };
    guest_memory memory(ram);
    try {
        dispatcher d(memory, full_profile(), table);
        FAIL() << "a malformed table was accepted";
    } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("INVALID_ADDRESS"), std::string::npos) << e.what();
    }
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
         abi::result_kind::count,
         abi::status_set_of(abi::status::success, abi::status::invalid_param, abi::status::invalid_address),
         "HB-GEN-001"},
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
