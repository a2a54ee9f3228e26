// Profiles: the TOML form (its errors name file, line and problem), the
// built-in files, what the dispatcher makes of one (permitted functions, rate
// limits, the rule --trace names) and what the device layer makes of one (RAM,
// disk windows, display limits, network back ends).
#include "core/dispatcher.hpp"
#include "core/error.hpp"
#include "devices/disk.hpp"
#include "policy/apply.hpp"
#include "policy/audit.hpp"
#include "policy/profile.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

namespace hbvm {

namespace {

namespace abi = hyperbios::abi;

std::string problem_of(const std::string& text)
{
    try {
        parse_profile(text, "p.toml");
    } catch (const error& e) {
        return e.what();
    }
    return "";
}

TEST(Profile, BuiltinsAreTheDataFiles)
{
    EXPECT_EQ(profile_names(), (std::vector<std::string>{"full", "no-reboot", "minimal", "ps3"}));
    const profile& full = full_profile();
    EXPECT_EQ(full.services.size(), std::size(abi::services));
    EXPECT_TRUE(full.denied.empty());
    const auto no_reboot = find_profile("no-reboot");
    ASSERT_TRUE(no_reboot);
    EXPECT_TRUE(no_reboot->denies(abi::function::power_reboot));
    const auto minimal = find_profile("minimal");
    ASSERT_TRUE(minimal);
    EXPECT_EQ(minimal->services.size(), 4u);
    EXPECT_FALSE(minimal->offers(abi::service::block));
    const auto ps3 = find_profile("ps3");
    ASSERT_TRUE(ps3);
    EXPECT_EQ(ps3->max_memory, 208ull << 20);
    ASSERT_TRUE(ps3->window_of(0));
    EXPECT_EQ(ps3->window_of(0)->first_sector, 2048u);
    EXPECT_FALSE(ps3->window_of(0)->sectors);
    ASSERT_TRUE(ps3->window_of(1));
    EXPECT_TRUE(ps3->window_of(1)->read_only);
    EXPECT_EQ(ps3->max_display_width, 1920u);
    EXPECT_EQ(ps3->max_display_height, 1200u);
    ASSERT_TRUE(ps3->rate_of(abi::function::dsp_present));
    EXPECT_EQ(ps3->rate_of(abi::function::dsp_present)->per_second, 60u);
    EXPECT_TRUE(ps3->allows_net_backend("user"));
    EXPECT_FALSE(ps3->allows_net_backend("tap"));
    EXPECT_NE(std::string(builtin_profile_text("ps3")).find("profile_version = 1"), std::string::npos);
}

TEST(Profile, ErrorsNameTheLineAndTheProblem)
{
    EXPECT_EQ(problem_of("services = \"all\"\n"), "p.toml:1: profile_version is missing; this hbvm reads profile_version = 1");
    EXPECT_EQ(problem_of("profile_version = 2\nservices = \"all\"\n"),
              "p.toml:1: profile_version = 2: this hbvm reads profile_version = 1 only");
    EXPECT_EQ(problem_of("profile_version = 1\nservices = [\"console\"]\n"),
              "p.toml:2: services: every host offers base (HB-BASE-007); add \"base\"");
    EXPECT_EQ(problem_of("profile_version = 1\nservices = \"all\"\n\ndenied = [\"power.rebot\"]\n"),
              "p.toml:4: denied: no function 'power.rebot'; the functions of power are shutdown, reboot, reset_reason");
    EXPECT_EQ(problem_of("profile_version = 1\nservices = \"all\"\ndenied = [\"base.probe_service\"]\n"),
              "p.toml:3: denied: base.probe_service cannot be denied (HB-BASE-007)");
    EXPECT_NE(problem_of("profile_version = 1\nservices = \"all\"\n[rate]\n\"console.write\" = 5\n")
                  .find("p.toml:4: rate: console.write cannot be limited: its error table has no AGAIN"),
              std::string::npos);
    EXPECT_NE(problem_of("profile_version = 1\nservices = \"all\"\nram = 5\n").find("p.toml:3: unknown key 'ram'"),
              std::string::npos);
    EXPECT_NE(problem_of("profile_version = 1\nservices = \"all\"\n[memory]\nmax = \"1M\"\n").find("p.toml:4: memory.max"),
              std::string::npos);
    EXPECT_NE(problem_of("profile_version = 1\nservices = \"all\"\n[[disk]]\nindex = 0\n[[disk]]\nindex = 0\n")
                  .find("disk 0 has two windows"),
              std::string::npos);
    EXPECT_NE(problem_of("profile_version = 1\nservices = [\"base\"]\n[[disk]]\nindex = 0\n").find("does not offer block"),
              std::string::npos);
    EXPECT_NE(problem_of("profile_version = 1\nservices = \"all\"\n[network]\nbackends = [\"wifi\"]\n")
                  .find("p.toml:4: network.backends: no back end 'wifi'"),
              std::string::npos);
    EXPECT_NE(problem_of("profile_version = 1\nservices = \"all\"\nname = \"Big Name\"\n").find("name: 'Big Name'"),
              std::string::npos);
    EXPECT_NE(problem_of("profile_version = 1\nservices = [\"base\"\n").find("p.toml:2"), std::string::npos);
}

TEST(Profile, TheNameComesFromTheFileWhenNotGiven)
{
    EXPECT_EQ(parse_profile("profile_version = 1\nservices = \"all\"\n", "/x/y/kiosk.toml").name, "kiosk");
}

TEST(Profile, DispatcherReportsPermittedFunctionsAndLimits)
{
    guest_memory memory(1 << 20);
    const profile p = parse_profile("profile_version = 1\nservices = [\"base\", \"console\", \"power\", \"dsp\"]\n"
                                    "denied = [\"power.reboot\"]\n[rate]\n\"dsp.present\" = 3\n",
                                    "limits.toml");
    dispatcher d(memory, p);
    for (const abi::function_desc& f : abi::functions)
        d.add(f.call, [](const call&) { return succeed(0); });
    EXPECT_EQ(d.permitted_functions(uint64_t(abi::service::power)), 0b101u);  // shutdown, reset_reason
    EXPECT_EQ(d.permitted_functions(uint64_t(abi::service::block)), 0u);      // not offered
    EXPECT_EQ(d.permitted_functions(0x7FFF), 0u);
    EXPECT_EQ(d.rate_limit(uint64_t(abi::function::dsp_present)), 3u);
    EXPECT_EQ(d.rate_limit(uint64_t(abi::function::console_write)), 0u);
    EXPECT_EQ(d.rate_limit(uint64_t(abi::function::power_reboot)), 0u);  // denied: no limit to speak of

    EXPECT_EQ(d.dispatch({uint64_t(abi::function::power_reboot), {}}).status, abi::status::denied);
    EXPECT_EQ(d.last_rule(), "profile limits (limits.toml:3) denies power.reboot");
    EXPECT_EQ(d.dispatch({uint64_t(abi::function::block_count), {}}).status, abi::status::not_supported);
    EXPECT_EQ(d.last_rule(), "profile limits (limits.toml:2) does not offer block");
    EXPECT_EQ(d.dispatch({uint64_t(abi::function::console_write), {}}).status, abi::status::success);
    EXPECT_EQ(d.last_rule(), "");
}

// The sliding window of spec 2.1 step 6: R calls let through in any second,
// AGAIN beyond, and calls refused by an earlier step do not count.
TEST(Profile, RateLimitIsASlidingWindowOfOneSecond)
{
    guest_memory memory(1 << 20);
    const profile p = parse_profile("profile_version = 1\nservices = \"all\"\n[rate]\n\"aud.write\" = 3\n", "r.toml");
    dispatcher d(memory, p);
    uint64_t now = 5'000'000'000;
    d.now_ns = [&] { return now; };
    d.add(abi::function::aud_count, [](const call&) { return succeed(1); });
    int handled = 0;
    d.add(abi::function::aud_write, [&](const call&) {
        ++handled;
        return succeed(0);
    });
    const call_request write{uint64_t(abi::function::aud_write), {0, 0x1000, 16, 0, 0}};
    const call_request bad_device{uint64_t(abi::function::aud_write), {7, 0x1000, 16, 0, 0}};
    for (int i = 0; i < 3; ++i, now += 100'000'000)
        EXPECT_EQ(d.dispatch(write).status, abi::status::success);
    EXPECT_EQ(d.dispatch(write).status, abi::status::again);
    EXPECT_EQ(d.last_rule(), "profile r (r.toml:4) limits aud.write to 3 calls a second");
    EXPECT_EQ(d.dispatch(bad_device).status, abi::status::invalid_param);  // step 4 comes first
    EXPECT_EQ(handled, 3);
    now = 5'000'000'000 + 999'999'999;  // the first call is still within the second
    EXPECT_EQ(d.dispatch(write).status, abi::status::again);
    now = 6'000'000'000;  // exactly a second after the first: it leaves the window
    EXPECT_EQ(d.dispatch(write).status, abi::status::success);
    EXPECT_EQ(d.dispatch(write).status, abi::status::again);
    now = 6'100'000'000;  // the second call leaves the window
    EXPECT_EQ(d.dispatch(write).status, abi::status::success);
    EXPECT_EQ(handled, 5);
}

class ProfileApply : public ::testing::Test {
protected:
    machine_config config;
    void add(const std::string& cls, std::vector<std::pair<std::string, std::string>> values)
    {
        config.devices.push_back(device_settings{cls, "--" + cls, std::move(values)});
    }
    std::string problem(const profile& p, bool memory_given)
    {
        try {
            apply_profile(p, config, memory_given);
        } catch (const error& e) {
            return e.what();
        }
        return "";
    }
};

TEST_F(ProfileApply, TheProfileWinsOverMem)
{
    const auto ps3 = find_profile("ps3");
    config.memory_size = 512ull << 20;
    EXPECT_NE(problem(*ps3, true).find("--mem 512M: profile ps3 (builtin:ps3:"), std::string::npos);
    EXPECT_EQ(problem(*ps3, false), "");  // the default is capped, not refused
    EXPECT_EQ(config.memory_size, 208ull << 20);
    config.memory_size = 64ull << 20;
    EXPECT_EQ(problem(*ps3, true), "");
    EXPECT_EQ(config.memory_size, 64ull << 20);
}

TEST_F(ProfileApply, DevicesGetTheProfilesLimits)
{
    add("disk", {{"path", "a.img"}});
    add("disk", {{"path", "b.img"}});
    add("display", {});
    add("net", {{"backend", "user"}});
    ASSERT_EQ(problem(*find_profile("ps3"), false), "");
    EXPECT_EQ(config.devices[0].get("first-sector"), "2048");
    EXPECT_FALSE(config.devices[0].get("sectors"));
    EXPECT_FALSE(config.devices[0].get("ro"));
    EXPECT_EQ(config.devices[1].get("ro"), "true");
    EXPECT_EQ(config.devices[2].get("max-width"), "1920");
    EXPECT_EQ(config.devices[2].get("max-height"), "1200");
}

TEST_F(ProfileApply, WhatTheProfileForbidsIsRefusedOrLeftOut)
{
    add("net", {{"backend", "tap:tap0"}});
    EXPECT_NE(problem(*find_profile("ps3"), false).find("does not allow the network back end 'tap'"), std::string::npos);
    config.devices.clear();
    add("display", {{"max-width", "4096"}});
    EXPECT_NE(problem(*find_profile("ps3"), false).find("max-width=4096 is beyond what profile ps3"), std::string::npos);
    config.devices.clear();
    add("disk", {{"path", "a.img"}, {"first-sector", "1"}});
    EXPECT_NE(problem(*find_profile("ps3"), false).find("disk 0's window is the profile's"), std::string::npos);
    config.devices.clear();
    add("disk", {{"path", "a.img"}});
    add("audio", {{"backend", "none"}});
    EXPECT_EQ(problem(*find_profile("minimal"), false), "");
    EXPECT_TRUE(config.devices.empty());  // BLOCK and AUD are not offered: their devices are left out
}

TEST(DiskWindow, TheGuestSeesOnlyTheWindow)
{
    char path[] = "/tmp/hbvm-window-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    std::vector<std::byte> content(16 * 512);
    for (size_t i = 0; i < content.size(); ++i)
        content[i] = std::byte(i / 512);  // each sector holds its number
    ASSERT_EQ(write(fd, content.data(), content.size()), ssize_t(content.size()));
    close(fd);
    disk_spec spec;
    spec.path = path;
    spec.first_sector = 4;
    spec.sectors = 8;
    {
        disk d(spec, "w");
        EXPECT_EQ(d.sector_count(), 8u);
        std::vector<std::byte> sector(512);
        ASSERT_TRUE(d.read(0, sector));
        EXPECT_EQ(sector[0], std::byte(4));
        ASSERT_TRUE(d.read(7 * 512, sector));
        EXPECT_EQ(sector[511], std::byte(11));
        std::fill(sector.begin(), sector.end(), std::byte(0xEE));
        ASSERT_TRUE(d.write(0, sector));
    }
    std::ifstream in(path, std::ios::binary);
    std::vector<char> after(16 * 512);
    in.read(after.data(), std::streamsize(after.size()));
    EXPECT_EQ(after[3 * 512 + 511], 3);            // the sector before the window is untouched
    EXPECT_EQ(uint8_t(after[4 * 512]), 0xEEu);    // the guest's sector 0 is the file's sector 4
    spec.sectors = 13;  // 4 + 13 > 16
    EXPECT_THROW(disk(spec, "w"), error);
    spec.first_sector = 16;
    spec.sectors.reset();
    EXPECT_THROW(disk(spec, "w"), error);
    unlink(path);
}

// The audit judges accesses by the profile itself: the window's bytes, a
// read-only window, the largest display, refused calls and the rate.
TEST(AccessAudit, FindsWhatLiesOutsideTheProfile)
{
    char path[] = "/tmp/hbvm-audit-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    const profile p = parse_profile("profile_version = 1\nservices = [\"base\", \"block\", \"dsp\", \"power\"]\n"
                                    "denied = [\"power.reboot\"]\n[[disk]]\nindex = 0\nfirst_sector = 4\nsectors = 8\n"
                                    "[[disk]]\nindex = 1\nread_only = true\n[display]\nmax_width = 800\nmax_height = 600\n"
                                    "[rate]\n\"dsp.present\" = 2\n",
                                    "a.toml");
    access_audit::start(p, path);
    access_audit* audit = access_audit::active();
    ASSERT_TRUE(audit);
    const unsigned d0 = audit->disk_opened(64 * 512, 512), d1 = audit->disk_opened(64 * 512, 512);
    audit->disk_io(d0, 4 * 512, 8 * 512, true);  // the whole window
    audit->disk_io(d1, 0, 512, false);            // a read of a read-only disk
    EXPECT_EQ(audit->violations(), 0u);
    audit->disk_io(d0, 3 * 512, 512, false);      // the sector before the window
    audit->disk_io(d0, 11 * 512, 1024, false);    // across its end
    audit->disk_io(d0, ~uint64_t(0) - 100, 512, false);  // wrapping
    audit->disk_io(d1, 0, 512, true);             // a write to the read-only one
    EXPECT_EQ(audit->violations(), 4u);
    const unsigned screen = audit->display_opened();
    audit->display_mode(screen, 800, 600);
    audit->display_rect(screen, 0, 0, 800, 600, 800, 600);
    EXPECT_EQ(audit->violations(), 4u);
    audit->display_mode(screen, 801, 600);
    audit->display_rect(screen, 700, 0, 101, 1, 800, 600);
    EXPECT_EQ(audit->violations(), 6u);
    audit->call_served(abi::function::power_reboot, 1);  // denied
    audit->call_served(abi::function::net_count, 1);     // not offered
    EXPECT_EQ(audit->violations(), 8u);
    audit->call_served(abi::function::dsp_present, 1'000'000'000);
    audit->call_served(abi::function::dsp_present, 1'500'000'000);
    EXPECT_EQ(audit->violations(), 8u);
    audit->call_served(abi::function::dsp_present, 1'900'000'000);  // a third within one second
    EXPECT_EQ(audit->violations(), 9u);
    audit->call_served(abi::function::dsp_present, 2'600'000'000);  // the first two have left the second
    EXPECT_EQ(audit->violations(), 9u);
    access_audit::finish();
    EXPECT_FALSE(access_audit::active());
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("audit-violation profile=a disk 0 read at bytes 1536+512, outside the profile's window [2048, 6144)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("audit profile=a calls=6 disk-accesses=6 disk-bytes="), std::string::npos) << text;
    EXPECT_NE(text.find(" violations=9 first: disk 0 read at bytes 1536+512"), std::string::npos) << text;
    unlink(path);
}

}  // namespace

}  // namespace hbvm
