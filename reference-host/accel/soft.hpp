// The software accelerator: Unicorn 2.1 (QEMU's TCG as a library). Runs anywhere,
// without /dev/kvm. It translates through the guest's page tables; exceptions go
// through the guest's IDT by the host's own delivery (soft_delivery.cpp). Limits
// that show to guests are listed in the README.
#ifndef HBVM_ACCEL_SOFT_HPP
#define HBVM_ACCEL_SOFT_HPP

#include "accel/accelerator.hpp"
#include "accel/page_walk.hpp"
#include "core/guest_memory.hpp"

#include <array>
#include <atomic>
#include <optional>
#include <string>
#include <unicorn/unicorn.h>

namespace hbvm {

class soft_accelerator final : public accelerator {
public:
    explicit soft_accelerator(guest_memory& memory);
    ~soft_accelerator() override;

    const char* name() const override { return name_.c_str(); }
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
    void guest_memory_written(uint64_t address, uint64_t length) override;
    void wake() override;
    void request_interrupt_window(bool wanted) override;
    void request_stop() override;
    accelerator_stats stats() const override { return {exits_, 0}; }

private:
    static void on_out(uc_engine* uc, uint32_t port, int size, uint32_t value, void* self);
    static uint32_t on_in(uc_engine* uc, uint32_t port, int size, void* self);
    static int on_cpuid(uc_engine* uc, void* self);
    static void on_interrupt(uc_engine* uc, uint32_t vector, void* self);
    static bool on_unmapped(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value, void* self);

    // A fault raised while the host delivers an exception (soft_delivery.cpp).
    struct fault {
        uint32_t vector;
        uint32_t error_code;
        uint64_t address;    // CR2, for a page fault
        std::string detail;  // why, when it is not a page fault
    };
    paging_state paging();
    std::optional<fault> access_linear(uint64_t linear, void* data, size_t size, bool write, unsigned cpl);
    // What is being delivered: an exception (with its error code, where the vector
    // has one), INT n / INT3 / INTO (the gate's DPL is checked; RIP is past the
    // instruction), or an external interrupt (neither).
    enum class delivery { exception, software_interrupt, external_interrupt };
    uint32_t idt_error_code(uint32_t vector, delivery kind) const;
    std::optional<fault> try_deliver(uint32_t vector, uint32_t error_code, delivery kind);
    std::optional<fault> try_deliver_protected(uint32_t vector, uint32_t error_code, delivery kind);
    void deliver_exception(uint32_t vector, uint32_t error_code, delivery kind);
    void find_exception_in_flight();
    void clear_exception_in_flight();
    void find_interrupt_shadow();
    bool in_interrupt_shadow();
    static uint64_t scratch_code_address();
    void map_host_identity_tables();

    bool interrupts_enabled();
    bool can_interrupt();
    bool at_halt();
    std::optional<std::array<uint8_t, 2>> code_around_rip();
    std::optional<std::array<uint8_t, 2>> code_before_rip();
    std::optional<vm_exit> event_point_reply(const event_reply& reply);

    void check(uc_err err, const char* what);
    void stop_with(vm_exit exit);
    bool stopping() const;
    vm_exit exit_after_return(uc_err err);

    guest_memory& memory_;
    uc_engine* uc_ = nullptr;
    std::string name_;
    std::vector<cpuid_entry> cpuid_;
    uint64_t start_ = 0;            // where run() begins
    exit_handler* handler_ = nullptr;
    std::optional<vm_exit> exit_;   // set by a hook that ends the run
    std::atomic<bool> stop_requested_{false};
    bool running_ = false;        // inside uc_emu_start (hooks run)
    struct injection {
        uint32_t vector, error_code;
        delivery kind;
    };
    std::vector<injection> pending_injections_;  // inject_vector from a hook, delivered by run()
    uint64_t exits_ = 0;
    uint32_t last_vector_ = 0;      // of the last exception delivered, for the crash dump
    uint64_t last_error_code_ = 0;
    uc_context* context_ = nullptr;                     // for clear_exception_in_flight
    std::optional<size_t> exception_in_flight_offset_;  // in a saved context; unknown: not cleared
    std::optional<size_t> interrupt_shadow_offset_;     // QEMU's hflags in a saved context (find_interrupt_shadow)
    bool discovering_ = false;
    uint64_t* identity_tables_ = nullptr;  // map_host_identity_tables
    size_t identity_tables_size_ = 0;
    uint64_t identity_pml4_ = 0, identity_pae_pdpt_ = 0, identity_pd32_ = 0;  // 0: not mapped
    uint64_t scratch_resume_ = 0;

    // Event points (accelerator.hpp). on_block, at the start of every
    // translation block, stops the run for a wake, or for an interrupt window
    // once RFLAGS.IF is set: the only stop after which Unicorn resumes exactly.
    static void on_block(uc_engine* uc, uint64_t address, uint32_t size, void* self);
    std::atomic<bool> wake_{false};          // wake() happened; run() has not reached its event point yet
    std::atomic<bool> stop_at_block_{false};  // on_block stops at the next block
    std::atomic<bool> window_wanted_{false};
    uint64_t kicks_ = 0;  // stops on_block made, to tell them from a HLT
};

}  // namespace hbvm

#endif
