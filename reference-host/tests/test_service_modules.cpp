// The service-module registry and the reset hook: every module is created and
// registered once, every module's reset runs before every boot in registry order,
// and a module's state outlives a reset only where the module keeps it on purpose.
#include "core/dispatcher.hpp"
#include "vm/machine.hpp"
#include "devices/clock.hpp"
#include "devices/device_set.hpp"
#include "devices/terminal.hpp"
#include "core/event_hub.hpp"
#include "services/services.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace hbvm {
namespace {

constexpr uint64_t ram = 4 << 20;

// What the recording modules saw, in the order they saw it.
struct event_log {
    std::vector<std::string> events;
};

std::string cause_name(boot_cause cause) { return cause == boot_cause::power_on ? "power-on" : "reset"; }

// A module with no functions that logs its registration and its resets. Past
// `max_boots` resets it throws, which ends a machine's run: a guest that reboots
// forever (its reset reason never changes) fails the test instead of hanging it.
class recording_module final : public service_module {
public:
    recording_module(std::string name, event_log& log, unsigned max_boots)
        : name_(std::move(name)), log_(log), max_boots_(max_boots)
    {
    }
    void add_handlers(dispatcher&) override { log_.events.push_back(name_ + ": handlers"); }
    void reset(boot_cause cause) override
    {
        log_.events.push_back(name_ + ": " + cause_name(cause));
        if (++boots_ > max_boots_)
            throw std::runtime_error(name_ + ": more than " + std::to_string(max_boots_) + " boots");
    }

private:
    std::string name_;
    event_log& log_;
    unsigned max_boots_, boots_ = 0;
};

service_module_entry recorder(const char* name, event_log& log, unsigned max_boots = 100)
{
    return {name, [name, &log, max_boots](const service_context&) {
                return std::make_unique<recording_module>(name, log, max_boots);
            }};
}

// A terminal on no file (reads find nothing waiting), a clock and a dispatcher: a context for modules.
class ServiceModules : public ::testing::Test {
protected:
    call_result call(dispatcher& d, abi::function f) { return d.dispatch({uint64_t(f), {}}); }

