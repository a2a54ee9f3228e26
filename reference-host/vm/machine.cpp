#include "vm/machine.hpp"
#include "core/text.hpp"

#include "core/cpu_model.hpp"
#include "core/diagnostics.hpp"
#include "core/discovery.hpp"
#include "core/error.hpp"
#include "core/stop.hpp"
#include "policy/apply.hpp"
#include "policy/audit.hpp"
#include "services/services.hpp"

#include <cstring>
#include <sstream>
#include <unistd.h>

#ifndef HBVM_VERSION_MAJOR
#error "the build defines HBVM_VERSION_MAJOR, _MINOR and _PATCH"
#endif

namespace hbvm {

namespace {

constexpr uint32_t discovery_base_leaf = 0x40000000;
constexpr char vendor_signature[] = "HyperBIOSRef";  // 12 bytes in CPUID leaf base+0

implementation_identity reference_host_identity()
{
    return {abi::implementation::hbvm,  // the spec's registry (Appendix A), through the ABI table
            (uint64_t(HBVM_VERSION_MAJOR) << 32) | (uint64_t(HBVM_VERSION_MINOR) << 16) | HBVM_VERSION_PATCH,
            "HyperBIOS reference host (hbvm " HBVM_VERSION_STRING ")"};
}

// Every --disk, opened, checked and locked: a bad one stops hbvm before boot.

// The devices' settings with the registry's checks and implicit devices (the
// terminal): the command line checked them already, a test may not have; a
// second check finds nothing new.
std::vector<device_settings> checked_devices(const machine_config& config)
{
    std::vector<device_settings> settings = config.devices;
    check_device_settings(config.device_classes, settings);
    apply_profile_to_defaults(*config.policy, settings, config.injected_fault);
    return settings;
}

std::string call_name(uint64_t call)
{
    const abi::function_desc* f = abi::find_function(call);
    return f ? std::string(f->service_name) + "." + f->name : "unknown call " + hex(call);
}

const char* exception_name(uint32_t vector)
{
    static const char* const names[] = {"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
                                        "#BR bound range", "#UD invalid opcode", "#NM device not available",
                                        "#DF double fault", "coprocessor overrun", "#TS invalid TSS",
                                        "#NP segment not present", "#SS stack fault", "#GP general protection",
                                        "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check",
                                        "#MC machine check", "#XM SIMD error", "#VE virtualization"};
    return vector < sizeof names / sizeof names[0] ? names[vector] : "interrupt";
}

}  // namespace

machine::machine(machine_config config)
    : config_(std::move(config)),
      // Images come from files of any size, or from pipes of at most the guest's RAM
      // below 4 GiB, where images load (Multiboot's addresses are 32-bit).
      image_file_(config_.image_path, ram_layout::low_size(config_.memory_size)),
      image_(parse_multiboot_image(image_file_)),
      memory_(config_.memory_size),
      devices_(config_.device_classes, checked_devices(config_), device_host{[this](const std::string& line) { note(line); },
                                                                   [this](int request) {
                                                                       stop::request(request);
                                                                       if (config_.dog)
                                                                           config_.dog->stop_now();
                                                                   },
                                                                   config_.stats}),
      dispatcher_(memory_, *config_.policy),
      services_(config_.services,
                service_context{devices_, clock_, reference_host_identity(), memory_.size(), events_},
                dispatcher_),
      selection_(select_accelerator(config_.accel)),
      faults_(config_.injected_fault)
{
    dispatcher_.on_host_bug = [this](const std::string& what) { note("host bug: " + what); };
    devices_.take_faults(faults_);
    dispatcher_.deviate = {config_.injected_fault == fault::policy_denied_runs,
                           config_.injected_fault == fault::policy_rate_unapplied};
    events_.on_interrupt = [this] { wait_while_paused(); };
    dispatcher_.on_guest_write = [this](uint64_t address, uint64_t length) {
        accel_->guest_memory_written(address, length);
    };
}

machine::~machine()
{
    // The watchdog outlives the machine: it must not reach the accelerator now.
    if (config_.dog)
        config_.dog->set_stop_action({});
    events_.watch(0, {});
}

void machine::note(const std::string& line)
{
    devices_.flush_output();  // keep the guest's partial line ahead of the host's
    diagnostics::line(line);
}

void machine::trace(const std::string& line)
{
    if (!config_.trace)
        return;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - config_.started).count();
    std::ostringstream stamp;
    stamp.setf(std::ios::fixed);
    stamp.precision(3);
    stamp << "trace +" << ms << " ms: " << line;
    note(stamp.str());
}

