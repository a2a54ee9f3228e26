// Calling convention (spec chapter 2) and status codes (chapter 4).
#include "image.hpp"
#include "register_state.hpp"

namespace conformance {

namespace {

constexpr uint64_t pattern = 0x5A5A000000000000ull;
constexpr uint64_t flags_pattern = 0x8D7;  // CF PF AF ZF SF OF set, IF and TF clear, bit 1 always one

// A call word naming a service that is never assigned (spec 1.5), so that it
// stays unknown on every later version and with every vendor extension.
constexpr uint64_t unknown_service_call = hb::abi::make_call(hb::abi::unassigned_service_first, 0);

register_block make_block(uint64_t call_word, uint64_t rflags = flags_pattern)
{
    register_block b{};
    uint64_t* r = &b.rax;
    for (int i = 0; i < 15; ++i)
        r[i] = pattern | (uint64_t(i + 1) << 8) | uint64_t(i + 1);
    b.rax = call_word;
    b.rdx = hb::detect().port;
    b.rflags = rflags;
    return b;
}

constexpr const char* register_names[16] = {"RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R8",
                                            "R9",  "R10", "R11", "R12", "R13", "R14", "R15", "RFLAGS"};

// The first general register (index 0-14) or RFLAGS (15, the guest-settable
// bits only) that differs, skipping RAX and RDX where they may change; -1 when
// all kept their value.
int first_changed(const register_block& before, const register_block& after, bool rax_may_change,
                  bool rdx_may_change)
{
    const uint64_t* b = &before.rax;
    const uint64_t* a = &after.rax;
    for (int i = 0; i < 16; ++i) {
        if ((i == 0 && rax_may_change) || (i == 3 && rdx_may_change))
            continue;
        if (i == 15 ? ((a[i] ^ b[i]) & rflags_guest_settable) != 0 : a[i] != b[i])
            return i;
    }
    return -1;
}

bool preserved(const register_block& before, const register_block& after, bool rax_may_change, bool rdx_may_change)
{
    return first_changed(before, after, rax_may_change, rdx_may_change) < 0;
}

// Registers after a REP OUTSD (rep = true) or OUTSD naming the gate port.
struct string_out_registers {
    uint64_t rax, rdx, rcx, rsi;
};

string_out_registers string_out_to_gate(uint64_t eax, const uint32_t* words, uint64_t count, bool rep)
{
    string_out_registers r{eax, hb::detect().port, count, uint64_t(words)};
    if (rep)
        asm volatile("cld; rep outsl" : "+a"(r.rax), "+d"(r.rdx), "+c"(r.rcx), "+S"(r.rsi) : : "memory");
    else
        asm volatile("cld; outsl" : "+a"(r.rax), "+d"(r.rdx), "+c"(r.rcx), "+S"(r.rsi) : : "memory");
    return r;
}

// One register class's verdict over all the calls of check_preservation: the
// first call that changed a register of the class, and how.
struct class_verdict {
    bool failed = false;
    line detail;

