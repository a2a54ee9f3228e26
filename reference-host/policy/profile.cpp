#include "policy/profile.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <toml++/toml.h>

namespace hbvm {

namespace abi = hyperbios::abi;

bool profile::offers(abi::service s) const { return std::find(services.begin(), services.end(), s) != services.end(); }

bool profile::denies(abi::function f) const { return std::find(denied.begin(), denied.end(), f) != denied.end(); }

const rate_limit* profile::rate_of(abi::function f) const
{
    for (const rate_limit& r : rates)
        if (r.call == f)
            return &r;
    return nullptr;
}

const disk_window* profile::window_of(unsigned disk) const
{
    for (const disk_window& w : disks)
        if (w.disk == disk)
            return &w;
    return nullptr;
}

bool profile::allows_net_backend(std::string_view kind) const
{
    return !net_backends || std::find(net_backends->begin(), net_backends->end(), kind) != net_backends->end();
}

namespace {

std::string at(const rule_source& s) { return s.where.empty() ? "" : " (" + s.where + ")"; }

}  // namespace

std::string profile::rule_for(abi::function f) const
{
    const abi::function_desc* d = abi::find_function(uint64_t(f));
    const std::string fname = d ? std::string(d->service_name) + "." + d->name : "?";
    for (size_t i = 0; i < denied.size(); ++i)
        if (denied[i] == f)
            return "profile " + name + at(i < denied_sources.size() ? denied_sources[i] : rule_source{}) +
                   " denies " + fname;
    if (const rate_limit* r = rate_of(f))
        return "profile " + name + at(r->source) + " limits " + fname + " to " + std::to_string(r->per_second) +
               " calls a second";
    return {};
}

std::string profile::rule_for(abi::service s) const
{
    if (offers(s))
        return {};
    const abi::service_desc* d = abi::find_service(uint64_t(s));
    return "profile " + name + at(services_source) + " does not offer " + (d ? d->name : "this service");
}

// ---------------------------------------------------------------------------
// The TOML form (reference-host/profiles/README.md).
// ---------------------------------------------------------------------------

namespace {

[[noreturn]] void bad(const std::string& where, const std::string& what)
{
    throw error(exit_status::usage, where + ": " + what);
}

struct reader {
    const std::string& file;

    std::string where(const toml::node& n) const { return file + ":" + std::to_string(n.source().begin.line); }
    rule_source source(const toml::node& n) const { return {where(n)}; }

    std::string string(const toml::node& n, const std::string& key) const
    {
        if (!n.as_string())
            bad(where(n), key + ": expected a string");
        return n.as_string()->get();
    }

    std::vector<std::string> strings(const toml::node& n, const std::string& key, const std::string& example) const
    {
        const auto* list = n.as_array();
        if (!list)
            bad(where(n), key + ": expected a list of strings, e.g. " + example);
        std::vector<std::string> out;
        for (const toml::node& item : *list)
            out.push_back(string(item, key));
        return out;
    }

    uint64_t integer(const toml::node& n, const std::string& key, uint64_t min, uint64_t max) const
    {
        const auto* i = n.as_integer();
        if (!i)
            bad(where(n), key + ": expected a whole number");
        const int64_t v = i->get();
        if (v < 0 || uint64_t(v) < min || uint64_t(v) > max)
            bad(where(n), key + ": " + std::to_string(v) + " is out of range; expected " + std::to_string(min) +
                              " to " + std::to_string(max));
        return uint64_t(v);
    }

    bool boolean(const toml::node& n, const std::string& key) const
    {
        if (!n.as_boolean())
            bad(where(n), key + ": expected true or false");
        return n.as_boolean()->get();
    }

    const toml::table& table(const toml::node& n, const std::string& key, const std::string& example) const
    {
        if (!n.as_table())
            bad(where(n), key + ": expected a table, e.g. " + example);
        return *n.as_table();
    }