void machine::boot()
{
    // Every module's devices and state as a fresh boot sees them, before anything
    // of the guest runs.
    // The event watcher must not wake an accelerator that is about to go; the
    // modules' reset (EVT's) stops it.
    services_.reset(powered_on_ ? boot_cause::reset : boot_cause::power_on);
    powered_on_ = true;
    if (!memory_fresh_)
        memory_.clear();
    memory_fresh_ = false;
    calls_ = 0;
    load_multiboot_image(image_, image_file_, memory_);
    const uint32_t info = write_multiboot_info(memory_, config_.cmdline);
    auto accel = create_accelerator(selection_.kind, memory_);
    accel->deviate = faults_.accelerator_deviations();
    std::vector<cpuid_entry> leaves = discovery_leaves({discovery_base_leaf, vendor_signature, abi::spec_version,
                                                        abi::gate_port_io, ports::hyperbios_gate,
                                                        dispatcher_.service_bitmap()});
    faults_.on_discovery(leaves, discovery_base_leaf);
    // The same CPU on both engines: the documented model, less what this host's
    // KVM cannot run.
    const std::vector<cpuid_entry> supported = accel->supported_cpuid();
    std::vector<cpuid_entry> cpu = guest_cpu_model(supported.empty() ? nullptr : &supported);
    cpu.insert(cpu.end(), leaves.begin(), leaves.end());
    accel->set_cpuid(cpu);
    accel->prepare_multiboot_entry(image_.entry, info);
    // The new accelerator takes the stop before the old one is destroyed.
    if (config_.dog)
        config_.dog->set_stop_action([a = accel.get()] { a->request_stop(); });
    {
        std::lock_guard lock(accel_mutex_);
        accel_ = std::move(accel);
    }
    trace("booting " + config_.image_path + " (" + image_.format + "), entry " + hex(image_.entry) + ", " +
          std::to_string(memory_.size() >> 20) + " MiB RAM, " + accel_->name());
}

run_end machine::run()
{
    note("accelerator: " + selection_.reason);
    const char* const names[] = {"stdin", "stdout", "stderr"};
    for (int fd = 0; fd <= 2; ++fd)
        if (config_.reopened_fds & (1u << fd))
            note(std::string(names[fd]) + " was closed when hbvm started; it is /dev/null for this run" +
                 (fd == 1 ? " (the guest's console output is discarded)" : ""));
    for (const fault_info& f : all_faults())
        if (f.id == faults_.active())
            note(std::string("injecting fault '") + f.name + "': " + f.description + " (this host is deliberately broken)");
    for (;;) {
        outcome_.reset();
        boot();
        if (stop::requested())  // a stop that came between two boots
            break;
        const vm_exit exit = accel_->run(*this);
        devices_.flush_output();
        devices_.run_ended();
        if (exit.what == vm_exit::kind::stopped && outcome_) {
            if (!outcome_->reboot)
                return finish({outcome_->exit_status, outcome_->kind, outcome_->message});
            note(outcome_->message + "; booting " + config_.image_path + " again");
            // What the audit counted so far is written now: a run killed later keeps it.
            access_audit::checkpoint();
            continue;
        }
        if (exit.what == vm_exit::kind::stopped && stop::requested())
            break;
        return finish(report_exit(exit));
    }
    const stop::ending end = stop::describe(config_.timeout_seconds);
    return finish({end.status, end_kind::stopped, end.message});
}

