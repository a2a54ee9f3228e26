// Writes abi.json: the ABI table of include/hyperbios/abi.hpp for the Python tools
// (spec check, conformance driver). Usage: abi_json OUTPUT
#include <hyperbios/abi.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace abi = hyperbios::abi;

namespace {

const char* arg_name(abi::arg_kind k)
{
    switch (k) {
    case abi::arg_kind::none: return "none";
    case abi::arg_kind::u64: return "u64";
    case abi::arg_kind::service_id: return "service_id";
    case abi::arg_kind::exit_code: return "exit_code";
    case abi::arg_kind::in_buffer: return "in_buffer";
    case abi::arg_kind::out_buffer: return "out_buffer";
    case abi::arg_kind::length: return "length";
    }
    return "?";
}

const char* result_name(abi::result_kind k)
{
    switch (k) {
    case abi::result_kind::none: return "none";
    case abi::result_kind::u64: return "u64";
    case abi::result_kind::version: return "version";
    case abi::result_kind::count: return "count";
    case abi::result_kind::nanoseconds: return "nanoseconds";
    case abi::result_kind::no_return: return "no_return";
    }
    return "?";
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

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: abi_json OUTPUT\nWrites the HyperBIOS ABI table as JSON.\n");
        return 64;
    }
    std::ostringstream j;
    j << "{\n  \"spec_version\": \"" << version(abi::spec_version) << "\",\n";
    j << "  \"interface_signature\": \"" << hex(abi::interface_signature, 8) << "\",\n";
    j << "  \"statuses\": [\n";
#define HYPERBIOS_X(name, value, spec_name) \
    j << "    {\"name\": \"" << spec_name << "\", \"value\": " << (value) << "},\n";
    HYPERBIOS_ABI_STATUSES(HYPERBIOS_X)
#undef HYPERBIOS_X
    j.seekp(-2, std::ios::cur);
    j << "\n  ],\n  \"services\": [\n";
    for (const abi::service_desc& s : abi::services)
        j << "    {\"name\": \"" << s.name << "\", \"id\": \"" << hex(uint16_t(s.id), 4) << "\", \"version\": "
          << s.version << "},\n";
    j.seekp(-2, std::ios::cur);
    j << "\n  ],\n  \"functions\": [\n";
    for (const abi::function_desc& f : abi::functions) {
        j << "    {\"service\": \"" << f.service_name << "\", \"name\": \"" << f.name << "\", \"id\": \""
          << hex(f.id, 4) << "\", \"call\": \"" << hex(uint32_t(f.call), 8) << "\", \"since\": \""
          << version(f.since) << "\", \"args\": [";
        for (unsigned i = 0; i < abi::max_args; ++i)
            j << (i ? ", " : "") << "\"" << arg_name(f.args[i]) << "\"";
        j << "], \"result\": \"" << result_name(f.result) << "\", \"requirement\": \"" << f.requirement << "\"},\n";
    }
    j.seekp(-2, std::ios::cur);
    j << "\n  ]\n}\n";
    std::ofstream out(argv[1]);
    out << j.str();
    if (!out) {
        std::fprintf(stderr, "abi_json: cannot write %s\n", argv[1]);
        return 74;
    }
    return 0;
}