    // Rejects any key of `t` not in `known`, naming the ones it takes.
    void only(const toml::table& t, const std::string& what, std::initializer_list<const char*> known) const
    {
        for (auto&& [key, value] : t) {
            bool ok = false;
            std::string names;
            for (const char* k : known) {
                ok = ok || key.str() == k;
                names += std::string(names.empty() ? "" : ", ") + k;
            }
            if (!ok)
                bad(where(value), what + "unknown key '" + std::string(key.str()) + "'; expected " + names);
        }
    }
};

std::string service_names()
{
    std::string names;
    for (const abi::service_desc& s : abi::services)
        names += std::string(names.empty() ? "" : ", ") + s.name;
    return names;
}

std::string function_names(abi::service svc)
{
    std::string names;
    for (const abi::function_desc& f : abi::functions)
        if (f.svc == svc)
            names += std::string(names.empty() ? "" : ", ") + f.name;
    return names;
}

const abi::service_desc* service_named(std::string_view name)
{
    for (const abi::service_desc& s : abi::services)
        if (name == s.name)
            return &s;
    return nullptr;
}

// "power.reboot" -> the function, or a usage error saying what exists.
const abi::function_desc& function_named(const std::string& text, const std::string& where, const std::string& key)
{
    const size_t dot = text.find('.');
    const abi::service_desc* s = dot == std::string::npos ? nullptr : service_named(text.substr(0, dot));
    if (!s)
        bad(where, key + ": '" + text + "' is not service.function (e.g. power.reboot); the services are " +
                       service_names());
    for (const abi::function_desc& f : abi::functions)
        if (f.svc == s->id && text.substr(dot + 1) == f.name)
            return f;
    bad(where, key + ": no function '" + text + "'; the functions of " + s->name + " are " + function_names(s->id));
}

uint64_t memory_size(const toml::node& n, const reader& r)
{
    const std::string text = r.string(n, "memory.max");
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
    const std::string_view suffix(end);
    const uint64_t scale = suffix == "K" ? 1ull << 10 : suffix == "M" ? 1ull << 20 : suffix == "G" ? 1ull << 30 : 0;
    if (text.empty() || end == text.c_str() || scale == 0 || value == 0 || value > (64ull << 30) / scale)
        bad(r.where(n), "memory.max: expected a size from 2M to 64G with a K, M or G suffix, e.g. \"256M\"");
    const uint64_t bytes = value * scale;
    if (bytes < (2ull << 20) || bytes % 4096 != 0)
        bad(r.where(n), "memory.max: expected a multiple of 4K, at least 2M");
    return bytes;
}

const char* const network_backend_kinds[] = {"user", "socket", "tap"};  // --net's kinds

}  // namespace

profile parse_profile(std::string_view text, const std::string& where)
{
    toml::table doc;
    try {
        doc = toml::parse(text, where);
    } catch (const toml::parse_error& e) {
        bad(where + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column),
            std::string(e.description()));
    }
    const reader r{where};
    r.only(doc, "", {"profile_version", "name", "description", "services", "denied", "memory", "disk", "display",
                     "network", "rate"});
    const toml::node* version = doc.get("profile_version");
    if (!version)
        bad(where + ":1", "profile_version is missing; this hbvm reads profile_version = 1");
    if (r.integer(*version, "profile_version", 0, 1u << 30) != profile::format_version)
        bad(r.where(*version), "profile_version = " + std::to_string(version->as_integer()->get()) +
                                   ": this hbvm reads profile_version = 1 only");

    profile p;
    p.path = where;
    if (const toml::node* n = doc.get("name"))
        p.name = r.string(*n, "name");
    else {
        const size_t slash = where.find_last_of('/');
        p.name = where.substr(slash == std::string::npos ? 0 : slash + 1);
        if (const size_t dot = p.name.rfind(".toml"); dot != std::string::npos && dot + 5 == p.name.size())
            p.name.resize(dot);
    }
    if (p.name.empty() || p.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos)
        bad(where, "name: '" + p.name + "' must be lower-case letters, digits, - and _");
    if (const toml::node* n = doc.get("description"))
        p.description = r.string(*n, "description");

    // services: "all", or a list of names, BASE among them (HB-BASE-007).
    const toml::node* services = doc.get("services");
    if (!services)
        bad(where + ":1", "services is missing; give \"all\" or a list such as [\"base\", \"console\", \"time\", \"power\"]");
    p.services_source = r.source(*services);
    if (services->as_string()) {
        if (services->as_string()->get() != "all")
            bad(r.where(*services), "services: expected \"all\" or a list of service names");
        for (const abi::service_desc& s : abi::services)
            p.services.push_back(s.id);
    } else {
        for (const std::string& name : r.strings(*services, "services", "[\"base\", \"console\", \"time\"]")) {
            const abi::service_desc* s = service_named(name);
            if (!s)
                bad(r.where(*services), "services: no service '" + name + "'; the services are " + service_names());
            if (p.offers(s->id))
                bad(r.where(*services), "services: '" + name + "' is named twice");
            p.services.push_back(s->id);
        }
        if (!p.offers(abi::service::base))
            bad(r.where(*services), "services: every host offers base (HB-BASE-007); add \"base\"");
    }

