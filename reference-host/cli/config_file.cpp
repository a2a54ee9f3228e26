#include "cli/config_file.hpp"

#include "core/error.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace hbvm {

namespace {

[[noreturn]] void bad(const std::string& where, const std::string& what)
{
    throw error(exit_status::usage, where + ": " + what);
}

std::string where_of(const std::string& path, const toml::node& node)
{
    return path + ":" + std::to_string(node.source().begin.line);
}

// A TOML value as the text the command line would give: a string as it is, a
// number in decimal, a boolean as true or false.
std::string text_of(const toml::node& node, const std::string& where, const std::string& key)
{
    if (const auto* s = node.as_string())
        return s->get();
    if (const auto* i = node.as_integer())
        return std::to_string(i->get());
    if (const auto* f = node.as_floating_point()) {
        char text[64];
        std::snprintf(text, sizeof text, "%.17g", f->get());
        return text;
    }
    if (const auto* b = node.as_boolean())
        return b->get() ? "true" : "false";
    bad(where, key + ": expected a string, a number or true/false");
}

std::string key_names(const device_class& cls)
{
    std::string names;
    for (const char* k : cls.keys)
        names += std::string(names.empty() ? "" : ", ") + k;
    return names;
}

std::string option_names()
{
    std::string names = "image, kernel-arguments";
    for (const run_option& option : run_option_table())
        if (option.in_file)
            names += std::string(", ") + option.name;
    for (const device_class& cls : device_registry())
        if (!cls.keys.empty())
            names += std::string(", [[") + cls.name + "]]";
    return names;
}

}  // namespace

void load_config_file(const std::string& path, run_options& options)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw error(exit_status::usage, "--config " + path + ": cannot read it");
    std::stringstream content;
    content << in.rdbuf();
    toml::table table;
    try {
        table = toml::parse(content.str(), path);
    } catch (const toml::parse_error& e) {
        bad(path + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column),
            std::string(e.description()));
    }
    for (auto&& [key_node, node] : table) {
        const std::string key(key_node.str());
        const std::string where = where_of(path, node);
        if (key == "image") {
            options.image = text_of(node, where, key);
            continue;
        }
        if (key == "kernel-arguments") {
            const auto* list = node.as_array();
            if (!list)
                bad(where, "kernel-arguments: expected a list of strings, e.g. [\"seconds=5\"]");
            std::vector<std::string> words;
            for (const toml::node& word : *list) {
                if (!word.as_string())
                    bad(where_of(path, word), "kernel-arguments: expected a list of strings");
                words.push_back(word.as_string()->get());
            }
            options.kernel_arguments = words;
            continue;
        }
        if (const device_class* cls = find_device_class(options.machine.device_classes, key); cls && !cls->keys.empty()) {
            const auto* devices = node.as_array();
            if (!devices)
                bad(where, std::string("[[") + cls->name + "]]: expected tables, one per device, e.g. [[" + cls->name +
                               "]] with " + key_names(*cls));
            for (const toml::node& item : *devices) {
                const auto* settings_table = item.as_table();
                const std::string item_where = where_of(path, item);
                if (!settings_table)
                    bad(item_where, std::string("[[") + cls->name + "]]: expected a table");
                device_settings settings{cls->name, item_where + " [[" + cls->name + "]]", {}};
                for (auto&& [setting_key, value] : *settings_table) {
                    const std::string name(setting_key.str());
                    bool known = false;
                    for (const char* k : cls->keys)
                        known = known || name == k;
                    if (!known)
                        bad(where_of(path, value), std::string("[[") + cls->name + "]]: unknown key '" + name +
                                                       "'; expected " + key_names(*cls));
                    settings.values.emplace_back(name, text_of(value, where_of(path, value), name));
                }
                options.machine.devices.push_back(settings);
            }
            continue;
        }
        const run_option* option = find_run_option(key);
        if (!option || !option->in_file)
            bad(where, "unknown key '" + key + "'; expected " + option_names());
        const std::string value = text_of(node, where, key);
        try {
            option->set(options, value);
        } catch (const error& e) {
            bad(where, key + " = " + value + ": " + e.what());
        }
    }
}

}  // namespace hbvm
