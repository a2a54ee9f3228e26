#include "accel/soft.hpp"
#include "accel/page_walk.hpp"
#include "core/cpu_model.hpp"
#include "core/text.hpp"

#include "core/error.hpp"
#include "core/multiboot_loader.hpp"

#include <hyperbios/abi.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <utility>

extern "C" const unsigned char hbvm_soft_trampoline_start[];
extern "C" const unsigned char hbvm_soft_trampoline_end[];

namespace hbvm {

namespace {

// Boot scratch memory of this back end (inside boot_layout's accelerator area).
constexpr uint64_t trampoline_address = boot_layout::accelerator_scratch;  // code, one page
constexpr uint64_t boot_pml4 = 0x2000;  // identity map of the first 2 MiB for the trampoline
constexpr uint64_t boot_pdpt = 0x3000;
constexpr uint64_t boot_pd = 0x4000;
static_assert(boot_pd + 0x1000 <= boot_layout::accelerator_scratch_end);

constexpr int gpr_ids[] = {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RSI,
                           UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_RSP, UC_X86_REG_R8,  UC_X86_REG_R9,
                           UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14,
                           UC_X86_REG_R15, UC_X86_REG_RIP, UC_X86_REG_RFLAGS};
constexpr int gpr_count = 16;  // set_registers writes these; RIP and RFLAGS stay as they are
static_assert(sizeof(vcpu_registers) == sizeof(gpr_ids) / sizeof(gpr_ids[0]) * sizeof(uint64_t));


uint64_t reg(uc_engine* uc, int id)
{
    uint64_t v = 0;
    uc_reg_read(uc, id, &v);
    return v;
}

void set_reg(uc_engine* uc, int id, uint64_t v) { uc_reg_write(uc, id, &v); }

// Unicorn reserves a translation buffer for the code it translates: 1 GiB unless
// told otherwise, which fails under a modest `ulimit -v`. hbvm sizes it for the
// guest: a quarter of guest RAM, 32 to 256 MiB. A full buffer is flushed and
// refilled, so the size costs speed only for guests with very much code. When
// the reservation fails Unicorn prints a line of its own and calls exit(1) — the
// status a guest's shutdown(1) gives — so hbvm checks for the room first, and an
// exit handler turns an exit from inside Unicorn's start into an "hbvm:" line
// and status 74.
// Unicorn 2.0 (built only with HYPERBIOS_ALLOW_UNICORN_2_0, to measure it) cannot
// be told the size and keeps its 1 GiB.
#define HBVM_UNICORN_SIZES_BUFFER (UC_API_MAJOR > 2 || (UC_API_MAJOR == 2 && UC_API_MINOR >= 1))
uint64_t translator_buffer_size(uint64_t guest_ram)
{
#if HBVM_UNICORN_SIZES_BUFFER
    return std::clamp<uint64_t>(guest_ram / 4, 32ull << 20, 256ull << 20);
#else
    (void)guest_ram;
    return 1ull << 30;
#endif
}
constexpr uint64_t engine_overhead = 64ull << 20;  // the rest of Unicorn's start, measured below 64 MiB
std::atomic<bool> engine_starting{false};
std::atomic<uint64_t> engine_buffer_size{0};

std::string address_space_advice(uint64_t buffer)
{
    rlimit limit{};
    std::string current = "limited";
    if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        current = std::to_string(limit.rlim_cur >> 20) + " MiB";
    return "the software engine (Unicorn) needs about " + std::to_string((buffer + engine_overhead) >> 20) +
           " MiB of address space for its translation buffer and itself, beyond guest RAM, and the address-space "
           "limit is " + current + " (ulimit -v): raise it ('ulimit -v unlimited'), give the guest less RAM "
           "(--mem), or use --accel kvm";
}

void exit_inside_engine_start()
{
    if (!engine_starting)
        return;
    const std::string line =
        "hbvm: error: the software engine failed to start: " + address_space_advice(engine_buffer_size) + "\n";
    (void)!write(STDERR_FILENO, line.data(), line.size());
    _exit(exit_status::host_failure);
}

void check_address_space(uint64_t buffer)
{
    void* probe = mmap(nullptr, buffer + engine_overhead, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (probe == MAP_FAILED)
        throw error(exit_status::host_failure, address_space_advice(buffer));
    munmap(probe, buffer + engine_overhead);
}

}  // namespace

soft_accelerator::soft_accelerator(guest_memory& memory) : memory_(memory)
{
    static const bool guard_installed = std::atexit(exit_inside_engine_start) == 0;
    (void)guard_installed;
    const uint64_t buffer = translator_buffer_size(memory_.size());
    check_address_space(buffer);
    engine_buffer_size = buffer;
    struct starting {
        starting() { engine_starting = true; }
        ~starting() { engine_starting = false; }
    } during_start;
    check(uc_open(UC_ARCH_X86, UC_MODE_64, &uc_), "uc_open");
    // A CPU model whose features (as far as QEMU's translator implements them)
    // cover the guest CPU model of core/cpu_model: Haswell gives SSE4.2, AES,
    // PCLMULQDQ, MOVBE, POPCNT, BMI1/2, LZCNT; the CPUID hook shows the guest only
    // the documented set.
    check(uc_ctl_set_cpu_model(uc_, UC_CPU_X86_HASWELL), "choosing the CPU model");
#if HBVM_UNICORN_SIZES_BUFFER
    // Before anything makes Unicorn start its translator.
    check(uc_ctl_set_tcg_buffer_size(uc_, uint32_t(buffer)), "sizing the translation buffer");
#endif
    unsigned major = 0, minor = 0;
    uc_version(&major, &minor);
    name_ = "soft (Unicorn " + std::to_string(major) + "." + std::to_string(minor) + ")";
    // One mapping per range of RAM: below the hole, and from 4 GiB (ram_layout).
    for (const ram_range& r : memory_.ranges())
        check(uc_mem_map_ptr(uc_, r.base, r.length, UC_PROT_ALL, r.host), "mapping guest RAM");
    map_host_identity_tables();


    uc_hook h;
    check(uc_hook_add(uc_, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&on_out), this, 1, 0, UC_X86_INS_OUT),
          "hooking OUT");
    check(uc_hook_add(uc_, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&on_in), this, 1, 0, UC_X86_INS_IN),
          "hooking IN");
    check(uc_hook_add(uc_, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&on_cpuid), this, 1, 0, UC_X86_INS_CPUID),
          "hooking CPUID");
    check(uc_hook_add(uc_, &h, UC_HOOK_INTR, reinterpret_cast<void*>(&on_interrupt), this, 1, 0),
          "hooking interrupts");
    // Without this hook Unicorn ends the run on an invalid instruction; with it,
    // #UD goes to UC_HOOK_INTR like every other exception.
    check(uc_hook_add(uc_, &h, UC_HOOK_INSN_INVALID, reinterpret_cast<void*>(+[](uc_engine*, void*) { return true; }),
                      this, 1, 0),
          "hooking invalid instructions");
    check(uc_hook_add(uc_, &h, UC_HOOK_MEM_UNMAPPED, reinterpret_cast<void*>(&on_unmapped), this, 1, 0),
          "hooking unmapped accesses");
    check(uc_hook_add(uc_, &h, UC_HOOK_BLOCK, reinterpret_cast<void*>(&on_block), this, 1, 0),
          "hooking translation blocks");
    find_exception_in_flight();
    find_interrupt_shadow();
}

