#include "devices/module_loader.hpp"

#include "core/error.hpp"

#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>
#include <unistd.h>

namespace hbvm {

std::vector<std::string> module_search_path()
{
    std::vector<std::string> path;
    if (const char* env = std::getenv("HBVM_MODULE_PATH")) {
        std::string list = env;
        for (size_t start = 0; start <= list.size();) {
            const size_t colon = std::min(list.find(':', start), list.size());
            if (colon > start)
                path.push_back(list.substr(start, colon - start));
            start = colon + 1;
        }
    }
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec)
        path.push_back((self.parent_path().parent_path() / "lib" / "hyperbios" / "modules").string());
    return path;
}

namespace {

std::string folder_list(const std::vector<std::string>& folders)
{
    std::string text;
    for (const std::string& f : folders)
        text += (text.empty() ? "" : ", ") + f;
    return text.empty() ? "(no folder: $HBVM_MODULE_PATH is empty and /proc/self/exe unreadable)" : text;
}

// Loaded modules by file, for the life of the process (never dlclose'd).
std::mutex loaded_lock;
std::map<std::string, const module_entry*> loaded;

}  // namespace

bool any_module_loaded()
{
    const std::lock_guard<std::mutex> guard(loaded_lock);
    return !loaded.empty();
}

const module_entry& load_module(const std::string& name, const std::string& wanted_by,
                                const std::vector<std::string>& search_path)
{
    const std::lock_guard<std::mutex> guard(loaded_lock);

    const std::string file = "hbvm-" + name + ".so";
    std::string path;
    for (const std::string& folder : search_path) {
        const std::string candidate = folder + "/" + file;
        if (access(candidate.c_str(), F_OK) == 0) {
            path = candidate;
            break;
        }
    }
    if (path.empty())
        throw error(exit_status::host_failure,
                    wanted_by + " needs the back-end module " + file + ", which is not installed (looked in " +
                        folder_list(search_path) + "): install the package that ships it, build it (cmake --build " +
                        "BUILD --target hbvm-" + name + "), or name its folder in $HBVM_MODULE_PATH");
    if (const auto it = loaded.find(path); it != loaded.end())
        return *it->second;

    // RTLD_LOCAL: two modules' symbols cannot meet; RTLD_NOW: a library the
    // module lacks is reported here, not at its first call in the middle of a run.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* why = dlerror();
        throw error(exit_status::host_failure, wanted_by + ": the back-end module " + path + " does not load (" +
                                                   (why ? why : "no reason given") +
                                                   "): install the libraries it names, or rebuild it");
    }
    using entry_function = const module_entry* (*)();
    auto entry_of = reinterpret_cast<entry_function>(dlsym(handle, HBVM_MODULE_ENTRY_SYMBOL));
    const module_entry* entry = entry_of ? entry_of() : nullptr;
    if (!entry || !entry->create || !entry->name || !entry->hbvm_version) {
        dlclose(handle);
        throw error(exit_status::host_failure,
                    wanted_by + ": " + path + " is no hbvm back-end module (no " HBVM_MODULE_ENTRY_SYMBOL "())");
    }
    if (entry->interface_version != module_interface_version || std::string(entry->hbvm_version) != HBVM_VERSION_STRING) {
        const std::string built = "module interface " + std::to_string(entry->interface_version) + ", hbvm " +
                                  entry->hbvm_version;
        dlclose(handle);
        throw error(exit_status::host_failure,
                    wanted_by + ": the back-end module " + path + " was built for " + built + "; this hbvm is " +
                        HBVM_VERSION_STRING + " with module interface " + std::to_string(module_interface_version) +
                        ": install the module of the same version as hbvm, or rebuild both from one tree");
    }
    if (entry->name != name) {
        const std::string says = entry->name;
        dlclose(handle);
        throw error(exit_status::host_failure, wanted_by + ": " + path + " says it is the module '" + says +
                                                   "', not '" + name + "': the file was renamed or mixed up");
    }
    loaded.emplace(path, entry);
    return *entry;
}

std::function<std::vector<std::unique_ptr<device>>(const std::vector<device_settings>&, const device_host&)>
create_in_module(const char* module, const char* device_class)
{
    return [module, device_class](const std::vector<device_settings>& settings, const device_host& host) {
        if (settings.empty())
            return std::vector<std::unique_ptr<device>>{};  // not chosen: nothing is loaded
        const module_entry& entry = load_module(module, settings.front().origin);
        return entry.create(device_class, settings, host);
    };
}

}  // namespace hbvm
