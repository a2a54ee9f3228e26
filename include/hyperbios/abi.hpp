// HyperBIOS ABI table: the one place where the binary interface is written down.
//
// Everything else derives from the lists in this file:
//   - the guest wrappers (hyperbios/*.hpp) take their call IDs and arities from it,
//   - the reference host builds its dispatch table and argument checks from it,
//   - the build generates abi.json from it for the Python tools,
//   - a test compares the call listings in spec/ with that abi.json.
//
// The header is freestanding and dual-use: it is included by guest kernels and by
// the host, so it uses nothing beyond <stdint.h> and <stddef.h>.
#ifndef HYPERBIOS_ABI_HPP
#define HYPERBIOS_ABI_HPP

#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------------------
// The lists. Change the interface here, then in spec/; the build checks both agree.
// ---------------------------------------------------------------------------

// X(name, value, spec_name) — status codes returned in RAX. Values are fixed forever.
#define HYPERBIOS_ABI_STATUSES(X)                    \
    X(success, 0, "SUCCESS")                         \
    X(failed, -1, "FAILED")                          \
    X(not_supported, -2, "NOT_SUPPORTED")            \
    X(invalid_param, -3, "INVALID_PARAM")            \
    X(denied, -4, "DENIED")                          \
    X(invalid_address, -5, "INVALID_ADDRESS")        \
    X(again, -6, "AGAIN")                            \
    X(io_error, -7, "IO_ERROR")

// X(name, service_id, version) — services. `version` is what BASE.probe_service
// reports for a host implementing everything this header describes.
#define HYPERBIOS_ABI_SERVICES(X) \
    X(base, 0x0000, 1)            \
    X(console, 0x0001, 1)         \
    X(time, 0x0002, 1)            \
    X(power, 0x0003, 1)

// X(service, name, function_id, since, arg0, arg1, arg2, arg3, arg4, result, requirement)
//   since:       interface version that introduced the call, (major << 16) | minor
//   argN:        one of the `arg_kind` enumerators below
//   result:      one of the `result_kind` enumerators below
//   requirement: the spec requirement that defines the call's behaviour
#define HYPERBIOS_ABI_FUNCTIONS(X)                                                                          \
    X(base, get_spec_version, 0x0000, 0x0001, none, none, none, none, none, version, "HB-BASE-001")        \
    X(base, probe_service, 0x0001, 0x0001, service_id, none, none, none, none, version, "HB-BASE-002")     \
    X(base, get_impl_id, 0x0002, 0x0001, none, none, none, none, none, u64, "HB-BASE-004")                 \
    X(base, get_impl_version, 0x0003, 0x0001, none, none, none, none, none, u64, "HB-BASE-005")            \
    X(base, get_impl_name, 0x0004, 0x0001, out_buffer, length, none, none, none, count, "HB-BASE-006")     \
    X(console, write, 0x0000, 0x0001, in_buffer, length, none, none, none, count, "HB-CON-001")            \
    X(console, read, 0x0001, 0x0001, out_buffer, length, none, none, none, count, "HB-CON-003")            \
    X(time, monotonic_ns, 0x0000, 0x0001, none, none, none, none, none, nanoseconds, "HB-TIME-001")        \
    X(time, wallclock_ns, 0x0001, 0x0001, none, none, none, none, none, nanoseconds, "HB-TIME-003")        \
    X(time, resolution_ns, 0x0002, 0x0001, none, none, none, none, none, nanoseconds, "HB-TIME-004")       \
    X(power, shutdown, 0x0000, 0x0001, exit_code, none, none, none, none, no_return, "HB-PWR-001")         \
    X(power, reboot, 0x0001, 0x0001, none, none, none, none, none, no_return, "HB-PWR-003")               \
    X(power, reset_reason, 0x0002, 0x0001, none, none, none, none, none, u64, "HB-PWR-004")