soft_accelerator::~soft_accelerator()
{
    if (context_)
        uc_context_free(context_);
    if (uc_)
        uc_close(uc_);
    if (identity_tables_)
        munmap(identity_tables_, identity_tables_size_);
}

uint64_t soft_accelerator::scratch_code_address() { return trampoline_address; }

// Identity page tables for all of guest RAM, for each paging mode, in host
// memory that Unicorn sees outside guest RAM and the guest is never told of: for
// dropping translated code by physical address (guest_memory_written). Pages:
// the 64-bit PML4, its PDPT, one page directory per GiB up to the end of RAM
// (2 MiB pages, the first four shared by 64-bit and PAE paging), the PAE PDPT,
// and a 32-bit page directory of 4 MiB pages. They lie in the hole below 4 GiB
// (ram_layout), which is never RAM whatever --mem is, and below KVM's pages
// there (accel/kvm.cpp), so that one address plan holds for both engines.
namespace {
constexpr uint64_t identity_tables_base = 0xFFE00000;
constexpr uint64_t identity_tables_limit = 0xFFFBC000;  // KVM's identity-map page and TSS from here
constexpr uint64_t max_gigabytes = (ram_layout::high_start + ram_layout::max_size - ram_layout::hole_start) >> 30;
static_assert(identity_tables_base >= ram_layout::hole_start &&
              identity_tables_base + (4 + max_gigabytes) * 4096 <= identity_tables_limit);
}  // namespace

