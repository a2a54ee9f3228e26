// The back-end module loader (devices/module_loader.hpp): a module is found in
// the first folder that has it and makes working devices; a module missing, one
// that does not load, one without its entry and one of another hbvm version are
// each refused with a message that names the file and the fix.
#include "core/error.hpp"
#include "devices/device_set.hpp"
#include "devices/module_loader.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace hbvm {
namespace {

const std::string modules = HBVM_TEST_MODULES_DIR;

// The message of the hbvm::error that `f` throws, or "" when it throws none.
template <typename F>
std::string error_of(F f)
{
    try {
        f();
    } catch (const error& e) {
        EXPECT_EQ(e.status(), exit_status::host_failure);
        return e.what();
    }
    return "";
}

device_settings probe_settings(const std::string& port, const std::string& answer)
{
    return {"probe", "--probe port=" + port, {{"port", port}, {"answer", answer}}};
}

TEST(ModuleLoader, AModuleFoundInTheSearchPathMakesWorkingDevices)
{
    // The first folder that has the file wins; a folder without it is passed over.
    const module_entry& entry = load_module("probe", "--probe", {"/nonexistent", modules});
    EXPECT_STREQ(entry.name, "probe");
    EXPECT_STREQ(entry.hbvm_version, HBVM_VERSION_STRING);

    std::vector<std::string> notes;
    const device_host host{[&](const std::string& text) { notes.push_back(text); }, {}, false};
    std::vector<std::unique_ptr<device>> made =
        entry.create("probe", {probe_settings("0x80", "0x1234"), probe_settings("0x81", "7")}, host);
    ASSERT_EQ(made.size(), 2u);
    EXPECT_EQ(notes.size(), 2u);
    device_set set;
    set.attach("probe", *made[0]);
    set.attach("probe", *made[1]);
    EXPECT_EQ(set.on_io(io_access{false, 0x80, 4, 0})->value, 0x1234u);
    EXPECT_EQ(set.on_io(io_access{false, 0x81, 1, 0})->value, 7u);
    EXPECT_FALSE(set.on_io(io_access{false, 0x82, 1, 0}));

    // Loaded once: a second load gives the same entry.
    EXPECT_EQ(&load_module("probe", "--probe", {modules}), &entry);
}

TEST(ModuleLoader, CreateInModuleLoadsNothingWhenNoDeviceIsChosen)
{
    auto create = create_in_module("absent", "absent");
    EXPECT_TRUE(create({}, device_host{}).empty());
    // Chosen, it names the option, the file, where it looked and what to do.
    const std::string message = error_of([&] { create({{"absent", "--absent x", {}}}, device_host{}); });
    EXPECT_NE(message.find("--absent x needs the back-end module hbvm-absent.so, which is not installed"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("$HBVM_MODULE_PATH"), std::string::npos) << message;
}

TEST(ModuleLoader, AMissingModuleNamesTheFoldersSearched)
{
    const std::string message = error_of([] { load_module("absent", "--display sdl", {"/a", "/b"}); });
    EXPECT_NE(message.find("(looked in /a, /b)"), std::string::npos) << message;
    EXPECT_NE(message.find("--target hbvm-absent"), std::string::npos) << message;
}

TEST(ModuleLoader, AFileThatDoesNotLoadSaysWhy)
{
    const std::filesystem::path folder = std::filesystem::temp_directory_path() / ("hbvm-module-loader-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(folder);
    std::ofstream(folder / "hbvm-garbage.so") << "not a shared object\n";
    const std::string message = error_of([&] { load_module("garbage", "--garbage", {folder.string()}); });
    std::filesystem::remove_all(folder);
    EXPECT_NE(message.find("hbvm-garbage.so does not load ("), std::string::npos) << message;
}

TEST(ModuleLoader, AModuleWithoutItsEntryIsRefused)
{
    const std::string message = error_of([] { load_module("entryless", "--entryless", {modules}); });
    EXPECT_NE(message.find("is no hbvm back-end module (no hbvm_module_entry())"), std::string::npos) << message;
}

TEST(ModuleLoader, AModuleOfAnotherVersionIsRefused)
{
    const std::string message = error_of([] { load_module("stale", "--stale", {modules}); });
    EXPECT_NE(message.find("was built for module interface " + std::to_string(module_interface_version) +
                           ", hbvm 0.0.1; this hbvm is " HBVM_VERSION_STRING),
              std::string::npos)
        << message;
}

TEST(ModuleLoader, TheSearchPathIsTheEnvironmentsFoldersThenTheOneBesideBin)
{
    setenv("HBVM_MODULE_PATH", "/one::/two", 1);
    const std::vector<std::string> path = module_search_path();
    unsetenv("HBVM_MODULE_PATH");
    ASSERT_EQ(path.size(), 3u);
    EXPECT_EQ(path[0], "/one");
    EXPECT_EQ(path[1], "/two");
    EXPECT_TRUE(path[2].ends_with("/lib/hyperbios/modules")) << path[2];
}

}  // namespace
}  // namespace hbvm