    void record(const char* call, bool distinctive, const char* what)
    {
        if (failed || !what)
            return;
        failed = true;
        detail.put(call).put(distinctive ? ", distinctive state: " : ", boot state: ").put(what);
    }
};

// HB-CALL-002 for every register class of spec 2.1 but RAX and RDX, across
// calls that succeed and calls that fail, with the registers as the boot stub
// left them and with every one of them changed (load_distinctive_state), and
// with the guest-settable RFLAGS bits all set and all clear.
void check_preservation()
{
    using fn = hb::abi::function;
    constexpr uint64_t all_flags = rflags_guest_settable | rflags_always_one;
    struct call_case {
        uint64_t call;
        const char* name;
        bool distinctive;
        uint64_t rflags;
    } const cases[] = {
        {uint64_t(fn::base_get_spec_version), "get_spec_version", false, rflags_always_one},
        {uint64_t(fn::base_get_spec_version), "get_spec_version", true, all_flags},
        {uint64_t(fn::time_monotonic_ns), "monotonic_ns", false, all_flags},
        {uint64_t(fn::time_monotonic_ns), "monotonic_ns", true, rflags_always_one},
        // RDI holds 0x5A5A...: reserved bits of the service ID, INVALID_PARAM.
        {uint64_t(fn::base_probe_service), "probe_service (INVALID_PARAM)", true, all_flags},
        {unknown_service_call, "an unknown service (NOT_SUPPORTED)", false, all_flags},
        {unknown_service_call, "an unknown service (NOT_SUPPORTED)", true, rflags_always_one},
    };
    class_verdict general, flags, segments, control, tables, fpu;
    static extended_state state_before, state_after;
    for (const call_case& c : cases) {
        const register_block in = make_block(c.call, c.rflags);
        register_block out = in;
        if (c.distinctive)
            load_distinctive_state();
        conformance_gate_extended(&out, &state_before, &state_after);
        if (c.distinctive)
            restore_boot_state();

        const int changed = first_changed(in, out, true, true);
        line what;
        if (changed >= 0 && changed < 15) {
            what.put(register_names[changed]).put(" changed from ").hex((&in.rax)[changed]).put(" to ").hex(
                (&out.rax)[changed]);
            general.record(c.name, c.distinctive, what.c_str());
        }
        if (changed == 15) {
            what.put("RFLAGS changed from ").hex(in.rflags).put(" to ").hex(out.rflags);
            flags.record(c.name, c.distinctive, what.c_str());
        }
        segments.record(c.name, c.distinctive, changed_segment_register(state_before, state_after));
        control.record(c.name, c.distinctive, changed_control_register(state_before, state_after));
        tables.record(c.name, c.distinctive, changed_table_register(state_before, state_after));
        fpu.record(c.name, c.distinctive, changed_fpu_register(state_before, state_after));
    }
    check("HB-CALL-002", !general.failed, "RBX RCX RSI RDI RBP R8-R15 survive calls that succeed and calls that fail",
          general.detail.c_str());
    check("HB-CALL-002", !flags.failed,
          "every RFLAGS bit a guest can set (CF PF AF ZF SF IF DF OF IOPL NT AC ID) survives, all set and all clear",
          flags.detail.c_str());
    check("HB-CALL-002", !segments.failed, "CS DS ES SS FS GS, the FS and GS bases, LDTR and TR survive",
          segments.detail.c_str());
    check("HB-CALL-002", !control.failed, "CR0 CR2 CR3 CR4 CR8 survive", control.detail.c_str());
    check("HB-CALL-002", !tables.failed, "GDTR and IDTR survive", tables.detail.c_str());
    check("HB-CALL-002", !fpu.failed,
          "the x87 and SSE state (FCW FSW FTW FOP FIP FDP MXCSR ST0-ST7 XMM0-XMM15, as FXSAVE stores it) survives",
          fpu.detail.c_str());
}

}  // namespace

void run_checks()
{
    using fn = hb::abi::function;

    // HB-CALL-001: status and value registers.
    register_block before = make_block(uint64_t(fn::base_get_spec_version));
    register_block after = before;
    conformance_gate_all(&after, 0);
    check("HB-CALL-001", after.rax == 0 && after.rdx == hb::abi::spec_version,
          "status in RAX (SUCCESS) and value in RDX");
    register_block failing = make_block(unknown_service_call);
    register_block failed = failing;
    conformance_gate_all(&failed, 0);
    check("HB-CALL-001", failed.rax == uint64_t(int64_t(hb::status::not_supported)),
          "a negative status is sign-extended to 64 bits");
    check("HB-CALL-004", failed.rdx == 0, "RDX is zero when a call fails");

    check_preservation();

    // HB-CALL-003: unknown services and unknown functions of known services,
    // from the IDs never assigned (spec 1.5).
    constexpr uint16_t no_service = hb::abi::unassigned_service_first;
    constexpr uint16_t no_function = hb::abi::unassigned_function_first;
    struct {
        uint64_t call;
        const char* what;
    } const unknown[] = {
        {hb::abi::make_call(no_service, 0), "an unknown service is NOT_SUPPORTED"},
        {hb::abi::make_call(0xFFFF, 0xFFFF), "service 0xFFFF is NOT_SUPPORTED"},
        {hb::abi::make_call(0x0000, no_function), "an unknown function of BASE is NOT_SUPPORTED"},
        {hb::abi::make_call(0x0001, 0xFFFF), "an unknown function of CONSOLE is NOT_SUPPORTED"},
        {hb::abi::make_call(0x0002, no_function + 0x123), "an unknown function of TIME is NOT_SUPPORTED"},
    };
    for (const auto& u : unknown)
        check_status("HB-CALL-003", hb::result<uint64_t>{raw_call(u.call).code(), 0}, hb::status::not_supported,
                     u.what);

    // HB-GEN-001: reserved bits of the call word.
    for (unsigned bit : {32u, 40u, 63u}) {
        raw_result r = raw_call(uint64_t(fn::base_get_spec_version) | (1ull << bit));
        line d;
        d.put("call word bit ").dec(bit).put(" set is INVALID_PARAM");
        check_status("HB-GEN-001", hb::result<uint64_t>{r.code(), 0}, hb::status::invalid_param, d.c_str());
        check("HB-CALL-004", r.value == 0, "RDX is zero after INVALID_PARAM");
    }
    // Reserved call-word bits are checked before the function is looked up.
    check_status("HB-GEN-001",
                 hb::result<uint64_t>{raw_call(unknown_service_call | (1ull << 33)).code(), 0},
                 hb::status::invalid_param, "reserved bits win over an unknown service");

    // HB-CALL-007: other accesses to the gate port are not calls.
    const char* kinds[] = {"", "an 8-bit OUT", "a 16-bit OUT", "a 32-bit IN"};
    for (uint64_t kind = 1; kind <= 3; ++kind) {
        register_block b = make_block(uint64_t(fn::base_get_spec_version));
        register_block a = b;
        conformance_gate_all(&a, kind);
        line d;
        d.put(kinds[kind]).put(" to the gate port is not a call and changes no other register");
        const bool is_in = kind == 3;
        const bool untouched = preserved(b, a, is_in, false) && (is_in || a.rax == b.rax);
        check("HB-CALL-007", untouched, d.c_str());
    }

    // HB-CALL-009: OUTS elements that differ from EAX are not calls. EAX holds
    // TIME.monotonic_ns, which would replace RAX and RDX if an element were served.
    {
        static uint32_t words[3] = {0xC0DE0001u, 0xC0DE0002u, 0xC0DE0003u};
        const uint64_t clock_call = uint64_t(fn::time_monotonic_ns);
        const uint16_t port = hb::detect().port;
        for (const bool rep : {true, false}) {
            const uint64_t count = rep ? 3 : 0x77;
            const string_out_registers r = string_out_to_gate(clock_call, words, count, rep);
            const uint64_t advanced = rep ? 12 : 4;
            line what, why;
            what.put(rep ? "REP OUTSD" : "OUTSD").put(" of values other than EAX to the gate port is not a call");
            why.put("rax ").hex(r.rax).put(" rdx ").hex(r.rdx).put(" rcx ").hex(r.rcx).put(" rsi+").hex(
                r.rsi - uint64_t(words));
            check("HB-CALL-009",
                  r.rax == clock_call && r.rdx == port && r.rcx == (rep ? 0 : count) &&
                      r.rsi == uint64_t(words) + advanced,
                  what.c_str(), why.c_str());
        }
    }

    // HB-CALL-006 is shown by every call above having worked through the port gate.
    check("HB-CALL-006", (hb::detect().gates & hb::abi::gate_port_io) != 0, "the port-I/O gate is advertised");

    // HB-CALL-008: an advertised VMCALL/VMMCALL gate answers exactly as the port gate.
    const uint32_t gates = hb::detect().gates;
    if (!(gates & (hb::abi::gate_vmcall | hb::abi::gate_vmmcall)))
        skip("HB-CALL-008", "results through VMCALL/VMMCALL equal the port gate's",
             "not advertised: the host advertises neither the VMCALL nor the VMMCALL gate");
    for (const bool amd : {false, true}) {
        if (!(gates & (amd ? hb::abi::gate_vmmcall : hb::abi::gate_vmcall)))
            continue;
        const char* gate = amd ? "VMMCALL" : "VMCALL";
        const uint64_t probes[][2] = {
            {uint64_t(fn::base_get_spec_version), 0},
            {uint64_t(fn::base_probe_service), uint64_t(hb::abi::service::console)},
            {uint64_t(fn::base_probe_service), hb::abi::unassigned_service_first},
            {unknown_service_call, 0},
            {uint64_t(fn::base_get_spec_version) | (1ull << 40), 0},
        };
        for (const auto& p : probes) {
            const raw_result port = raw_call(p[0], p[1]);
            const raw_result vm = amd ? vm_gate_call<true>(p[0], p[1]) : vm_gate_call<false>(p[0], p[1]);
            line what, why;
            what.put("call ").hex(p[0]).put(" through ").put(gate).put(" answers as through the port gate");
            why.put("port ").sdec(port.status).put('/').hex(port.value).put(", ").put(gate).put(' ').sdec(vm.status).put(
                '/').hex(vm.value);
            check("HB-CALL-008", vm.status == port.status && vm.value == port.value, what.c_str(), why.c_str());
        }
    }

    // HB-STS-001: every status seen above, and for each function with zero arguments, is in the table.
    bool only_spec = hb::abi::is_spec_status(int64_t(after.rax)) && hb::abi::is_spec_status(int64_t(failed.rax));
    for (const hb::abi::function_desc& f : hb::abi::functions)
        if (hb::abi::arity(f.call) == 0 && f.result != hb::abi::result_kind::no_return)
            only_spec = only_spec && hb::abi::is_spec_status(raw_call(f.call).status);
    check("HB-STS-001", only_spec, "the host returns only status codes of the table");
}

}  // namespace conformance
