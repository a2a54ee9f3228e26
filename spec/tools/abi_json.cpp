// Writes abi.json: the ABI table of include/hyperbios/abi.hpp for the Python tools
// (spec check, conformance driver). Usage: abi_json OUTPUT
//
// Everything the table declares goes into the file: spec version and interface
// signature, ID ranges, statuses, the register order, argument and result kinds,
// enumerations, services, functions with their error tables, the discovery
// layout with its reserved bits, the gates and the implementation IDs.
#include <hyperbios/abi.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace abi = hyperbios::abi;

namespace {

std::string quote(const char* s)
{
    std::string out = "\"";
    for (const char* p = s; *p; ++p) {
        if (*p == '"' || *p == '\\')
            out += '\\';
        out += *p;
    }
    return out + "\"";
}

std::string version(uint32_t v)
{
    return std::to_string(abi::version_major(v)) + "." + std::to_string(abi::version_minor(v));
}

std::string hex(uint64_t v, int width)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%0*llx", width, static_cast<unsigned long long>(v));
    return buf;
}

const char* arg_class_name(abi::arg_class c)
{
    switch (c) {
    case abi::arg_class::unused: return "unused";
    case abi::arg_class::value: return "value";
    case abi::arg_class::enumeration: return "enumeration";
    case abi::arg_class::handle: return "handle";
    case abi::arg_class::in_buffer: return "in_buffer";
    case abi::arg_class::out_buffer: return "out_buffer";
    case abi::arg_class::length: return "length";
    case abi::arg_class::in_record: return "in_record";
    case abi::arg_class::out_record: return "out_record";
    }
    return "?";
}

const char* result_class_name(abi::result_class c)
{
    switch (c) {
    case abi::result_class::plain: return "plain";
    case abi::result_class::enumeration: return "enumeration";
    case abi::result_class::no_return: return "no_return";
    }
    return "?";
}

const char* cpuid_reg_name(abi::cpuid_reg r)
{
    switch (r) {
    case abi::cpuid_reg::eax: return "EAX";
    case abi::cpuid_reg::ebx: return "EBX";
    case abi::cpuid_reg::ecx: return "ECX";
    case abi::cpuid_reg::edx: return "EDX";
    }
    return "?";
}

// A JSON list of the entries `items` renders, one a line.
std::string list(const std::vector<std::string>& items, const char* indent = "    ")
{
    std::string out = "[\n";
    for (size_t i = 0; i < items.size(); ++i)
        out += indent + items[i] + (i + 1 < items.size() ? ",\n" : "\n");
    return out + std::string(indent).substr(2) + "]";
}