    guest_memory memory{ram};
    terminal term{-1, -1};
    device_set devices = device_set::of("console", term);
    clock_source clock;
    event_hub events;
    service_context context{devices, clock, {1, 0x0000000100020003ull, "test host"}, 128ull << 20, events};
};

TEST_F(ServiceModules, TheRegistryHasOneModulePerServiceOfTheAbiTable)
{
    const std::span<const service_module_entry> registry = service_registry();
    ASSERT_EQ(registry.size(), std::size(abi::services));
    for (const abi::service_desc& s : abi::services) {
        const auto named = [&](const service_module_entry& e) { return std::string(e.name) == s.name; };
        EXPECT_EQ(std::count_if(registry.begin(), registry.end(), named), 1) << s.name;
    }
}

TEST_F(ServiceModules, EveryModuleIsRegisteredOnceAndResetInRegistryOrderAtEveryBoot)
{
    event_log log;
    const std::vector<service_module_entry> registry = {recorder("first", log), recorder("second", log),
                                                        recorder("third", log)};
    dispatcher d(memory, full_profile());
    service_set set(registry, context, d);
    EXPECT_EQ(set.size(), 3u);
    EXPECT_EQ(log.events, (std::vector<std::string>{"first: handlers", "second: handlers", "third: handlers"}));
    log.events.clear();
    set.reset(boot_cause::power_on);
    set.reset(boot_cause::reset);
    set.reset(boot_cause::reset);
    EXPECT_EQ(log.events, (std::vector<std::string>{"first: power-on", "second: power-on", "third: power-on",
                                                    "first: reset", "second: reset", "third: reset",
                                                    "first: reset", "second: reset", "third: reset"}));
}

TEST_F(ServiceModules, AModuleThatCreatesNothingIsRefused)
{
    dispatcher d(memory, full_profile());
    const std::vector<service_module_entry> registry = {{"broken", [](const service_context&) {
                                                             return std::unique_ptr<service_module>();
                                                         }}};
    EXPECT_THROW(service_set(registry, context, d), std::logic_error);
}

TEST_F(ServiceModules, TheResetReasonIsKeptAcrossTheResetPowerRebootAskedFor)
{
    dispatcher d(memory, full_profile());
    service_set set(service_registry(), context, d);
    const auto reason = [&] { return call(d, abi::function::power_reset_reason).value; };

    set.reset(boot_cause::power_on);
    EXPECT_EQ(reason(), abi::reset_power_on);
    EXPECT_EQ(call(d, abi::function::power_reboot).request.what, machine_request::kind::reset);
    EXPECT_EQ(reason(), abi::reset_power_on) << "the reason changed before the reset happened";
    set.reset(boot_cause::reset);
    EXPECT_EQ(reason(), abi::reset_guest_reboot);
    // A second reboot: still a reboot.
    call(d, abi::function::power_reboot);
    set.reset(boot_cause::reset);
    EXPECT_EQ(reason(), abi::reset_guest_reboot);
    // A reset the guest did not ask for is not reported as its reboot.
    set.reset(boot_cause::reset);
    EXPECT_EQ(reason(), abi::reset_power_on);
    // Nor survives a power cycle a reboot asked for before it.
    call(d, abi::function::power_reboot);
    set.reset(boot_cause::power_on);
    EXPECT_EQ(reason(), abi::reset_power_on);
}

// Every call's answer, with all arguments zero (zero-length buffers may name any
// address): what a guest can observe of the modules' state without input.
// Readings of a host clock change by themselves, so only their status counts.
std::vector<std::string> observe(dispatcher& d)
{
    std::vector<std::string> seen;
    for (const abi::function_desc& f : abi::functions) {
        const call_result r = d.dispatch({uint64_t(f.call), {}});
        std::string line = std::string(f.service_name) + "." + f.name + ": " + abi::status_name(r.status) +
                           ", request " + std::to_string(int(r.request.what));
        if (abi::kind_of(f.result).repeatable)
            line += ", value " + std::to_string(r.value);
        seen.push_back(line);
    }
    return seen;
}

TEST_F(ServiceModules, APowerOnBootSeesWhatAFreshMachineSees)
{
    dispatcher fresh_d(memory, full_profile());
    service_set fresh(service_registry(), context, fresh_d);
    fresh.reset(boot_cause::power_on);
    const std::vector<std::string> expected = observe(fresh_d);

    // observe() also calls POWER.reboot and shutdown, which leave requests behind.
    // A second machine: its own event path (sources attach to one hub each).
    event_hub used_events;
    const service_context used_context{devices, clock, context.identity, context.ram_size, used_events};
    dispatcher used_d(memory, full_profile());
    service_set used(service_registry(), used_context, used_d);
    used.reset(boot_cause::power_on);
    observe(used_d);
    used.reset(boot_cause::reset);
    observe(used_d);
    used.reset(boot_cause::power_on);
    EXPECT_EQ(observe(used_d), expected);
}

TEST_F(ServiceModules, AResetChangesOnlyWhatAModuleKeepsOnPurpose)
{
    dispatcher d(memory, full_profile());
    service_set set(service_registry(), context, d);
    set.reset(boot_cause::power_on);
    std::vector<std::string> before = observe(d);  // calls POWER.reboot among the rest
    set.reset(boot_cause::reset);
    std::vector<std::string> after = observe(d);
    // The one thing kept on purpose: POWER.reset_reason tells the new boot a reboot caused it.
    const std::string reason = std::string("power.reset_reason: SUCCESS, request 0, value ");
    const auto is_reason = [&](const std::string& line) { return line.rfind(reason, 0) == 0; };
    const auto in_before = std::find_if(before.begin(), before.end(), is_reason);
    const auto in_after = std::find_if(after.begin(), after.end(), is_reason);
    ASSERT_NE(in_before, before.end());
    ASSERT_NE(in_after, after.end());
    EXPECT_EQ(*in_before, reason + std::to_string(abi::reset_power_on));
    EXPECT_EQ(*in_after, reason + std::to_string(abi::reset_guest_reboot));
    before.erase(in_before);
    after.erase(in_after);
    EXPECT_EQ(after, before);
}

// The machine runs the reset hooks itself: the reboot_once guest reboots once and
// shuts down with 7 only if POWER.reset_reason then says "guest reboot". Recording
// modules around the registry's see each boot, in their order.
TEST(MachineServiceModules, EveryModuleIsResetBeforeEveryBoot)
{
    event_log log;
    std::vector<service_module_entry> registry = {recorder("first", log, 4)};
    registry.insert(registry.end(), service_registry().begin(), service_registry().end());
    registry.push_back(recorder("last", log, 4));
    machine_config config;
    config.image_path = HBVM_TEST_GUESTS_DIR "/reboot_once.elf";
    config.cmdline = config.image_path;
    config.memory_size = 16 << 20;
    config.accel = accelerator_kind::soft;
    config.services = registry;
    machine m(config);
    EXPECT_EQ(log.events, (std::vector<std::string>{"first: handlers", "last: handlers"}));
    log.events.clear();
    // A machine that does not reset its modules reboots this guest forever, and
    // the recorders, never reset, cannot end it: SIGALRM ends the test binary then.
    alarm(60);
    int status = -1;
    EXPECT_NO_THROW(status = m.run().status) << "the guest kept rebooting";
    alarm(0);
    EXPECT_EQ(status, 7) << "reboot_once did not see POWER.reset_reason report its reboot";
    EXPECT_EQ(log.events,
              (std::vector<std::string>{"first: power-on", "last: power-on", "first: reset", "last: reset"}));
}

}  // namespace
}  // namespace hbvm