void soft_accelerator::map_host_identity_tables()
{
    constexpr uint64_t base = identity_tables_base;
    const uint64_t gigabytes = (memory_.end() + (1ull << 30) - 1) >> 30;
    identity_tables_size_ = (4 + gigabytes) * 4096;
    void* tables = mmap(nullptr, identity_tables_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (tables == MAP_FAILED)
        return;  // then a write to a page the guest maps elsewhere drops nothing: see guest_memory_written
    identity_tables_ = static_cast<uint64_t*>(tables);
    uint64_t* t = identity_tables_;
    const uint64_t pds = base + 0x2000, pae_pdpt = pds + gigabytes * 0x1000, pd32 = pae_pdpt + 0x1000;
    t[0] = (base + 0x1000) | 3;
    for (uint64_t g = 0; g < gigabytes; ++g) {
        t[512 + g] = (pds + g * 0x1000) | 3;
        if (g < 4)  // PAE paging translates 4 GiB of linear addresses
            t[(pae_pdpt - base) / 8 + g] = (pds + g * 0x1000) | 1;  // PAE PDPTEs: present, nothing else
        for (uint64_t i = 0; i < 512; ++i)
            t[(pds - base) / 8 + g * 512 + i] = ((g << 30) + (i << 21)) | 0x83;
    }
    auto* pd32_entries = reinterpret_cast<uint32_t*>(reinterpret_cast<char*>(t) + (pd32 - base));
    for (uint32_t i = 0; i < 1024; ++i)
        pd32_entries[i] = (i << 22) | 0x83;  // 4 MiB pages (CR4.PSE)
    if (uc_mem_map_ptr(uc_, base, identity_tables_size_, UC_PROT_READ, identity_tables_) == UC_ERR_OK) {
        identity_pml4_ = base;
        identity_pae_pdpt_ = pae_pdpt;
        identity_pd32_ = pd32;
    }
}

void soft_accelerator::check(uc_err err, const char* what)
{
    if (err != UC_ERR_OK)
        throw error(exit_status::host_failure, std::string("software accelerator: ") + what + " failed: " +
                                                   uc_strerror(err));
}

void soft_accelerator::set_cpuid(const std::vector<cpuid_entry>& entries) { cpuid_ = entries; }

std::vector<cpuid_entry> soft_accelerator::supported_cpuid() { return {}; }

void soft_accelerator::prepare_multiboot_entry(uint32_t entry, uint32_t info)
{
    const size_t length = size_t(hbvm_soft_trampoline_end - hbvm_soft_trampoline_start);
    memory_.copy_in(guest_address{trampoline_address},
                    std::as_bytes(std::span(hbvm_soft_trampoline_start, length)));
    const uint64_t pml4e = boot_pdpt | 3, pdpte = boot_pd | 3, pde = 0x83;  // one 2 MiB page at 0
    memory_.copy_in(guest_address{boot_pml4}, std::as_bytes(std::span(&pml4e, 1)));
    memory_.copy_in(guest_address{boot_pdpt}, std::as_bytes(std::span(&pdpte, 1)));
    memory_.copy_in(guest_address{boot_pd}, std::as_bytes(std::span(&pde, 1)));
    set_reg(uc_, UC_X86_REG_RDI, entry);
    set_reg(uc_, UC_X86_REG_RSI, info);
    set_reg(uc_, UC_X86_REG_RDX, boot_pml4);
    write_entry_tables(memory_);
    set_reg(uc_, UC_X86_REG_RCX, boot_layout::entry_gdt);
    set_reg(uc_, UC_X86_REG_R8, boot_layout::entry_idt);
    set_reg(uc_, UC_X86_REG_R9, boot_layout::entry_stack_top);
    set_reg(uc_, UC_X86_REG_RSP, trampoline_address + 0x1000);  // the far return needs a stack
    set_reg(uc_, UC_X86_REG_RFLAGS, 0x2);
    start_ = trampoline_address;
}

vm_exit soft_accelerator::run(exit_handler& handler)
{
    handler_ = &handler;
    exit_.reset();
    if (stop_requested_)
        return {vm_exit::kind::stopped, 0, 0, "stop requested"};
    // One emulation run: every guest exit is served inside the hooks, so
    // uc_emu_start returns only when the run ends, at a HLT, or when on_block
    // stopped it for an event point. A vector injected from a hook is delivered
    // at the next return (inject_vector).
    uc_err err = UC_ERR_OK;
    for (;;) {
        if (wake_.exchange(false)) {
            stop_at_block_ = false;
            if (auto end = event_point_reply(handler.on_event_point(event_point::woken, can_interrupt())))
                return *end;
            start_ = reg(uc_, UC_X86_REG_RIP);
        }
        if (window_wanted_ && can_interrupt()) {
            if (auto end = event_point_reply(handler.on_event_point(event_point::interrupt_window, true)))
                return *end;
            start_ = reg(uc_, UC_X86_REG_RIP);
        }
        const uint64_t kicks_before = kicks_;
        running_ = true;
        err = uc_emu_start(uc_, start_, 0, 0, 0);
        running_ = false;
        start_ = reg(uc_, UC_X86_REG_RIP);
        if (exit_ || stop_requested_ || err != UC_ERR_OK)
            break;
        if (!pending_injections_.empty()) {
            // RIP is exact here (past a HLT, or where on_block stopped).
            for (const injection& i : std::exchange(pending_injections_, {}))
                deliver_exception(i.vector, i.error_code, i.kind);
            if (exit_)
                break;  // a delivery ended in a triple fault
            start_ = reg(uc_, UC_X86_REG_RIP);
            continue;
        }
        // on_block stopped the run for an event point.
        if (kicks_ != kicks_before)
            continue;
        // Nothing else ends emulation without an error: a HLT, RIP past it.
        if (!at_halt())
            break;
        if (auto end = event_point_reply(handler.on_event_point(event_point::halted, interrupts_enabled())))
            return *end;
        start_ = reg(uc_, UC_X86_REG_RIP);
    }
    pending_injections_.clear();
    if (exit_)
        return *exit_;
    if (stop_requested_)
        return {vm_exit::kind::stopped, 0, 0, "stop requested"};
    return exit_after_return(err);
}

// The byte before RIP and the byte at it, read through the guest's page tables
// (RIP is a linear address: code segments are flat in both modes hbvm runs).
std::optional<std::array<uint8_t, 2>> soft_accelerator::code_around_rip()
{
    const uint64_t rip = reg(uc_, UC_X86_REG_RIP);
    std::array<uint8_t, 2> bytes{};
    if (rip == 0 || access_linear(rip - 1, bytes.data(), bytes.size(), false, 0))
        return std::nullopt;
    return bytes;
}

// The two bytes before RIP, likewise.
std::optional<std::array<uint8_t, 2>> soft_accelerator::code_before_rip()
{
    const uint64_t rip = reg(uc_, UC_X86_REG_RIP);
    std::array<uint8_t, 2> bytes{};
    if (rip < 2 || access_linear(rip - 2, bytes.data(), bytes.size(), false, 0))
        return std::nullopt;
    return bytes;
}

bool soft_accelerator::at_halt()
{
    const auto code = code_around_rip();
    return code && (*code)[0] == 0xF4;
}

bool soft_accelerator::interrupts_enabled() { return reg(uc_, UC_X86_REG_RFLAGS) & (1u << 9); }

// An STI that sets IF, and MOV SS or POP SS, hold external interrupts off until
// the next instruction has completed (spec 13.5, HB-EVT-017): `sti; hlt` cannot
// lose a wake-up, `mov ss, ax; mov rsp, ...` is never split. Here that next
// instruction has not run yet, so the core is told no; the interrupt comes at the
// next event point -- the window, which on_block does not open inside the
// shadow, or the HLT, which it wakes (its frame then points past the HLT).
bool soft_accelerator::can_interrupt()
{
    if (!interrupts_enabled())
        return false;
    if (deviate.interrupt_shadow_ignored) {
        // evt-shadow-ignored: the host before spec 0.5, which kept only `sti; hlt`
        // whole, by counting a HLT right after an STI as executed and woken.
        const auto code = code_around_rip();
        if (code && (*code)[0] == 0xFB && (*code)[1] == 0xF4)
            set_reg(uc_, UC_X86_REG_RIP, reg(uc_, UC_X86_REG_RIP) + 1);
        return true;
    }
    return !in_interrupt_shadow();
}

std::optional<vm_exit> soft_accelerator::event_point_reply(const event_reply& reply)
{
    if (exit_)
        return *exit_;  // a delivery at the event point ended in a triple fault
    switch (reply.what) {
    case event_reply::kind::resume: return std::nullopt;
    case event_reply::kind::halted: return vm_exit{vm_exit::kind::halted, 0, 0, reply.detail};
    case event_reply::kind::stopped: return vm_exit{vm_exit::kind::stopped, 0, 0, "stop requested"};
    }
    return std::nullopt;
}

// At the start of every translation block: the one place where a stop leaves
// RIP exact. Unicorn 2.1 stopped from another thread (uc_emu_stop) can leave RIP
// at a point the guest already passed, and the resumed guest runs instructions
// again -- a HyperBIOS call served twice, a RET that pops twice. Stopped from
// here, before the block runs, it resumes at the block's start.
void soft_accelerator::on_block(uc_engine* uc, uint64_t, uint32_t, void* self)
{
    auto* s = static_cast<soft_accelerator*>(self);
    const bool woken = s->stop_at_block_.load(std::memory_order_relaxed);
    if (!woken && !(s->window_wanted_.load(std::memory_order_relaxed) && s->interrupts_enabled()))
        return;
    // Inside the shadow of STI or MOV SS the window is not open yet; QEMU ends
    // this block after its one instruction, so the next block opens it.
    if (!woken && s->in_interrupt_shadow())
        return;
    s->stop_at_block_ = false;
    ++s->kicks_;
    uc_emu_stop(uc);
}

void soft_accelerator::wake()
{
    wake_ = true;
    stop_at_block_ = true;
}

void soft_accelerator::request_interrupt_window(bool wanted) { window_wanted_ = wanted; }

vm_exit soft_accelerator::exit_after_return(uc_err err)
{
    const uint64_t rip = reg(uc_, UC_X86_REG_RIP);
    switch (err) {
    case UC_ERR_OK:
        return {vm_exit::kind::internal_error, 0, 0, "emulation ended at " + hex(rip) + " for no known reason"};
    case UC_ERR_INSN_INVALID:
        return {vm_exit::kind::cpu_exception, 6, 0, "invalid instruction at " + hex(rip)};
    case UC_ERR_READ_UNMAPPED:
    case UC_ERR_WRITE_UNMAPPED:
    case UC_ERR_FETCH_UNMAPPED:
        // on_unmapped has recorded the details when it ran.
        return {vm_exit::kind::memory_fault, 0, 0, std::string(uc_strerror(err)) + " near " + hex(rip)};
    case UC_ERR_EXCEPTION:
        return {vm_exit::kind::cpu_exception, 0, 0, std::string("unhandled CPU exception: ") + uc_strerror(err)};
    default:
        return {vm_exit::kind::internal_error, 0, 0, std::string("Unicorn: ") + uc_strerror(err)};
    }
}

void soft_accelerator::stop_with(vm_exit exit)
{
    if (!exit_)
        exit_ = std::move(exit);
    // uc_emu_stop takes effect only at the end of the translation block, and
    // Unicorn has no way to leave a block from a hook: the rest of its
    // instructions still run. Their port accesses and exceptions are ignored
    // (stopping()); taking away guest RAM from the engine makes their memory
    // accesses fail as well, so that none of them has an effect (HB-PWR-001).
    // Guest RAM itself is untouched; this engine is not used again.
    for (const ram_range& r : memory_.ranges())
        uc_mem_protect(uc_, r.base, r.length, UC_PROT_NONE);
    uc_emu_stop(uc_);
}

bool soft_accelerator::stopping() const
{
    // uc_emu_stop() takes effect at the end of the current translation block, so a
    // few more guest instructions can run; their port accesses and faults must have
    // no effect (a shutdown is final, HB-PWR-001).
    return exit_.has_value();
}

vcpu_registers soft_accelerator::registers()
{
    vcpu_registers r{};
    uint64_t* fields = reinterpret_cast<uint64_t*>(&r);
    void* ptrs[sizeof(gpr_ids) / sizeof(gpr_ids[0])];
    for (size_t i = 0; i < sizeof(gpr_ids) / sizeof(gpr_ids[0]); ++i)
        ptrs[i] = &fields[i];
    uc_reg_read_batch(uc_, const_cast<int*>(gpr_ids), ptrs, int(sizeof(gpr_ids) / sizeof(gpr_ids[0])));
    return r;
}

void soft_accelerator::set_registers(const vcpu_registers& regs)
{
    // RIP is stale inside Unicorn's instruction hooks and writing it would restart
    // emulation there, so only the general-purpose registers are written.
    const uint64_t* fields = reinterpret_cast<const uint64_t*>(&regs);
    void* ptrs[gpr_count];
    for (int i = 0; i < gpr_count; ++i)
        ptrs[i] = const_cast<uint64_t*>(&fields[i]);
    uc_reg_write_batch(uc_, const_cast<int*>(gpr_ids), ptrs, gpr_count);
}

call_registers soft_accelerator::read_call_registers()
{
    static constexpr int ids[] = {UC_X86_REG_RAX, UC_X86_REG_RDI, UC_X86_REG_RSI,
                                  UC_X86_REG_RCX, UC_X86_REG_R8,  UC_X86_REG_R9};
    call_registers r{};
    void* ptrs[] = {&r.rax, &r.rdi, &r.rsi, &r.rcx, &r.r8, &r.r9};
    uc_reg_read_batch(uc_, const_cast<int*>(ids), ptrs, 6);
    return r;
}

void soft_accelerator::write_call_result(uint64_t rax, uint64_t rdx)
{
    static constexpr int ids[] = {UC_X86_REG_RAX, UC_X86_REG_RDX};
    void* ptrs[] = {&rax, &rdx};
    uc_reg_write_batch(uc_, const_cast<int*>(ids), ptrs, 2);
}

void soft_accelerator::guest_memory_written(uint64_t address, uint64_t length)
{
    // Translated code for the written range must not run stale. Unicorn does not
    // see writes through the host's mapping of guest RAM, and the only targeted
    // way to drop its code, uc_ctl_remove_cache, takes *virtual* addresses. So:
    // where the guest maps every written page at its own physical address (no
    // paging, or an identity map), the physical range doubles as the virtual one.
    // Elsewhere the host switches CR3 for a moment to its own identity tables of
    // the guest's paging mode (map_host_identity_tables), drops the code by
    // address there and switches back. (Dropping all code instead would have to
    // wait for the end of the block, and Unicorn, stopped from a hook, may resume
    // a block at its start: the OUT that made the call would run twice.) The
    // paging_probe test guest runs code the host wrote into a page mapped elsewhere.
    const paging_state st = paging();
    constexpr uint64_t page = 4096;
    bool identity = true;
    for (uint64_t p = address & ~(page - 1); identity && p < address + length; p += page) {
        const page_walk_result w = walk_page_tables(memory_, st, p);
        identity = w.present && w.physical == p;
    }
    if (identity || !identity_pml4_) {
        uc_ctl_remove_cache(uc_, address, address + length);
        return;
    }
    constexpr uint64_t efer_lma = 1ull << 10, cr4_pae = 1ull << 5, cr4_pse = 1ull << 4;
    const bool long_mode = st.efer & efer_lma, pae = st.cr4 & cr4_pae;
    if (!long_mode && !pae)
        set_reg(uc_, UC_X86_REG_CR4, st.cr4 | cr4_pse);  // the 32-bit tables use 4 MiB pages
    set_reg(uc_, UC_X86_REG_CR3, long_mode ? identity_pml4_ : pae ? identity_pae_pdpt_ : identity_pd32_);
    uc_ctl_remove_cache(uc_, address, address + length);
    set_reg(uc_, UC_X86_REG_CR3, st.cr3);
    if (!long_mode && !pae)
        set_reg(uc_, UC_X86_REG_CR4, st.cr4);
}

void soft_accelerator::request_stop()
{
    stop_requested_ = true;
    uc_emu_stop(uc_);
}

void soft_accelerator::on_out(uc_engine*, uint32_t port, int size, uint32_t value, void* self)
{
    auto* s = static_cast<soft_accelerator*>(self);
    if (s->stopping())
        return;
    ++s->exits_;
    const io_reply reply = s->handler_->on_io({true, uint16_t(port), uint8_t(size), value});
    if (reply.stop)
        s->stop_with({vm_exit::kind::stopped, 0, 0, "stopped by the exit handler"});
}

uint32_t soft_accelerator::on_in(uc_engine*, uint32_t port, int size, void* self)
{
    auto* s = static_cast<soft_accelerator*>(self);
    if (s->stopping())
        return 0xFFFFFFFFu;
    ++s->exits_;
    const io_reply reply = s->handler_->on_io({false, uint16_t(port), uint8_t(size), 0});
    if (reply.stop)
        s->stop_with({vm_exit::kind::stopped, 0, 0, "stopped by the exit handler"});
    return reply.value;
}

int soft_accelerator::on_cpuid(uc_engine* uc, void* self)
{
    auto* s = static_cast<soft_accelerator*>(self);
    const cpuid_entry answer =
        answer_cpuid(s->cpuid_, uint32_t(reg(uc, UC_X86_REG_RAX)), uint32_t(reg(uc, UC_X86_REG_RCX)));
    set_reg(uc, UC_X86_REG_RAX, answer.eax);
    set_reg(uc, UC_X86_REG_RBX, answer.ebx);
    set_reg(uc, UC_X86_REG_RCX, answer.ecx);
    set_reg(uc, UC_X86_REG_RDX, answer.edx);
    return 1;  // replaces the engine's own answer
}

void soft_accelerator::on_interrupt(uc_engine* uc, uint32_t vector, void* self)
{
    // Unicorn never delivers exceptions through the guest IDT: the host does.
    auto* s = static_cast<soft_accelerator*>(self);
    if (s->stopping())
        return;
    // INT n, INT3 and INTO: Unicorn has already moved RIP past the instruction.
    const bool software = vector >= 32 || vector == 3 || vector == 4;
    uint32_t error_code = 0;
    if (vector == 14) {
        // Unicorn keeps the page fault's error code to itself; what the page walk
        // tells is rebuilt: P, and W where only a write can fault (a present page
        // that is read-only), and U from the privilege level. A write to a page
        // that is not present shows W clear (README).
        const paging_state st = s->paging();
        const unsigned cpl = unsigned(reg(uc, UC_X86_REG_CS) & 3);
        const page_walk_result w = walk_page_tables(s->memory_, st, reg(uc, UC_X86_REG_CR2));
        const bool user_blocked = cpl == 3 && !w.user;
        error_code = (w.present ? 1u : 0u) | (w.present && !user_blocked && !w.writable ? 2u : 0u) |
                     (cpl == 3 ? 4u : 0u);
    }
    s->deliver_exception(vector, error_code, software ? delivery::software_interrupt : delivery::exception);
}

bool soft_accelerator::on_unmapped(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t, void* self)
{
    auto* s = static_cast<soft_accelerator*>(self);
    const char* what = type == UC_MEM_FETCH_UNMAPPED ? "instruction fetch"
                       : type == UC_MEM_WRITE_UNMAPPED ? "write"
                                                       : "read";
    s->stop_with({vm_exit::kind::memory_fault, 0, address,
                  std::string(what) + " of " + std::to_string(size) + " bytes at " + hex(address) +
                      ", outside guest RAM (" + s->memory_.describe() + ")"});
    return false;
}

}  // namespace hbvm