    if (const toml::node* n = doc.get("denied")) {
        const auto* list = n->as_array();
        if (!list)
            bad(r.where(*n), "denied: expected a list of functions, e.g. [\"power.reboot\"]");
        for (const toml::node& item : *list) {
            const abi::function_desc& f = function_named(r.string(item, "denied"), r.where(item), "denied");
            if (f.svc == abi::service::base)
                bad(r.where(item), std::string("denied: base.") + f.name + " cannot be denied (HB-BASE-007)");
            if (!p.offers(f.svc))
                bad(r.where(item), std::string("denied: ") + f.service_name + "." + f.name + " belongs to " +
                                       f.service_name + ", which the profile does not offer; leave it out");
            if (p.denies(f.call))
                bad(r.where(item), std::string("denied: ") + f.service_name + "." + f.name + " is named twice");
            p.denied.push_back(f.call);
            p.denied_sources.push_back(r.source(item));
        }
    }

    if (const toml::node* n = doc.get("memory")) {
        const toml::table& t = r.table(*n, "memory", "[memory] with max = \"256M\"");
        r.only(t, "memory: ", {"max"});
        if (const toml::node* m = t.get("max")) {
            p.max_memory = memory_size(*m, r);
            p.max_memory_source = r.source(*m);
        }
    }

    if (const toml::node* n = doc.get("disk")) {
        const auto* list = n->as_array();
        if (!list)
            bad(r.where(*n), "disk: expected [[disk]] tables, one per disk, with index, first_sector, sectors, read_only");
        for (const toml::node& item : *list) {
            const toml::table& t = r.table(item, "[[disk]]", "[[disk]] with index = 0");
            r.only(t, "[[disk]]: ", {"index", "first_sector", "sectors", "read_only"});
            disk_window w;
            w.source = r.source(item);
            const toml::node* index = t.get("index");
            if (!index)
                bad(r.where(item), "[[disk]]: index is missing (0 for the first --disk)");
            w.disk = unsigned(r.integer(*index, "[[disk]] index", 0, 0xFFFE));
            if (p.window_of(w.disk))
                bad(r.where(*index), "[[disk]]: disk " + std::to_string(w.disk) + " has two windows");
            if (const toml::node* m = t.get("first_sector"))
                w.first_sector = r.integer(*m, "[[disk]] first_sector", 0, uint64_t(1) << 52);
            if (const toml::node* m = t.get("sectors"))
                w.sectors = r.integer(*m, "[[disk]] sectors", 1, uint64_t(1) << 52);
            if (const toml::node* m = t.get("read_only"))
                w.read_only = r.boolean(*m, "[[disk]] read_only");
            p.disks.push_back(w);
        }
        if (!p.disks.empty() && !p.offers(abi::service::block))
            bad(r.where(*n), "[[disk]]: the profile does not offer block; leave the windows out or offer it");
    }

    if (const toml::node* n = doc.get("display")) {
        const toml::table& t = r.table(*n, "display", "[display] with max_width = 1920, max_height = 1080");
        r.only(t, "display: ", {"max_width", "max_height"});
        p.max_display_source = r.source(*n);
        // The range a display takes (--display max-width=, devices/display.cpp).
        if (const toml::node* m = t.get("max_width"))
            p.max_display_width = uint32_t(r.integer(*m, "display.max_width", 320, 8192));
        if (const toml::node* m = t.get("max_height"))
            p.max_display_height = uint32_t(r.integer(*m, "display.max_height", 200, 8192));
    }

