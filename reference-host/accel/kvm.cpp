#include "accel/kvm.hpp"
#include "core/stop.hpp"
#include "core/text.hpp"

#include "core/error.hpp"
#include "core/multiboot_loader.hpp"

#include <hyperbios/abi.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sstream>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hbvm {

namespace {

constexpr const char* device = "/dev/kvm";
// Intel's KVM needs, for the real-mode and protected-mode-without-paging parts of
// a guest (unrestricted guests aside), three pages for a TSS and one for an
// identity page table, in guest-physical memory that is not RAM: KVM writes them
// there itself. Both lie in the hole below 4 GiB (ram_layout: from 3 GiB, never
// RAM whatever --mem is), at KVM's own default addresses, the identity-map page
// right below the TSS (QEMU puts them in its hole too, at 0xFEFFC000). AMD's KVM
// uses neither.
constexpr uint64_t tss_address = 0xFFFBD000;
constexpr uint64_t identity_map_address = 0xFFFBC000;
static_assert(identity_map_address >= ram_layout::hole_start && tss_address + 3 * 0x1000 <= ram_layout::high_start);


// <linux/kvm.h> declares kvm_cpuid2's entries with __DECLARE_FLEX_ARRAY, whose
// empty struct takes one byte in C++: there the entries sit at offset 12 instead
// of C's 8 and the ioctl numbers built from the struct's size are wrong. hbvm
// lays the table out as the kernel (C) does.
struct cpuid2_header {
    uint32_t nent;
    uint32_t padding;
};
static_assert(sizeof(cpuid2_header) == 8);
constexpr unsigned long ioctl_get_supported_cpuid = _IOWR(KVMIO, 0x05, cpuid2_header);
constexpr unsigned long ioctl_set_cpuid2 = _IOW(KVMIO, 0x90, cpuid2_header);
static_assert(ioctl_get_supported_cpuid == 0xC008AE05 && ioctl_set_cpuid2 == 0x4008AE90);
// kvm_msrs has the same flexible array, and the same problem.
struct msrs_header {
    uint32_t nmsrs;
    uint32_t padding;
};
constexpr unsigned long ioctl_set_msrs = _IOW(KVMIO, 0x89, msrs_header);
static_assert(ioctl_set_msrs == 0x4008AE89);

class cpuid_table {
public:
    explicit cpuid_table(size_t capacity)
        : words_((sizeof(cpuid2_header) + capacity * sizeof(kvm_cpuid_entry2) + 7) / 8, 0)
    {
        header()->nent = uint32_t(capacity);
    }
    cpuid2_header* header() { return reinterpret_cast<cpuid2_header*>(words_.data()); }
    kvm_cpuid_entry2* entries() { return reinterpret_cast<kvm_cpuid_entry2*>(header() + 1); }

private:
    std::vector<uint64_t> words_;
};

[[noreturn]] void fail(const std::string& what) { throw error(exit_status::host_failure, "KVM: " + what); }

kvm_segment flat_segment(uint16_t selector, uint8_t type)
{
    kvm_segment s{};
    s.base = 0;
    s.limit = 0xFFFFFFFF;
    s.selector = selector;
    s.type = type;
    s.present = 1;
    s.dpl = 0;
    s.db = 1;
    s.s = 1;
    s.l = 0;
    s.g = 1;
    return s;
}

const char* exit_name(uint32_t reason)
{
    switch (reason) {
    case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
    case KVM_EXIT_DEBUG: return "KVM_EXIT_DEBUG";
    case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_SYSTEM_EVENT: return "KVM_EXIT_SYSTEM_EVENT";
    default: return "an exit reason hbvm does not handle";
    }
}

}  // namespace

std::string kvm_accelerator::unusable_reason()
{
    struct stat st {};
    if (stat(device, &st) != 0)
        return std::string(device) +
               " does not exist (no KVM here: load kvm_intel or kvm_amd, or enable virtualization in the firmware)";
    const int fd = open(device, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EACCES || errno == EPERM)
            return std::string("no permission to open ") + device +
                   ": add yourself to the 'kvm' group (sudo usermod -aG kvm $USER) and log in again";
        return std::string("cannot open ") + device + ": " + std::strerror(errno);
    }
    std::string why;
    if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
        why = std::string(device) + " speaks an unknown KVM API version";
    else if (!(ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS))
        why = "this kernel's KVM lacks KVM_CAP_SYNC_REGS (Linux 4.17 or later needed)";
    else if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0)
        why = "this kernel's KVM lacks KVM_CAP_IMMEDIATE_EXIT (Linux 4.11 or later needed)";
    close(fd);
    return why;
}

