// The registry of device classes, and what turns a command-line value into a
// device's settings.
//
// A list rather than self-registering static objects, for the reason
// services/registry.cpp gives: hbvm_core is a static library, and an object file
// that only registered itself could silently drop out of the link. The order is
// the order devices are created in (and their help blocks appear in --help).
#include "devices/device.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cstring>

namespace hbvm {

// One line per device class; devices/<file>.cpp defines <name>_device_class().
#define HBVM_DEVICE_CLASSES(X) \
    X(console)                 \
    X(debugcon)                \
    X(disk)                    \
    X(display)                 \
    X(input)                   \
    X(input_feed)              \
    X(net)                     \
    X(audio)

#define HBVM_DECLARE_CLASS(name) device_class name##_device_class();
HBVM_DEVICE_CLASSES(HBVM_DECLARE_CLASS)
#undef HBVM_DECLARE_CLASS

std::span<const device_class> device_registry()
{
#define HBVM_CLASS_ENTRY(name) name##_device_class(),
    static const device_class registry[] = {HBVM_DEVICE_CLASSES(HBVM_CLASS_ENTRY)};
#undef HBVM_CLASS_ENTRY
    return registry;
}

const device_class* find_device_class(std::span<const device_class> registry, std::string_view name)
{
    for (const device_class& cls : registry)
        if (name == cls.name)
            return &cls;
    return nullptr;
}

namespace {

bool listed(const std::vector<const char*>& list, const std::string& key)
{
    return std::any_of(list.begin(), list.end(), [&](const char* k) { return key == k; });
}

std::string key_list(const device_class& cls)
{
    std::string text;
    for (const char* k : cls.keys)
        text += std::string(text.empty() ? "" : ", ") + k;
    return text;
}

}  // namespace

device_settings parse_device_option(const device_class& cls, const std::string& text)
{
    const std::string option = std::string("--") + cls.name;
    device_settings settings{cls.name, option + " " + text, {}};
    size_t start = 0;
    for (bool first = true; start <= text.size(); first = false) {
        const size_t comma = text.find(',', start);
        const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const size_t equals = part.find('=');
        std::string key, value;
        if (first && cls.first_key && (equals == std::string::npos || !listed(cls.keys, part.substr(0, equals)))) {
            key = cls.first_key, value = part;  // the unnamed first part: a path may hold '='
        } else if (equals != std::string::npos) {
            key = part.substr(0, equals), value = part.substr(equals + 1);
        } else if (listed(cls.flags, part)) {
            key = part, value = "true";
        } else {
            throw error(exit_status::usage, option + " " + text + ": unknown option '" + part + "'; expected " +
                                                key_list(cls) + " (a value cannot contain a comma: use a config file)");
        }
        if (!listed(cls.keys, key))
            throw error(exit_status::usage,
                        option + " " + text + ": unknown option '" + key + "'; expected " + key_list(cls));
        if (settings.get(key))
            throw error(exit_status::usage, option + " " + text + ": '" + key + "' is given twice");
        settings.values.emplace_back(key, value);
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return settings;
}

void check_device_settings(std::span<const device_class> registry, std::vector<device_settings>& settings)
{
    for (const device_settings& s : settings)
        if (!find_device_class(registry, s.device_class))
            throw error(exit_status::usage, s.origin + ": no device class '" + s.device_class + "'");
    std::vector<device_settings> checked;
    for (const device_class& cls : registry) {
        std::vector<device_settings> mine;
        for (const device_settings& s : settings)
            if (s.device_class == cls.name)
                mine.push_back(s);
        if (mine.empty() && cls.implicit)
            mine.push_back(device_settings{cls.name, std::string("the default ") + cls.name, {}});
        if (cls.most && mine.size() > cls.most)
            throw error(exit_status::usage, std::string("--") + cls.name + " is given " + std::to_string(mine.size()) +
                                                " times; hbvm takes at most " + std::to_string(cls.most) + " of them");
        if (cls.check)
            cls.check(mine);
        checked.insert(checked.end(), mine.begin(), mine.end());
    }
    settings = std::move(checked);
}

}  // namespace hbvm