run_end machine::finish(run_end end)
{
    if (config_.dog) {
        const std::vector<std::string> ignored = config_.dog->ignored_signals();
        std::string list;
        for (const std::string& s : ignored)
            list += (list.empty() ? "" : ", ") + s;
        if (!list.empty())
            note("ignored " + list + " during the run (hbvm gives SIGUSR1 and SIGUSR2 no meaning)");
    }
    if (config_.stats && accel_) {
        const accelerator_stats s = accel_->stats();
        std::ostringstream line;
        line << "stats: " << calls_ << " HyperBIOS calls, " << s.exits << " exits, " << s.ioctls << " ioctls";
        if (calls_)
            line << " (" << double(s.ioctls) / double(calls_) << " ioctls per call)";
        line << " in the last boot";
        note(line.str());
    }
    if (!end.message.empty())
        note(end.message);
    // What the end report tells, deliberately wrong (the exit status is right).
    if (faults_.active() == fault::halted_reported_as_shutdown && end.kind == end_kind::halted)
        end.kind = end_kind::shutdown;
    return end;
}

run_end machine::report_exit(const vm_exit& exit)
{
    const std::string regs = format_registers(accel_->registers()) + "\n" + accel_->control_registers_line();
    switch (exit.what) {
    case vm_exit::kind::halted:
        return {exit_status::guest_halted, end_kind::halted,
                "the guest halted (HLT) with nothing that could wake it; " + exit.detail};
    case vm_exit::kind::cpu_exception:
        return {exit_status::guest_crashed, end_kind::crashed, "the guest crashed: CPU exception " + std::to_string(exit.vector) + " (" +
                                                exception_name(exit.vector) + ")" +
                                                (exit.detail.empty() ? "" : "; " + exit.detail) + "\n" + regs};
    case vm_exit::kind::memory_fault:
        return {exit_status::guest_crashed, end_kind::crashed, "the guest crashed: " + exit.detail + "\n" + regs};
    case vm_exit::kind::triple_fault:
        // KVM on AMD resets the vCPU when it shuts down: RIP 0xFFF0 is the reset
        // vector, not where the guest failed.
        return {exit_status::guest_crashed, end_kind::crashed,
                "the guest crashed: triple fault (the CPU shut down; an exception with no working IDT)" +
                    (exit.detail.empty() ? std::string() : ": " + exit.detail) +
                    (accel_->registers().rip == 0xFFF0
                         ? std::string("; the vCPU was reset, so its registers at the fault are lost")
                         : "\n" + regs)};
    case vm_exit::kind::internal_error:
        return {exit_status::host_failure, end_kind::failed, "accelerator failure: " + exit.detail + "\n" + regs};
    case vm_exit::kind::stopped: break;
    }
    return {exit_status::host_failure, end_kind::failed, "the accelerator stopped without a reason\n" + regs};
}

io_reply machine::on_io(const io_access& access)
{
    if (access.port == ports::hyperbios_gate && access.is_write && access.size == 4) {
        const call_registers regs = accel_->read_call_registers();
        // OUT DX, EAX always writes EAX; a 32-bit value that differs can only be an
        // element of a string instruction (OUTS), which is not a call (HB-CALL-009).
        if (access.value == uint32_t(regs.rax) || faults_.serves_string_elements())
            return hypercall(regs);
        if (config_.trace)
            trace("ignored write of " + hex(access.value) + " to the gate port: not OUT DX, EAX (EAX is " +
                  hex(uint32_t(regs.rax)) + "), so not a call");
        return {};
    }
    if (access.port == ports::hyperbios_gate && faults_.serves_odd_gate_access(access))
        return hypercall(accel_->read_call_registers());
    if (access.port == boot_layout::entry_fault_port && access.is_write)
        return entry_fault(access.value);
    if (auto reply = devices_.on_io(access))
        return *reply;
    if (access.port == ports::debug_exit && access.is_write) {
        const int status = int((access.value << 1) | 1) & 0xFF;
        outcome_ = outcome{status, false,
                           "the guest wrote " + hex(access.value) + " to the debug-exit port " + hex(ports::debug_exit) +
                               ": exit status " + std::to_string(status) + " ((value << 1) | 1)"};
        return {0, true};
    }
    if (config_.trace)
        trace("ignored " + std::string(access.is_write ? "write to" : "read from") + " port " + hex(access.port) +
              " (" + std::to_string(access.size) + " bytes)");
    // Nothing decodes this port: reads float high, as on a PC bus.
    return {access.size == 4 ? 0xFFFFFFFFu : (1u << (8 * access.size)) - 1, false};
}