namespace hyperbios::abi {

// ---------------------------------------------------------------------------
// Interface constants (spec section "Discovery" and "Calling convention").
// ---------------------------------------------------------------------------

constexpr uint32_t make_version(uint32_t major, uint32_t minor) { return (major << 16) | (minor & 0xFFFFu); }
constexpr uint32_t version_major(uint32_t v) { return v >> 16; }
constexpr uint32_t version_minor(uint32_t v) { return v & 0xFFFFu; }

// The version of the specification this header implements.
inline constexpr uint32_t spec_version = make_version(0, 1);

// CPUID discovery.
inline constexpr uint32_t cpuid_hypervisor_bit_leaf = 1;       // CPUID.1:ECX[31]
inline constexpr uint32_t cpuid_hypervisor_bit = 1u << 31;
inline constexpr uint32_t cpuid_scan_first = 0x40000000u;
inline constexpr uint32_t cpuid_scan_last = 0x4000FF00u;
inline constexpr uint32_t cpuid_scan_step = 0x100u;
inline constexpr uint32_t cpuid_leaf_vendor = 0;               // base + 0
inline constexpr uint32_t cpuid_leaf_interface = 1;            // base + 1
inline constexpr uint32_t cpuid_leaf_services = 2;             // base + 2
inline constexpr uint32_t cpuid_leaf_count = 3;                // leaves base .. base+2
// "HBIO" in memory order: EAX of leaf base+1.
inline constexpr uint32_t interface_signature = 0x4F494248u;

// POWER.reset_reason values.
inline constexpr uint64_t reset_power_on = 0;      // first boot of this machine
inline constexpr uint64_t reset_guest_reboot = 1;  // after POWER.reboot

// Gate flags: ECX of leaf base+1. Bits not listed are reserved and zero.
inline constexpr uint32_t gate_port_io = 1u << 0;   // mandatory
inline constexpr uint32_t gate_vmcall = 1u << 1;    // optional, Intel VMCALL
inline constexpr uint32_t gate_vmmcall = 1u << 2;   // optional, AMD VMMCALL
inline constexpr uint32_t gate_flags_defined = gate_port_io | gate_vmcall | gate_vmmcall;

// Call word in RAX: bits 31:16 service, bits 15:0 function, bits 63:32 reserved (zero).
constexpr uint64_t make_call(uint16_t service, uint16_t function)
{
    return (uint64_t(service) << 16) | function;
}
constexpr uint16_t call_service(uint64_t call) { return uint16_t(call >> 16); }
constexpr uint16_t call_function(uint64_t call) { return uint16_t(call); }
inline constexpr uint64_t call_reserved_mask = 0xFFFFFFFF00000000ull;

// ID ranges (spec 1.5). Service IDs 0x0000-0x7FFF are assigned by this
// specification, 0x8000-0xBFFF by implementations for vendor extensions,
// 0xC000-0xEFFF are for experiments; IDs from 0xF000 up are never assigned to
// anything, so a probe for "a service or function that does not exist" uses
// them and stays valid under every later version and every extension.
inline constexpr uint16_t vendor_service_first = 0x8000;
inline constexpr uint16_t experimental_service_first = 0xC000;
inline constexpr uint16_t unassigned_service_first = 0xF000;   // through 0xFFFF
inline constexpr uint16_t unassigned_function_first = 0xF000;  // in every service, through 0xFFFF

inline constexpr unsigned max_args = 5;
// Argument registers in order: RDI, RSI, RCX, R8, R9 (see the spec's calling convention).

// ---------------------------------------------------------------------------
// Generated from the lists.
// ---------------------------------------------------------------------------

enum class status : int64_t {
#define HYPERBIOS_X(name, value, spec_name) name = value,
    HYPERBIOS_ABI_STATUSES(HYPERBIOS_X)
#undef HYPERBIOS_X
};

// True for the values the spec defines; hosts clamp anything else to `failed`.
constexpr bool is_spec_status(int64_t value)
{
#define HYPERBIOS_X(name, v, spec_name) \
    if (value == (v))                   \
        return true;
    HYPERBIOS_ABI_STATUSES(HYPERBIOS_X)
#undef HYPERBIOS_X
    return false;
}

constexpr const char* status_name(status s)
{
#define HYPERBIOS_X(name, value, spec_name) \
    if (s == status::name)                  \
        return spec_name;
    HYPERBIOS_ABI_STATUSES(HYPERBIOS_X)
#undef HYPERBIOS_X
    return "UNKNOWN";
}

enum class service : uint16_t {
#define HYPERBIOS_X(name, id, version) name = id,
    HYPERBIOS_ABI_SERVICES(HYPERBIOS_X)
#undef HYPERBIOS_X
};

// What an argument register carries; the host checks each kind before a handler runs.
enum class arg_kind : uint8_t {
    none,        // not used by the call; ignored by the host
    u64,         // any 64-bit value
    service_id,  // a service ID: bits 63:16 reserved, must be zero
    exit_code,   // an exit code: bits 63:8 reserved, must be zero
    in_buffer,   // guest-physical address of a buffer the host reads; the next argument is its length
    out_buffer,  // guest-physical address of a buffer the host writes; the next argument is its length
    length,      // a buffer length in bytes
};

// Bits of an argument that are reserved for the given kind.
constexpr uint64_t reserved_bits(arg_kind kind)
{
    switch (kind) {
    case arg_kind::service_id: return ~uint64_t(0xFFFF);
    case arg_kind::exit_code: return ~uint64_t(0xFF);
    default: return 0;
    }
}

// What the value register (RDX) carries on success.
enum class result_kind : uint8_t {
    none,         // zero
    u64,          // an opaque 64-bit value
    version,      // (major << 16) | minor; 0 means absent where the call says so
    count,        // a byte count
    nanoseconds,  // a time in nanoseconds
    no_return,    // the call does not return on success
};

// Call IDs: the value a guest places in RAX, e.g. function::console_write.
enum class function : uint32_t {
#define HYPERBIOS_X(svc, name, id, since, a0, a1, a2, a3, a4, result, req) \
    svc##_##name = (uint32_t(service::svc) << 16) | (id),
    HYPERBIOS_ABI_FUNCTIONS(HYPERBIOS_X)
#undef HYPERBIOS_X
};

struct service_desc {
    service id;
    const char* name;
    uint32_t version;
};

struct function_desc {
    function call;
    service svc;
    uint16_t id;
    const char* service_name;
    const char* name;
    uint32_t since;
    arg_kind args[max_args];
    result_kind result;
    const char* requirement;
};

inline constexpr service_desc services[] = {
#define HYPERBIOS_X(name, id, version) {service::name, #name, version},
    HYPERBIOS_ABI_SERVICES(HYPERBIOS_X)
#undef HYPERBIOS_X
};

inline constexpr function_desc functions[] = {
#define HYPERBIOS_X(svc, fname, fid, since, a0, a1, a2, a3, a4, res, req)                              \
    {function::svc##_##fname, service::svc, fid, #svc, #fname, since,                                  \
     {arg_kind::a0, arg_kind::a1, arg_kind::a2, arg_kind::a3, arg_kind::a4}, result_kind::res, req},
    HYPERBIOS_ABI_FUNCTIONS(HYPERBIOS_X)
#undef HYPERBIOS_X
};

inline constexpr size_t service_count = sizeof(services) / sizeof(services[0]);
inline constexpr size_t function_count = sizeof(functions) / sizeof(functions[0]);

// Lookups usable in constant expressions and at run time. The index forms return
// the table's size when nothing matches; constant expressions use them because
// GCC's UBSan rejects null tests of pointers into these arrays there.
constexpr size_t function_index(uint64_t call)
{
    for (size_t i = 0; i < function_count; ++i)
        if (uint64_t(functions[i].call) == call)
            return i;
    return function_count;
}

constexpr size_t service_index(uint64_t id)
{
    for (size_t i = 0; i < service_count; ++i)
        if (uint64_t(services[i].id) == id)
            return i;
    return service_count;
}

// nullptr when unknown.
inline const function_desc* find_function(uint64_t call)
{
    const size_t i = function_index(call);
    return i < function_count ? &functions[i] : nullptr;
}

inline const service_desc* find_service(uint64_t id)
{
    const size_t i = service_index(id);
    return i < service_count ? &services[i] : nullptr;
}

constexpr bool is_function(function call) { return function_index(uint64_t(call)) < function_count; }

// Number of argument registers a call uses (arguments after the last used one are `none`).
constexpr unsigned arity(function call)
{
    const size_t f = function_index(uint64_t(call));
    unsigned n = 0;
    if (f < function_count)
        for (unsigned i = 0; i < max_args; ++i)
            if (functions[f].args[i] != arg_kind::none)
                n = i + 1;
    return n;
}

// Consistency of the table itself, checked wherever the header is compiled.
constexpr bool table_is_consistent()
{
    for (size_t i = 0; i < function_count; ++i) {
        const function_desc& f = functions[i];
        if (service_index(uint64_t(f.svc)) == service_count)
            return false;
        for (size_t j = i + 1; j < function_count; ++j)
            if (functions[j].call == f.call)
                return false;
        // Every buffer address is followed by its length, and every length follows a buffer.
        for (unsigned a = 0; a < max_args; ++a) {
            bool buffer = f.args[a] == arg_kind::in_buffer || f.args[a] == arg_kind::out_buffer;
            if (buffer && (a + 1 == max_args || f.args[a + 1] != arg_kind::length))
                return false;
            if (f.args[a] == arg_kind::length &&
                (a == 0 || (f.args[a - 1] != arg_kind::in_buffer && f.args[a - 1] != arg_kind::out_buffer)))
                return false;
        }
    }
    for (size_t i = 0; i < service_count; ++i)
        for (size_t j = i + 1; j < service_count; ++j)
            if (services[i].id == services[j].id)
                return false;
    return true;
}
static_assert(table_is_consistent(), "HyperBIOS ABI table: duplicate IDs or malformed buffer arguments");
constexpr bool service_ids_fit_presence_bitmap()
{
    for (size_t i = 0; i < service_count; ++i)
        if (uint16_t(services[i].id) >= 32)
            return false;
    return true;
}
static_assert(service_ids_fit_presence_bitmap(), "discovery leaf base+2 EAX holds the presence bits of services 0..31");

}  // namespace hyperbios::abi

#endif