std::string status_names(abi::status_set set)
{
    std::string out = "[";
    for (abi::status s : abi::all_statuses)
        if (abi::contains(set, s))
            out += std::string(out.size() > 1 ? ", " : "") + quote(abi::status_name(s));
    return out + "]";
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: abi_json OUTPUT\nWrites the HyperBIOS ABI table as JSON.\n");
        return 64;
    }
    std::ostringstream j;
    j << "{\n  \"spec_version\": \"" << version(abi::spec_version) << "\",\n";
    j << "  \"interface_version\": \"" << hex(abi::spec_version, 8) << "\",\n";
    j << "  \"interface_signature\": \"" << hex(abi::interface_signature, 8) << "\",\n";

    std::vector<std::string> items;
    for (const abi::id_range_desc& r : abi::id_ranges)
        items.push_back("{\"name\": " + quote(r.name) + ", \"applies_to\": \"" +
                        (r.applies_to == abi::id_space::services ? "services" : "functions") + "\", \"first\": \"" +
                        hex(r.first, 4) + "\", \"last\": \"" + hex(r.last, 4) + "\"}");
    for (const abi::implementation_id_range_desc& r : abi::implementation_id_ranges)
        items.push_back("{\"name\": " + quote(r.name) + ", \"applies_to\": \"implementations\", \"first\": \"" +
                        hex(r.first, 4) + "\", \"last\": \"" + hex(r.last, 4) + "\"}");
    j << "  \"id_ranges\": " << list(items) << ",\n";

    items.clear();
    for (abi::status s : abi::all_statuses)
        items.push_back("{\"name\": " + quote(abi::status_name(s)) + ", \"value\": " + std::to_string(int64_t(s)) + "}");
    j << "  \"statuses\": " << list(items) << ",\n";
    j << "  \"general_statuses\": " << status_names(abi::general_statuses) << ",\n";

    j << "  \"registers\": {\"call_word\": " << quote(abi::register_name(abi::call_word_register))
      << ", \"status\": " << quote(abi::register_name(abi::status_register))
      << ", \"value\": " << quote(abi::register_name(abi::value_register)) << ", \"arguments\": [";
    for (unsigned i = 0; i < abi::max_args; ++i)
        j << (i ? ", " : "") << quote(abi::register_name(abi::argument_registers[i]));
    j << "]},\n";

    items.clear();
    for (const abi::arg_kind_desc& k : abi::arg_kinds)
        items.push_back("{\"name\": " + quote(k.name) + ", \"class\": " + quote(arg_class_name(k.cls)) +
                        ", \"reserved\": \"" + hex(k.reserved, 16) + "\", \"min\": \"" + hex(k.min, 1) +
                        "\", \"max\": \"" + hex(k.max, 1) + "\", \"record_size\": " + std::to_string(k.record_size) +
                        ", \"enumeration\": " + quote(k.enumeration) + "}");
    j << "  \"arg_kinds\": " << list(items) << ",\n";

    items.clear();
    for (const abi::result_kind_desc& k : abi::result_kinds)
        items.push_back("{\"name\": " + quote(k.name) + ", \"class\": " + quote(result_class_name(k.cls)) +
                        ", \"repeatable\": " + (k.repeatable ? "true" : "false") +
                        ", \"enumeration\": " + quote(k.enumeration) + "}");
    j << "  \"result_kinds\": " << list(items) << ",\n";

    items.clear();
    for (const abi::enum_value_desc& e : abi::enum_values)
        items.push_back("{\"enumeration\": " + quote(e.enumeration) + ", \"name\": " + quote(e.name) +
                        ", \"value\": " + std::to_string(e.value) + "}");
    j << "  \"enumerations\": " << list(items) << ",\n";

    items.clear();
    for (const abi::service_desc& s : abi::services)
        items.push_back("{\"name\": " + quote(s.name) + ", \"id\": \"" + hex(uint16_t(s.id), 4) +
                        "\", \"version\": " + std::to_string(s.version) + "}");
    j << "  \"services\": " << list(items) << ",\n";

    items.clear();
    for (const abi::function_desc& f : abi::functions) {
        std::string args = "[";
        for (unsigned i = 0; i < abi::max_args; ++i)
            args += std::string(i ? ", " : "") + quote(abi::kind_of(f.args[i]).name);
        items.push_back("{\"service\": " + quote(f.service_name) + ", \"name\": " + quote(f.name) + ", \"id\": \"" +
                        hex(f.id, 4) + "\", \"call\": \"" + hex(uint32_t(f.call), 8) + "\", \"since\": \"" +
                        version(f.since) + "\", \"args\": " + args + "], \"result\": " +
                        quote(abi::kind_of(f.result).name) + ", \"statuses\": " + status_names(f.statuses) +
                        ", \"requirement\": " + quote(f.requirement) + "}");
    }
    j << "  \"functions\": " << list(items) << ",\n";

    items.clear();
    for (const abi::discovery_field_desc& f : abi::discovery_fields)
        items.push_back("{\"leaf\": " + std::to_string(f.leaf) + ", \"register\": " + quote(cpuid_reg_name(f.reg)) +
                        ", \"last_bit\": " + std::to_string(f.last_bit) + ", \"first_bit\": " +
                        std::to_string(f.first_bit) + ", \"name\": " + quote(f.name) + "}");
    j << "  \"discovery_fields\": " << list(items) << ",\n";
    items.clear();
    for (uint32_t leaf = 0; leaf < abi::cpuid_leaf_count; ++leaf)
        for (abi::cpuid_reg r : {abi::cpuid_reg::eax, abi::cpuid_reg::ebx, abi::cpuid_reg::ecx, abi::cpuid_reg::edx})
            items.push_back("{\"leaf\": " + std::to_string(leaf) + ", \"register\": " + quote(cpuid_reg_name(r)) +
                            ", \"reserved\": \"" + hex(abi::discovery_reserved_mask(leaf, r), 8) + "\"}");
    j << "  \"discovery_reserved\": " << list(items) << ",\n";

    items.clear();
    for (const abi::gate_desc& g : abi::gates)
        items.push_back("{\"name\": " + quote(g.name) + ", \"bit\": " + std::to_string(g.bit) +
                        ", \"mandatory\": " + (g.mandatory ? "true" : "false") + "}");
    j << "  \"gates\": " << list(items) << ",\n";

    items.clear();
    for (const abi::implementation_desc& impl : abi::implementations)
        items.push_back("{\"id\": " + std::to_string(impl.id) + ", \"name\": " + quote(impl.name) +
                        ", \"implementation\": " + quote(impl.implementation) + "}");
    j << "  \"implementations\": " << list(items) << ",\n";

    items.clear();
    for (const abi::layout_desc& l : abi::layouts) {
        std::vector<std::string> fields;
        for (const abi::layout_field_desc& f : abi::layout_fields)
            if (std::string_view(f.layout) == l.name)
                fields.push_back("{\"name\": " + quote(f.name) + ", \"offset\": " + std::to_string(f.offset) +
                                 ", \"size\": " + std::to_string(f.size) + ", \"meaning\": " + quote(f.meaning) + "}");
        std::string joined;
        for (const std::string& f : fields)
            joined += (joined.empty() ? "" : ", ") + f;
        items.push_back("{\"name\": " + quote(l.name) + ", \"size\": " + std::to_string(l.size) +
                        ", \"meaning\": " + quote(l.meaning) + ", \"fields\": [" + joined + "]}");
    }
    j << "  \"layouts\": " << list(items) << "\n}\n";

    std::ofstream out(argv[1]);
    out << j.str();
    if (!out) {
        std::fprintf(stderr, "abi_json: cannot write %s\n", argv[1]);
        return 74;
    }
    return 0;
}
