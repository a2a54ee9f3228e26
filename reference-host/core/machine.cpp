#include "core/machine.hpp"
#include "core/text.hpp"

#include "core/discovery.hpp"
#include "core/error.hpp"
#include "core/watchdog.hpp"
#include "services/services.hpp"

#include <cstdio>
#include <sstream>
#include <unistd.h>

#ifndef HBVM_VERSION_MAJOR
#error "the build defines HBVM_VERSION_MAJOR, _MINOR and _PATCH"
#endif

namespace hbvm {

namespace {

constexpr uint32_t discovery_base_leaf = 0x40000000;
constexpr char vendor_signature[] = "HyperBIOSRef";  // 12 bytes in CPUID leaf base+0
constexpr uint64_t reference_host_impl_id = 1;       // spec registry: the reference host


std::string seconds(double s)
{
    std::ostringstream out;
    out << s << " s";
    return out.str();
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
      image_file_(read_image_file(config_.image_path)),
      image_(parse_multiboot_image(image_file_)),
      memory_(config_.memory_size),
      terminal_(STDIN_FILENO, STDOUT_FILENO),
      debug_console_(STDERR_FILENO),
      dispatcher_(memory_, *config_.policy),
      selection_(select_accelerator(config_.accel)),
      faults_(config_.injected_fault)
{
    const implementation_identity identity{
        reference_host_impl_id,
        (uint64_t(HBVM_VERSION_MAJOR) << 32) | (uint64_t(HBVM_VERSION_MINOR) << 16) | HBVM_VERSION_PATCH,
        "HyperBIOS reference host (hbvm " HBVM_VERSION_STRING ")"};
    register_base_service(dispatcher_, identity);
    register_console_service(dispatcher_, terminal_);
    register_time_service(dispatcher_, clock_);
    register_power_service(dispatcher_, power_);
    dispatcher_.on_host_bug = [this](const std::string& what) { note("host bug: " + what); };
    dispatcher_.on_guest_write = [this](uint64_t address, uint64_t length) {
        accel_->guest_memory_written(address, length);
    };
}

machine::~machine() = default;

void machine::note(const std::string& line)
{
    debug_console_.flush();  // keep the guest's partial line ahead of the host's
    std::fprintf(stderr, "hbvm: %s\n", line.c_str());
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
    if (!memory_fresh_)
        memory_.clear();
    memory_fresh_ = false;
    calls_ = 0;
    load_multiboot_image(image_, image_file_, memory_);
    const uint32_t info = write_multiboot_info(memory_, config_.cmdline);
    auto accel = create_accelerator(selection_.kind, memory_);
    std::vector<cpuid_entry> leaves = discovery_leaves({discovery_base_leaf, vendor_signature, abi::spec_version,
                                                        abi::gate_port_io, ports::hyperbios_gate,
                                                        dispatcher_.service_bitmap()});
    faults_.on_discovery(leaves, discovery_base_leaf);
    accel->set_cpuid(leaves);
    accel->prepare_multiboot_entry(image_.entry, info);
    std::lock_guard lock(accel_mutex_);
    accel_ = std::move(accel);
    trace("booting " + config_.image_path + " (" + image_.format + "), entry " + hex(image_.entry) + ", " +
          std::to_string(memory_.size() >> 20) + " MiB RAM, " + accel_->name());
}

int machine::run()
{
    const int status = run_to_end();
    if (config_.stats && accel_) {
        const accelerator_stats s = accel_->stats();
        std::ostringstream line;
        line << "stats: " << calls_ << " HyperBIOS calls, " << s.exits << " exits, " << s.ioctls << " ioctls";
        if (calls_)
            line << " (" << double(s.ioctls) / double(calls_) << " ioctls per call)";
        line << " in the last boot";
        note(line.str());
    }
    return status;
}

int machine::run_to_end()
{
    note("accelerator: " + selection_.reason);
    for (const fault_info& f : all_faults())
        if (f.id == faults_.active())
            note(std::string("injecting fault '") + f.name + "': " + f.description + " (this host is deliberately broken)");
    watchdog dog(config_.timeout_seconds, [this] {
        std::lock_guard lock(accel_mutex_);
        if (accel_)
            accel_->request_stop();
    });
    for (;;) {
        outcome_.reset();
        boot();
        if (dog.fired() != watchdog::cause::none)  // a stop that came between two boots
            break;
        const vm_exit exit = accel_->run(*this);
        debug_console_.flush();
        if (exit.what == vm_exit::kind::stopped && outcome_) {
            if (!outcome_->reboot)
                return outcome_->exit_status;
            note("guest requested a reboot; booting " + config_.image_path + " again");
            power_.reset_reason = abi::reset_guest_reboot;
            continue;
        }
        if (exit.what == vm_exit::kind::stopped && dog.fired() != watchdog::cause::none)
            break;
        return report_exit(exit);
    }
    switch (dog.fired()) {
    case watchdog::cause::timeout:
        note("the guest was still running after " + seconds(config_.timeout_seconds) + " (--timeout); stopped it");
        return exit_status::timed_out;
    case watchdog::cause::terminate: note("stopped by SIGTERM"); return 128 + 15;
    default: note("stopped by Ctrl-C (SIGINT)"); return exit_status::interrupted;
    }
}

int machine::report_exit(const vm_exit& exit)
{
    const std::string regs = format_registers(accel_->registers());
    switch (exit.what) {
    case vm_exit::kind::halted:
        note("the guest halted (HLT) with nothing that could wake it; " + exit.detail);
        return exit_status::guest_halted;
    case vm_exit::kind::cpu_exception:
        note("the guest crashed: CPU exception " + std::to_string(exit.vector) + " (" +
             exception_name(exit.vector) + ")" + (exit.detail.empty() ? "" : "; " + exit.detail) + "\n" + regs);
        return exit_status::guest_crashed;
    case vm_exit::kind::memory_fault:
        note("the guest crashed: " + exit.detail + "\n" + regs);
        return exit_status::guest_crashed;
    case vm_exit::kind::triple_fault:
        // KVM on AMD resets the vCPU when it shuts down: RIP 0xFFF0 is the reset
        // vector, not where the guest failed.
        note("the guest crashed: triple fault (the CPU shut down; an exception with no working IDT)" +
             (accel_->registers().rip == 0xFFF0 ? std::string("; the vCPU was reset, so its registers at the fault are lost")
                                                : "\n" + regs));
        return exit_status::guest_crashed;
    case vm_exit::kind::internal_error:
        note("accelerator failure: " + exit.detail + "\n" + regs);
        return exit_status::host_failure;
    case vm_exit::kind::stopped: break;
    }
    note("the accelerator stopped without a reason\n" + regs);
    return exit_status::host_failure;
}

io_reply machine::on_io(const io_access& access)
{
    if (access.port == ports::hyperbios_gate && access.is_write && access.size == 4)
        return hypercall();
    if (access.port == ports::hyperbios_gate && faults_.serves_odd_gate_access(access))
        return hypercall();
    if (access.port == debug_console::port) {
        if (!access.is_write)
            return {debug_console::port, false};  // read-back, as QEMU and Bochs answer
        debug_console_.put(uint8_t(access.value));
        return {};
    }
    if (access.port == ports::debug_exit && access.is_write) {
        outcome_ = outcome{int((access.value << 1) | 1) & 0xFF, false};
        return {0, true};
    }
    if (config_.trace)
        trace("ignored " + std::string(access.is_write ? "write to" : "read from") + " port " + hex(access.port) +
              " (" + std::to_string(access.size) + " bytes)");
    // Nothing decodes this port: reads float high, as on a PC bus.
    return {access.size == 4 ? 0xFFFFFFFFu : (1u << (8 * access.size)) - 1, false};
}

io_reply machine::hypercall()
{
    vcpu_registers regs = accel_->registers();
    const call_request request{regs.rax, {regs.rdi, regs.rsi, regs.rcx, regs.r8, regs.r9}};
    call_result result = dispatcher_.dispatch(request);
    if (faults_.active() != fault::none)
        faults_.after_call(request, result, regs, memory_);
    ++calls_;
    if (config_.trace)
        trace("call " + std::to_string(calls_) + ": " + call_name(request.call) + "(" + hex(regs.rdi) + ", " +
              hex(regs.rsi) + ", " + hex(regs.rcx) + ", " + hex(regs.r8) + ", " + hex(regs.r9) + ") -> " +
              abi::status_name(result.status) + ", " + hex(result.value));
    switch (result.request.what) {
    case machine_request::kind::shutdown:
        outcome_ = outcome{result.request.exit_code, false};
        return {0, true};
    case machine_request::kind::reboot:
        outcome_ = outcome{0, true};
        return {0, true};
    case machine_request::kind::none: break;
    }
    regs.rax = uint64_t(result.status);
    regs.rdx = result.value;
    accel_->set_registers(regs);
    return {};
}

}  // namespace hbvm
