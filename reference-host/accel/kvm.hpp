// The KVM accelerator: the guest runs on the host CPU through /dev/kvm. A
// HyperBIOS call costs one VM exit and one ioctl (KVM_RUN): the registers travel
// in kvm_run's synchronised-register area (KVM_CAP_SYNC_REGS).
#ifndef HBVM_ACCEL_KVM_HPP
#define HBVM_ACCEL_KVM_HPP

#include "accel/accelerator.hpp"
#include "core/guest_memory.hpp"

#include <atomic>
#include <optional>
#include <string>

struct kvm_run;

namespace hbvm {

class kvm_accelerator final : public accelerator {
public:
    // Empty when /dev/kvm can be used here; otherwise why not, and what to do.
    static std::string unusable_reason();

    explicit kvm_accelerator(guest_memory& memory);
    ~kvm_accelerator() override;

    const char* name() const override { return "kvm"; }
    void set_cpuid(const std::vector<cpuid_entry>& entries) override;
    std::vector<cpuid_entry> supported_cpuid() override;
    void prepare_multiboot_entry(uint32_t entry, uint32_t info) override;
    vm_exit run(exit_handler& handler) override;
    vcpu_registers registers() override;
    void set_registers(const vcpu_registers& regs) override;
    call_registers read_call_registers() override;
    void write_call_result(uint64_t rax, uint64_t rdx) override;
    std::string control_registers_line() override;
    paging_state paging_registers() override;
    void inject_vector(uint8_t vector, bool external, uint32_t error_code = 0) override;
    void guest_memory_written(uint64_t, uint64_t) override {}  // the CPU sees memory directly
    void wake() override;
    void request_interrupt_window(bool wanted) override;
    void request_stop() override;
    accelerator_stats stats() const override { return {exits_, ioctls_}; }

private:
    int checked_ioctl(int fd, unsigned long request, void* arg, const char* what);
    int counted_ioctl(int fd, unsigned long request, void* arg);

    guest_memory& memory_;
    int kvm_fd_ = -1, vm_fd_ = -1, vcpu_fd_ = -1;
    kvm_run* run_ = nullptr;
    size_t run_size_ = 0;
    bool can_interrupt();
    bool shadow_before_rip();
    void stop_stepping();
    bool stepping_ = false;  // single-stepping out of an interrupt shadow (can_interrupt)
    struct idt_fault {
        uint8_t vector;
        uint32_t error_code;
    };
    std::optional<idt_fault> idt_refuses(uint8_t vector);

    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> wake_{false};
    uint64_t exits_ = 0, ioctls_ = 0;
};

}  // namespace hbvm

#endif
