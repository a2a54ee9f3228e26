// The interface every CPU back end implements. A back end only runs the vCPU and
// turns its raw exits into `io_access` callbacks and a final `vm_exit`; decoding of
// HyperBIOS calls, devices and policy live in core/ and are shared.
#ifndef HBVM_ACCEL_ACCELERATOR_HPP
#define HBVM_ACCEL_ACCELERATOR_HPP

#include "accel/page_walk.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace hbvm {

struct vcpu_registers {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
};

// What a HyperBIOS call reads: the call word and the argument registers (spec 2.1).
struct call_registers {
    uint64_t rax, rdi, rsi, rcx, r8, r9;
};

// Formats the registers as a multi-line dump for diagnostics.
std::string format_registers(const vcpu_registers& regs);

// A CPUID answer: for every subleaf (ECX) of the leaf, or, when
// subleaf_significant, only for `subleaf`. Entries earlier in a list win.
struct cpuid_entry {
    uint32_t leaf, subleaf;
    uint32_t eax, ebx, ecx, edx;
    bool subleaf_significant = false;
};

// One port access by the guest.
struct io_access {
    bool is_write;
    uint16_t port;
    uint8_t size;    // 1, 2 or 4 bytes
    uint32_t value;  // the value written (writes only)
};

// What the core answers to a port access.
struct io_reply {
    uint32_t value = 0;  // the value a read returns
    bool stop = false;   // end the run after this access
};

// Where run() stops between two instructions for the core to look at events.
enum class event_point {
    halted,            // the guest executed HLT; RIP is past it
    woken,             // wake() was called
    interrupt_window,  // the guest can take an interrupt, as request_interrupt_window asked
};

// What the core answers at an event point.
struct event_reply {
    enum class kind {
        resume,   // go on (after any inject_vector the core made)
        halted,   // end the run: HLT with nothing that can wake the vCPU (`detail` says why)
        stopped,  // end the run: a stop was requested while the core waited
    };
    kind what = kind::resume;
    std::string detail;
};

class exit_handler {
public:
    virtual io_reply on_io(const io_access& access) = 0;

    // The vCPU is between two instructions. `can_interrupt`: an external interrupt
    // injected now (inject_vector, external) is taken before the next instruction
    // (RFLAGS.IF is set and nothing holds interrupts off). At `halted` the core
    // may sleep until an event, as the CPU does in HLT. By default a HLT ends the
    // run (handlers without events: calibration, tests).
    virtual event_reply on_event_point(event_point where, bool /*can_interrupt*/)
    {
        return where == event_point::halted ? event_reply{event_reply::kind::halted, "HLT"} : event_reply{};
    }

protected:
    ~exit_handler() = default;
};

// Why run() returned.
struct vm_exit {
    enum class kind {
        stopped,         // the exit handler or request_stop() ended the run
        halted,          // HLT with nothing that can wake the vCPU (the core's answer at the HLT)
        cpu_exception,   // an exception the back end could not deliver to the guest
        memory_fault,    // an access outside guest RAM
        triple_fault,    // shutdown of the vCPU (KVM_EXIT_SHUTDOWN)
        internal_error,  // the back end failed
    };
    kind what = kind::stopped;
    uint32_t vector = 0;   // cpu_exception
    uint64_t address = 0;  // memory_fault
    std::string detail;    // one line for the user
};

// Counters for --stats and the benchmarks.
struct accelerator_stats {
    uint64_t exits;   // guest exits handled (port accesses, HLT, faults)
    uint64_t ioctls;  // ioctls on the VM and vCPU while running (KVM; 0 elsewhere)
};

class accelerator {
public:
    virtual ~accelerator() = default;

    virtual const char* name() const = 0;

    // The guest's whole CPUID table (core/cpu_model): leaves outside it answer by
    // KVM's rule on both back ends (answer_cpuid).
    virtual void set_cpuid(const std::vector<cpuid_entry>& entries) = 0;

    // What the host can run, as KVM_GET_SUPPORTED_CPUID says; empty where the back
    // end executes whatever the CPU model lists (the software engine).
    virtual std::vector<cpuid_entry> supported_cpuid() = 0;

    // Puts the vCPU in the Multiboot entry state: 32-bit protected mode, paging off,
    // flat 4 GiB segments, EAX = 0x2BADB002, EBX = `info`, EIP = `entry`.
    virtual void prepare_multiboot_entry(uint32_t entry, uint32_t info) = 0;

    // Runs until the guest stops; every port access is handed to `handler` first.
    virtual vm_exit run(exit_handler& handler) = 0;

    // Register access, valid inside `on_io` and after run() returns. set_registers
    // writes the sixteen general-purpose registers; RIP and RFLAGS stay as they are
    // (the back end completes the instruction that exited).
    virtual vcpu_registers registers() = 0;
    virtual void set_registers(const vcpu_registers& regs) = 0;

    // The hot path of every call, valid inside `on_io`: only the registers a call
    // reads, and its two results into RAX and RDX. On the software engine every
    // register access costs; reading all of them made a call 15 times an exit.
    virtual call_registers read_call_registers() = 0;
    virtual void write_call_result(uint64_t rax, uint64_t rdx) = 0;

    // CR0, CR2, CR3, CR4 and EFER now, valid inside on_io and after run().
    virtual paging_state paging_registers() = 0;

    // The control registers and what is known of the last exception, one line
    // for a crash report: "cr0=... cr2=... cr3=... cr4=... efer=... ...".
    virtual std::string control_registers_line() = 0;

    // The host wrote guest RAM in [address, address + length): back ends that cache
    // translated guest code drop what they hold for that range.
    virtual void guest_memory_written(uint64_t address, uint64_t length) = 0;

    // Delivers `vector` through the guest's IDT, as the CPU delivers an exception
    // (with `error_code` when the vector has one) or an external interrupt
    // (`external`, which the caller raises only while the guest has IF set). Valid
    // inside on_io. KVM (KVM_SET_VCPU_EVENTS, KVM_INTERRUPT) delivers it before the
    // guest's next instruction; the software engine (soft_delivery.cpp) at once
    // outside a run, and from inside one at the guest's next HLT, the first point
    // where it knows RIP. This is the one delivery path: exceptions on the
    // software engine and, later, event interrupts use it.
    virtual void inject_vector(uint8_t vector, bool external, uint32_t error_code = 0) = 0;

    // Makes run() reach an event point of kind `woken` soon, from any thread; a
    // guest in HLT wakes up too. Idempotent until that event point is reached.
    virtual void wake() = 0;

    // While `wanted`, run() reaches an event point of kind `interrupt_window` as
    // soon as the guest can take an external interrupt. vCPU thread only.
    virtual void request_interrupt_window(bool wanted) = 0;

    // Ends run() as soon as possible; callable from any thread. A back end blocked
    // in a system call also needs the vCPU thread kicked (stop::kick_vcpu), which
    // the watchdog does after calling this.
    virtual void request_stop() = 0;

    virtual accelerator_stats stats() const = 0;

    // Deliberate deviations, set only by hbvm --inject-fault (core/fault_injection).
    struct deviations {
        bool interrupt_shadow_ignored = false;      // external interrupts come inside the shadow of STI and MOV SS
        bool event_error_code_without_ext = false;  // an external interrupt the IDT cannot deliver faults without EXT
    };
    deviations deviate;
};

}  // namespace hbvm

#endif