// A stub of the host's entry IDT (write_entry_tables) reports an exception the
// kernel raised before it loaded an IDT of its own: what the CPU pushed is on the
// stack the stub runs on. The report ends the run.
io_reply machine::entry_fault(uint32_t vector)
{
    const vcpu_registers regs = accel_->registers();
    const paging_state st = accel_->paging_registers();
    const bool with_error = vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
    uint32_t frame[2] = {0, 0};  // [error code,] EIP
    bool readable = true;
    for (unsigned i = 0; i < (with_error ? 2u : 1u) && readable; ++i) {
        const page_walk_result w = walk_page_tables(memory_, st, uint32_t(regs.rsp) + 4 * i);
        const auto bytes = w.present ? memory_.read(guest_address{w.physical}, 4) : std::nullopt;
        readable = bytes.has_value();
        if (readable)
            std::memcpy(&frame[i], bytes->data(), 4);
    }
    const uint32_t eip = with_error ? frame[1] : frame[0];
    std::string what = "the guest crashed before loading its own IDT: CPU exception " + std::to_string(vector) + " (" +
                       exception_name(vector) + ")";
    if (readable)
        what += " at EIP " + hex(eip) + (with_error ? ", error code " + hex(frame[0]) : std::string());
    else
        what += "; its frame is unreadable";
    what += ", CR2 " + hex(st.cr2) + " (reported by hbvm's entry IDT)";
    outcome_ = outcome{exit_status::guest_crashed, false, what, end_kind::crashed};
    return {0, true};
}

// HLT, a wake from the event watcher, or the interrupt window the machine asked
// for: deliver what is pending, and at a HLT sleep until there is something.
event_reply machine::on_event_point(event_point where, bool can_interrupt)
{
    wait_while_paused();
    if (stop::requested())
        return {event_reply::kind::stopped, ""};
    if (where == event_point::halted)
        return halt(can_interrupt);
    look_at_events(can_interrupt);
    return {};
}

// Spec 13.6: a vCPU halted with interrupts enabled sleeps until an unmasked
// source is pending; with interrupts disabled nothing can wake it, as on a CPU.
event_reply machine::halt(bool can_interrupt)
{
    const vcpu_registers regs = accel_->registers();
    const bool interrupts = regs.rflags & (1u << 9);
    const std::string where = "HLT before " + hex(regs.rip);
    const uint64_t unmasked = ~events_.mask() & events_.attached();
    accel_->request_interrupt_window(false);  // look_at_events asks again if it must
    if (!interrupts)
        return {event_reply::kind::halted,
                where + " with interrupts disabled" +
                    (unmasked ? " (event sources are unmasked: `sti; hlt` sleeps until one is pending)" : "")};
    std::string why;
    if (!events_.wait(unmasked, event_hub::no_deadline, &why)) {
        if (stop::requested())
            return {event_reply::kind::stopped, ""};
        return {event_reply::kind::halted,
                where + " with interrupts enabled, but " +
                    (unmasked ? why : std::string("every event source is masked (EVT.set_mask)")) +
                    (events_.vector() ? "" : "; no interrupt vector is set either (EVT.set_vector)")};
    }
    trace("woke from " + where);
    look_at_events(can_interrupt);
    return {};
}

// Level-triggered delivery (spec 13.5): while a vector is set, an unmasked source
// is pending and the guest can take an interrupt, raise the vector; while one is
// pending and the guest cannot, ask to be told when it can; otherwise watch the
// unmasked sources so that the vCPU is woken when one becomes pending.
void machine::look_at_events(bool can_interrupt)
{
    const uint8_t vector = faults_.event_vector(events_.vector());
    if (!vector) {
        accel_->request_interrupt_window(false);
        events_.watch(0, {});
        return;
    }
    const uint64_t unmasked = (faults_.delivery_ignores_mask() ? ~uint64_t(0) : ~events_.mask()) & events_.attached();
    const uint64_t pending = events_.pending(unmasked);
    if ((pending || faults_.spurious_interrupt_owed()) && can_interrupt) {
        accel_->inject_vector(faults_.delivered_vector(vector), true);
        faults_.event_interrupt_raised(pending != 0);
    }
    // After an injection the source stays pending until the handler consumes
    // it; if it does not, the vector is raised again once the guest can take it.
    accel_->request_interrupt_window(pending != 0 || faults_.spurious_interrupt_owed());
    events_.watch(unmasked & ~pending, [a = accel_.get()] { a->wake(); });
}