    if (const toml::node* n = doc.get("network")) {
        const toml::table& t = r.table(*n, "network", "[network] with backends = [\"user\"]");
        r.only(t, "network: ", {"backends"});
        if (const toml::node* m = t.get("backends")) {
            std::vector<std::string> kinds = r.strings(*m, "network.backends", "[\"user\", \"socket\"]");
            for (const std::string& k : kinds)
                if (std::find_if(std::begin(network_backend_kinds), std::end(network_backend_kinds),
                                 [&](const char* known) { return k == known; }) == std::end(network_backend_kinds))
                    bad(r.where(*m), "network.backends: no back end '" + k + "'; expected user, socket or tap (the kinds of --net)");
            p.net_backends = kinds;
            p.net_backends_source = r.source(*m);
        }
    }

    // Call-rate limits: only on functions whose error table has AGAIN, since the
    // limit answers AGAIN (spec 2.1 step 6); anything else would be a status the
    // function cannot give.
    if (const toml::node* n = doc.get("rate")) {
        const toml::table& t = r.table(*n, "rate", "[rate] with \"dsp.present\" = 60");
        for (auto&& [key, value] : t) {
            // `dsp.present = 60` unquoted is a table dsp with a key present.
            if (value.is_table())
                bad(r.where(value), "rate: '" + std::string(key.str()) +
                                        "' is a table; quote the function's name: \"dsp.present\" = 60");
            const abi::function_desc& f = function_named(std::string(key.str()), r.where(value), "rate");
            if (!abi::contains(f.statuses, abi::status::again)) {
                std::string limitable;
                for (const abi::function_desc& g : abi::functions)
                    if (abi::contains(g.statuses, abi::status::again))
                        limitable += std::string(limitable.empty() ? "" : ", ") + g.service_name + "." + g.name;
                bad(r.where(value), std::string("rate: ") + f.service_name + "." + f.name +
                                        " cannot be limited: its error table has no AGAIN (spec 2.1); these can: " +
                                        limitable);
            }
            if (!p.offers(f.svc) || p.denies(f.call))
                bad(r.where(value), std::string("rate: ") + f.service_name + "." + f.name +
                                        " is not offered or is denied; a limit on it would never apply");
            p.rates.push_back({f.call, uint32_t(r.integer(value, std::string("rate.") + std::string(key.str()), 1,
                                                          1000000)),
                               r.source(value)});
        }
    }
    return p;
}

profile load_profile_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw error(exit_status::usage, path + ": cannot read it");
    std::stringstream content;
    content << in.rdbuf();
    return parse_profile(content.str(), path);
}

// The built-in profiles: reference-host/profiles/*.toml, compiled in
// (builtin_profiles.cpp, generated by CMake) and installed beside hbvm.
struct builtin_profile_source {
    const char* name;
    const char* text;
};
extern const builtin_profile_source builtin_profile_sources[];
extern const size_t builtin_profile_count;

namespace {

const std::vector<std::shared_ptr<const profile>>& builtins()
{
    static const std::vector<std::shared_ptr<const profile>> all = [] {
        std::vector<std::shared_ptr<const profile>> v;
        for (size_t i = 0; i < builtin_profile_count; ++i)
            v.push_back(std::make_shared<const profile>(parse_profile(
                builtin_profile_sources[i].text, std::string("builtin:") + builtin_profile_sources[i].name)));
        return v;
    }();
    return all;
}

}  // namespace

const profile& full_profile()
{
    static const std::shared_ptr<const profile> full = find_profile("full");
    return *full;
}

std::shared_ptr<const profile> find_profile(std::string_view name)
{
    for (const auto& p : builtins())
        if (p->name == name)
            return p;
    return nullptr;
}

const char* builtin_profile_text(std::string_view name)
{
    for (size_t i = 0; i < builtin_profile_count; ++i)
        if (name == builtin_profile_sources[i].name)
            return builtin_profile_sources[i].text;
    return nullptr;
}

std::vector<std::string> profile_names()
{
    std::vector<std::string> names;
    for (const auto& p : builtins())
        names.push_back(p->name);
    return names;
}

std::shared_ptr<const profile> resolve_profile(const std::string& name_or_path)
{
    if (auto p = find_profile(name_or_path))
        return p;
    if (name_or_path.find('/') != std::string::npos || name_or_path.find(".toml") != std::string::npos)
        return std::make_shared<const profile>(load_profile_file(name_or_path));
    std::string names;
    for (const std::string& n : profile_names())
        names += (names.empty() ? "" : ", ") + n;
    throw error(exit_status::usage, "no such profile; expected one of " + names + ", or a profile file (a path, or a name ending in .toml)");
}

}  // namespace hbvm