int kvm_accelerator::counted_ioctl(int fd, unsigned long request, void* arg)
{
    ++ioctls_;
    return ioctl(fd, request, arg);
}

int kvm_accelerator::checked_ioctl(int fd, unsigned long request, void* arg, const char* what)
{
    const int r = ioctl(fd, request, arg);
    if (r < 0)
        fail(std::string(what) + " failed: " + std::strerror(errno));
    return r;
}

kvm_accelerator::kvm_accelerator(guest_memory& memory) : memory_(memory)
{
    if (const std::string why = unusable_reason(); !why.empty())
        throw error(exit_status::host_failure, "--accel kvm: " + why);
    kvm_fd_ = open(device, O_RDWR | O_CLOEXEC);
    if (kvm_fd_ < 0)
        fail(std::string("cannot open ") + device + ": " + std::strerror(errno));
    vm_fd_ = checked_ioctl(kvm_fd_, KVM_CREATE_VM, nullptr, "KVM_CREATE_VM");
    if (ioctl(kvm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)  // needed on Intel, harmless elsewhere
        checked_ioctl(vm_fd_, KVM_SET_TSS_ADDR, reinterpret_cast<void*>(tss_address), "KVM_SET_TSS_ADDR");
    if (ioctl(kvm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {  // before the vCPU exists
        // Said rather than left to KVM's default, which is the same address; a KVM
        // that refuses it keeps that default, so a refusal is no failure.
        uint64_t address = identity_map_address;
        (void)ioctl(vm_fd_, KVM_SET_IDENTITY_MAP_ADDR, &address);
    }

    // One memory slot per range of RAM: below the hole, and from 4 GiB.
    uint32_t slot = 0;
    for (const ram_range& r : memory_.ranges()) {
        kvm_userspace_memory_region region{};
        region.slot = slot++;
        region.guest_phys_addr = r.base;
        region.memory_size = r.length;
        region.userspace_addr = reinterpret_cast<uint64_t>(r.host);
        checked_ioctl(vm_fd_, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
    }

    vcpu_fd_ = checked_ioctl(vm_fd_, KVM_CREATE_VCPU, nullptr, "KVM_CREATE_VCPU");
    run_size_ = size_t(checked_ioctl(kvm_fd_, KVM_GET_VCPU_MMAP_SIZE, nullptr, "KVM_GET_VCPU_MMAP_SIZE"));
    void* p = mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd_, 0);
    if (p == MAP_FAILED)
        fail(std::string("mapping kvm_run: ") + std::strerror(errno));
    run_ = static_cast<kvm_run*>(p);
    // KVM copies the general-purpose registers into kvm_run at every exit and back on
    // entry when marked dirty: a call needs no KVM_GET_REGS or KVM_SET_REGS.
    run_->kvm_valid_regs = KVM_SYNC_X86_REGS;
}

kvm_accelerator::~kvm_accelerator()
{
    if (run_)
        munmap(run_, run_size_);
    for (int fd : {vcpu_fd_, vm_fd_, kvm_fd_})
        if (fd >= 0)
            close(fd);
}

std::vector<cpuid_entry> kvm_accelerator::supported_cpuid()
{
    size_t capacity = 256;
    cpuid_table supported(capacity);
    while (ioctl(kvm_fd_, ioctl_get_supported_cpuid, supported.header()) != 0) {
        if (errno != E2BIG || capacity >= 4096)
            fail(std::string("KVM_GET_SUPPORTED_CPUID failed: ") + std::strerror(errno));
        capacity *= 2;
        supported = cpuid_table(capacity);
    }
    std::vector<cpuid_entry> list;
    for (uint32_t i = 0; i < supported.header()->nent; ++i) {
        const kvm_cpuid_entry2& e = supported.entries()[i];
        list.push_back({e.function, e.index, e.eax, e.ebx, e.ecx, e.edx,
                        (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0});
    }
    return list;
}

void kvm_accelerator::set_cpuid(const std::vector<cpuid_entry>& entries)
{
    // Exactly the guest's table: KVM answers every other leaf itself, by the rule
    // the software engine copies (answer_cpuid).
    cpuid_table table(entries.size());
    kvm_cpuid_entry2* out = table.entries();
    for (const cpuid_entry& c : entries) {
        kvm_cpuid_entry2 e{};
        e.function = c.leaf;
        e.index = c.subleaf;
        e.flags = c.subleaf_significant ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
        e.eax = c.eax;
        e.ebx = c.ebx;
        e.ecx = c.ecx;
        e.edx = c.edx;
        *out++ = e;
    }
    checked_ioctl(vcpu_fd_, ioctl_set_cpuid2, table.header(), "KVM_SET_CPUID2");
}

void kvm_accelerator::prepare_multiboot_entry(uint32_t entry, uint32_t info)
{
    // The entry GDT and IDT (boot_layout), so that the selectors below are real and
    // an exception before the kernel has its own IDT is reported.
    write_entry_tables(memory_);

    kvm_sregs sregs{};
    checked_ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
    sregs.cs = flat_segment(0x08, 0xB);  // execute/read, accessed
    for (kvm_segment* s : {&sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss})
        *s = flat_segment(0x10, 0x3);    // read/write, accessed
    sregs.gdt.base = boot_layout::entry_gdt;
    sregs.gdt.limit = entry_gdt_limit;
    sregs.idt.base = boot_layout::entry_idt;
    sregs.idt.limit = entry_idt_limit;
    sregs.cr0 = 0x11;     // PE, ET; paging off
    sregs.cr3 = 0;
    sregs.cr4 = 0;
    sregs.efer = 0;
    checked_ioctl(vcpu_fd_, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");

    // No local APIC, as on the software engine: with the enable bit of
    // IA32_APIC_BASE clear, KVM also clears CPUID.1:EDX.APIC, which it otherwise
    // sets on its own.
    // (kvm_msrs with one entry, laid out by hand: its flexible array cannot be
    // followed by a member in C++, as with kvm_cpuid2 above.)
    struct {
        uint32_t nmsrs, pad;
        uint32_t index, reserved;
        uint64_t data;
    } apic_base{1, 0, 0x1B, 0, 0xFEE00000};  // IA32_APIC_BASE: the default base, enable bit (11) clear
    static_assert(sizeof(apic_base) == 8 + sizeof(kvm_msr_entry));  // the C header, then one entry
    if (ioctl(vcpu_fd_, ioctl_set_msrs, &apic_base) != 1)
        fail(std::string("KVM_SET_MSRS (IA32_APIC_BASE) failed: ") + std::strerror(errno));

    kvm_regs regs{};
    regs.rflags = 0x2;
    regs.rip = entry;
    regs.rax = 0x2BADB002;
    regs.rbx = info;
    regs.rsp = boot_layout::entry_stack_top;
    checked_ioctl(vcpu_fd_, KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

vm_exit kvm_accelerator::run(exit_handler& handler)
{
    // What the core answered at an event point, as the end of the run if it is one.
    auto ending = [](const event_reply& reply) -> std::optional<vm_exit> {
        switch (reply.what) {
        case event_reply::kind::resume: return std::nullopt;
        case event_reply::kind::halted: return vm_exit{vm_exit::kind::halted, 0, 0, reply.detail};
        case event_reply::kind::stopped: return vm_exit{vm_exit::kind::stopped, 0, 0, "stop requested"};
        }
        return std::nullopt;
    };
    // The kick's signal handler sets immediate_exit (stop::set_kick_flag): a wake
    // that comes just before KVM_RUN starts makes it return at once.
    stop::set_kick_flag(&run_->immediate_exit);
    struct forget_flag {
        ~forget_flag() { stop::set_kick_flag(nullptr); }
    } forget;
    for (;;) {
        if (stop_requested_)
            return {vm_exit::kind::stopped, 0, 0, "stop requested"};
        run_->immediate_exit = 0;
        if (wake_.exchange(false)) {
            if (auto end = ending(handler.on_event_point(event_point::woken, can_interrupt())))
                return *end;
            continue;
        }
        if (counted_ioctl(vcpu_fd_, KVM_RUN, nullptr) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;  // a kick (core/stop.hpp): a stop or a wake, or a stray signal
            return {vm_exit::kind::internal_error, 0, 0, std::string("KVM_RUN failed: ") + std::strerror(errno)};
        }
        ++exits_;
        if (stepping_) {
            // The step out of an interrupt shadow ended (KVM_EXIT_DEBUG), or the
            // instruction exited on its own (an OUT, a HLT): either way it ran.
            stop_stepping();
            if (run_->exit_reason == KVM_EXIT_DEBUG) {
                if (auto end = ending(handler.on_event_point(event_point::interrupt_window, can_interrupt())))
                    return *end;
                continue;
            }
        }
        switch (run_->exit_reason) {
        case KVM_EXIT_IO: {
            // One exit may carry several accesses (string I/O with a REP prefix). Each
            // element goes to the port in DX as it is then, as on the software engine,
            // which re-reads DX per element: a call served by an earlier element has
            // replaced RDX (spec 2.2, string instructions on the gate port).
            auto* data = reinterpret_cast<uint8_t*>(run_) + run_->io.data_offset;
            for (uint32_t i = 0; i < run_->io.count; ++i, data += run_->io.size) {
                const uint16_t port = i == 0 ? run_->io.port : uint16_t(run_->s.regs.regs.rdx);
                io_access access{run_->io.direction == KVM_EXIT_IO_OUT, port, run_->io.size, 0};
                if (access.is_write)
                    std::memcpy(&access.value, data, run_->io.size);
                const io_reply reply = handler.on_io(access);
                if (!access.is_write)
                    std::memcpy(data, &reply.value, run_->io.size);
                if (reply.stop)
                    return {vm_exit::kind::stopped, 0, 0, "stopped by the exit handler"};
            }
            break;
        }
        case KVM_EXIT_HLT:
            // Without an in-kernel interrupt controller KVM hands every HLT to user
            // space, RIP past it, and the vCPU stays runnable: the core sleeps
            // until an event, or ends the run.
            if (auto end = ending(handler.on_event_point(event_point::halted, can_interrupt())))
                return *end;
            break;
        case KVM_EXIT_IRQ_WINDOW_OPEN:
            if (auto end = ending(handler.on_event_point(event_point::interrupt_window, can_interrupt())))
                return *end;
            break;
        case KVM_EXIT_MMIO:
            // Guest RAM is all the memory slots there are, so an MMIO exit is an access
            // outside it: past its end, or in the hole below 4 GiB.
            return {vm_exit::kind::memory_fault, 0, run_->mmio.phys_addr,
                    std::string(run_->mmio.is_write ? "write" : "read") + " of " + std::to_string(run_->mmio.len) +
                        " bytes at " + hex(run_->mmio.phys_addr) + ", outside guest RAM (" +
                        memory_.describe() + ")"};
        case KVM_EXIT_SHUTDOWN:
            return {vm_exit::kind::triple_fault, 0, 0, ""};
        case KVM_EXIT_INTR:
            break;  // a signal; the loop checks for a stop request
        case KVM_EXIT_SET_TPR:
            // The guest wrote CR8. Without an in-kernel local APIC KVM reports it to
            // user space, which has no interrupt controller to tell: the value stays
            // in kvm_run.cr8, which KVM loads again on entry, so the guest reads back
            // what it wrote (as on the software engine) and runs on.
            break;
        case KVM_EXIT_FAIL_ENTRY:
            return {vm_exit::kind::internal_error, 0, 0,
                    "VM entry failed (hardware reason " + hex(run_->fail_entry.hardware_entry_failure_reason) + ")"};
        case KVM_EXIT_INTERNAL_ERROR:
            return {vm_exit::kind::internal_error, 0, 0,
                    "KVM internal error, suberror " + std::to_string(run_->internal.suberror) +
                        (run_->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                             ? " (KVM could not emulate an instruction)"
                             : "")};
        default:
            return {vm_exit::kind::internal_error, 0, 0,
                    "unexpected exit " + std::to_string(run_->exit_reason) + " (" + exit_name(run_->exit_reason) +
                        ")"};
        }
    }
}

vcpu_registers kvm_accelerator::registers()
{
    const kvm_regs& r = run_->s.regs.regs;
    return {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8,  r.r9,
            r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags};
}

void kvm_accelerator::set_registers(const vcpu_registers& v)
{
    // RIP and RFLAGS keep KVM's values: it completes the I/O instruction on entry.
    kvm_regs& r = run_->s.regs.regs;
    r.rax = v.rax, r.rbx = v.rbx, r.rcx = v.rcx, r.rdx = v.rdx;
    r.rsi = v.rsi, r.rdi = v.rdi, r.rbp = v.rbp, r.rsp = v.rsp;
    r.r8 = v.r8, r.r9 = v.r9, r.r10 = v.r10, r.r11 = v.r11;
    r.r12 = v.r12, r.r13 = v.r13, r.r14 = v.r14, r.r15 = v.r15;
    run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

call_registers kvm_accelerator::read_call_registers()
{
    const kvm_regs& r = run_->s.regs.regs;
    return {r.rax, r.rdi, r.rsi, r.rcx, r.r8, r.r9};
}

void kvm_accelerator::write_call_result(uint64_t rax, uint64_t rdx)
{
    run_->s.regs.regs.rax = rax;
    run_->s.regs.regs.rdx = rdx;
    run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

paging_state kvm_accelerator::paging_registers()
{
    kvm_sregs sregs{};
    if (ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs) != 0)
        fail(std::string("KVM_GET_SREGS failed: ") + std::strerror(errno));
    return {sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer, sregs.cr2};
}

std::string kvm_accelerator::control_registers_line()
{
    kvm_sregs sregs{};
    if (ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs) != 0)
        return std::string("  (KVM_GET_SREGS failed: ") + std::strerror(errno) + ")";
    char line[256];
    std::snprintf(line, sizeof line,
                  "  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx\n"
                  "  last exception: KVM does not report it (the guest's own handler sees its error code)",
                  (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr2, (unsigned long long)sregs.cr3,
                  (unsigned long long)sregs.cr4, (unsigned long long)sregs.efer);
    return line;
}

// The CPU's own check of an external interrupt's IDT entry, made by hbvm before
// it injects one: an entry past the IDT limit, of a type that is no gate, or not
// present raises #GP or #NP with error code vector*8+3 (the index, IDT and EXT:
// an event from outside the program; HB-EVT-018). KVMs that emulate the delivery
// leave EXT out (vector*8+2) -- the one that emulates guest instructions
// (kvm_pvm), and QEMU's SVM under the nested lane, whose delivery is QEMU's and
// never sets EXT -- so hbvm raises the fault itself, as the hardware under a
// real KVM would. An entry it cannot read (not mapped) is left to KVM.
std::optional<kvm_accelerator::idt_fault> kvm_accelerator::idt_refuses(uint8_t vector)
{
    kvm_sregs sregs{};
    checked_ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
    if (!(sregs.cr0 & 1))
        return std::nullopt;  // real mode: an interrupt vector table, not an IDT
    const bool long_mode = sregs.efer & (1u << 10);
    const uint64_t gate_size = long_mode ? 16 : 8;
    const uint32_t error_code = vector * 8 + (deviate.event_error_code_without_ext ? 2 : 3);
    if (uint64_t(vector) * gate_size + gate_size - 1 > sregs.idt.limit)
        return idt_fault{13, error_code};
    const paging_state st{sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer, sregs.cr2};
    const uint64_t linear = (sregs.idt.base + vector * gate_size + 5) & (long_mode ? ~uint64_t(0) : 0xFFFFFFFFu);
    const page_walk_result w = walk_page_tables(memory_, st, linear);
    const auto type_byte = w.present ? memory_.read(guest_address{w.physical}, 1) : std::nullopt;
    if (!type_byte)
        return std::nullopt;
    const unsigned type = unsigned((*type_byte)[0]);
    const bool gate = long_mode ? (type & 0xE) == 0xE : ((type & 0x6) == 0x6 || (type & 0x1F) == 0x5);
    if (!gate || (type & 0x10))
        return idt_fault{13, error_code};
    if (!(type & 0x80))
        return idt_fault{11, error_code};
    return std::nullopt;
}

void kvm_accelerator::inject_vector(uint8_t vector, bool external, uint32_t error_code)
{
    if (external) {
        if (const auto refused = idt_refuses(vector)) {
            inject_vector(refused->vector, false, refused->error_code);
            return;
        }
        // Without an in-kernel interrupt controller, KVM_INTERRUPT queues the vector
        // for the next entry (the caller checked IF).
        kvm_interrupt irq{vector};
        checked_ioctl(vcpu_fd_, KVM_INTERRUPT, &irq, "KVM_INTERRUPT");
        return;
    }
    kvm_vcpu_events events{};
    checked_ioctl(vcpu_fd_, KVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS");
    events.exception.injected = 1;
    events.exception.nr = vector;
    events.exception.has_error_code = uint8_t(vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 ||
                                              vector == 21 || vector == 29 || vector == 30);
    events.exception.error_code = error_code;
    events.flags = 0;
    checked_ioctl(vcpu_fd_, KVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS");
}

// Whether an external interrupt may come now: IF set and KVM ready to inject.
// KVM keeps the one-instruction shadow of STI and MOV SS itself on hardware
// (ready_for_interrupt_injection is 0 inside it), but under QEMU's emulation of
// SVM -- the nested lane -- it sees no shadow after a MOV SS, and injects right
// after it (HB-EVT-017); told of the shadow, that engine ignores it too. So
// hbvm also looks at the instruction that ended at RIP: when it is STI or MOV
// SS, hbvm single-steps the next instruction (KVM_GUESTDBG_SINGLESTEP) and says
// "not now"; the interrupt comes at the end of the step. Bytes that only look
// like such an instruction hold the interrupt off for one instruction, which
// the architecture allows.
bool kvm_accelerator::can_interrupt()
{
    if (!run_->ready_for_interrupt_injection || !run_->if_flag || stepping_)
        return false;
    if (!shadow_before_rip())
        return true;
    kvm_guest_debug debug{};
    debug.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
    checked_ioctl(vcpu_fd_, KVM_SET_GUEST_DEBUG, &debug, "KVM_SET_GUEST_DEBUG");
    stepping_ = true;
    run_->request_interrupt_window = 0;  // KVM would open it at once, inside the shadow
    return false;
}

void kvm_accelerator::stop_stepping()
{
    if (!stepping_)
        return;
    kvm_guest_debug debug{};
    checked_ioctl(vcpu_fd_, KVM_SET_GUEST_DEBUG, &debug, "KVM_SET_GUEST_DEBUG");
    stepping_ = false;
    // The step began because an interrupt was due: ask for the window again, in
    // case the exit that ended the step (an OUT, say) does not look at events.
    run_->request_interrupt_window = 1;
}

namespace {

// Whether p[0, n) is exactly one MOV SS (8E /2, any operand form, with
// prefixes) in 32- or 64-bit code.
bool is_mov_ss(const uint8_t* p, size_t n, bool long_mode)
{
    size_t i = 0;
    while (i < n && (p[i] == 0x26 || p[i] == 0x2E || p[i] == 0x36 || p[i] == 0x3E || p[i] == 0x64 || p[i] == 0x65 ||
                     p[i] == 0x66 || p[i] == 0x67))
        ++i;
    if (long_mode && i < n && (p[i] & 0xF0) == 0x40)
        ++i;  // REX, the last prefix
    if (i + 2 > n || p[i] != 0x8E || ((p[i + 1] >> 3) & 7) != 2)
        return false;
    const unsigned mod = p[i + 1] >> 6, rm = p[i + 1] & 7;
    size_t length = i + 2;
    if (mod != 3) {
        const bool sib = rm == 4;
        if (sib && length >= n)
            return false;
        const unsigned base = sib ? p[length] & 7 : rm;
        length += sib;
        length += mod == 1 ? 1 : mod == 2 ? 4 : (base == 5 ? 4 : 0);
    }
    return length == n;
}

}  // namespace

// Whether the instruction that ends at RIP starts an interrupt shadow: STI,
// POP SS (outside 64-bit mode) or MOV SS, judged by the bytes before RIP.
bool kvm_accelerator::shadow_before_rip()
{
    kvm_sregs sregs{};
    checked_ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
    const bool long_mode = (sregs.efer & (1u << 10)) && sregs.cs.l;
    const uint64_t linear_rip = long_mode ? run_->s.regs.regs.rip : uint32_t(sregs.cs.base + run_->s.regs.regs.rip);
    constexpr size_t most = 15;  // the longest x86 instruction
    if (linear_rip < most)
        return false;
    uint8_t code[most];
    const paging_state st{sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer, sregs.cr2};
    for (size_t i = 0; i < most; ++i) {
        const page_walk_result w = walk_page_tables(memory_, st, linear_rip - most + i);
        const auto byte = w.present ? memory_.read(guest_address{w.physical}, 1) : std::nullopt;
        if (!byte)
            return false;
        code[i] = uint8_t((*byte)[0]);
    }
    if (code[most - 1] == 0xFB || (!long_mode && code[most - 1] == 0x17))
        return true;
    for (size_t length = 2; length <= most; ++length)
        if (is_mov_ss(code + most - length, length, long_mode))
            return true;
    return false;
}

void kvm_accelerator::wake()
{
    wake_ = true;
    stop::kick_vcpu();
}

void kvm_accelerator::request_interrupt_window(bool wanted)
{
    run_->request_interrupt_window = wanted && !stepping_ ? 1 : 0;  // a step ends in its own exit
}

void kvm_accelerator::request_stop()
{
    // The caller then kicks the vCPU thread (stop::kick_vcpu) to end a KVM_RUN in progress.
    stop_requested_ = true;
    run_->immediate_exit = 1;  // if KVM_RUN is about to start, it returns at once
}

}  // namespace hbvm