io_reply machine::hypercall(const call_registers& regs)
{
    const call_request request{regs.rax, {regs.rdi, regs.rsi, regs.rcx, regs.r8, regs.r9}};
    call_result result = dispatcher_.dispatch(request);
    // A call changed a source or the EVT settings: inside a call no interrupt can
    // be taken, so this only arranges for one (an interrupt window, the watcher).
    if (events_.take_change() && result.request.what == machine_request::kind::none)
        look_at_events(false);
    // An injected fault may change any register: the slow path, with all of them.
    std::optional<vcpu_registers> all;
    if (faults_.active() != fault::none) {
        all = accel_->registers();
        faults_.after_call(request, result, *all, memory_);
    }
    ++calls_;
    if (config_.trace)
        trace("call " + std::to_string(calls_) + ": " + call_name(request.call) + "(" + hex(regs.rdi) + ", " +
              hex(regs.rsi) + ", " + hex(regs.rcx) + ", " + hex(regs.r8) + ", " + hex(regs.r9) + ") -> " +
              abi::status_name(result.status) + ", " + hex(result.value) +
              (dispatcher_.last_rule().empty() ? "" : " (" + dispatcher_.last_rule() + ")"));
    switch (result.request.what) {
    case machine_request::kind::power_off:
        outcome_ = outcome{result.request.exit_code, false,
                           !result.request.detail.empty()
                               ? result.request.detail
                               : "the guest shut down (" + call_name(request.call) + "): exit status " +
                                     std::to_string(result.request.exit_code)};
        return {0, true};
    case machine_request::kind::halt_forever:
        outcome_ = outcome{exit_status::guest_halted, false, result.request.detail, end_kind::halted};
        return {0, true};
    case machine_request::kind::reset:
        outcome_ = outcome{0, true,
                           !result.request.detail.empty() ? result.request.detail
                                                          : call_name(request.call) + " reset the machine"};
        return {0, true};
    case machine_request::kind::host_failure:
        outcome_ = outcome{exit_status::host_failure, false,
                           "host failure while serving " + call_name(request.call) + ": " + result.request.detail +
                               "; stopped the guest",
                           end_kind::failed};
        return {0, true};
    case machine_request::kind::none: break;
    }
    if (all) {
        all->rax = uint64_t(result.status);
        all->rdx = result.value;
        accel_->set_registers(*all);
    } else {
        accel_->write_call_result(uint64_t(result.status), result.value);
    }
    return {};
}

void machine::pause()
{
    pause_wanted_ = true;
    events_.interrupt();  // a HLT or an EVT.wait in progress pauses where it is
    std::lock_guard lock(accel_mutex_);
    if (accel_)
        accel_->wake();  // running guest code stops at the next event point
}

void machine::resume()
{
    {
        std::lock_guard lock(pause_mutex_);
        pause_wanted_ = false;
    }
    pause_cv_.notify_all();
}

// On the vCPU thread, at an event point or inside a wait: stays here while a
// pause is wanted. A stop (--timeout, a signal, quit) ends the pause within the
// 100 ms every stop keeps: the wait looks at it every 10 ms.
void machine::wait_while_paused()
{
    if (!pause_wanted_.load())
        return;
    paused_ = true;
    if (config_.on_pause)
        config_.on_pause(true);
    {
        std::unique_lock lock(pause_mutex_);
        while (pause_wanted_.load() && !stop::requested())
            pause_cv_.wait_for(lock, std::chrono::milliseconds(10));
    }
    paused_ = false;
    if (config_.on_pause)
        config_.on_pause(false);
}

}  // namespace hbvm
