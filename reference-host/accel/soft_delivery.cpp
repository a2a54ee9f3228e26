// Exceptions through the guest's IDT on the software engine. Unicorn hands every
// CPU exception (and INT n) to UC_HOOK_INTR instead of delivering it, so the host
// does what the CPU would: read the gate, switch stacks (IST, or RSP0 on a
// privilege change), push the frame and the error code, and jump to the handler;
// a fault while doing so becomes a double fault, and a fault while delivering
// that a triple fault, as the architecture says. In 64-bit mode and in 32-bit
// protected mode (interrupt and trap gates; not task gates, not real mode).
#include "accel/page_walk.hpp"
#include "accel/soft.hpp"
#include "core/text.hpp"

#include <cstdio>
#include <cstring>
#include <vector>

namespace hbvm {

namespace {

uint64_t reg(uc_engine* uc, int id)
{
    uint64_t v = 0;
    uc_reg_read(uc, id, &v);
    return v;
}

void set_reg(uc_engine* uc, int id, uint64_t v) { uc_reg_write(uc, id, &v); }

constexpr uint64_t efer_lma = 1ull << 10;
constexpr uint64_t cr0_wp = 1ull << 16;
constexpr uint64_t rflags_tf = 1u << 8, rflags_if = 1u << 9, rflags_nt = 1u << 14, rflags_rf = 1u << 16,
                   rflags_vm = 1u << 17;

bool has_error_code(uint32_t vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
}
bool contributory(uint32_t vector) { return vector == 0 || (vector >= 10 && vector <= 13); }

constexpr uint32_t qemu_inhibit_irq = 1u << 3;  // HF_INHIBIT_IRQ_MASK in QEMU's CPUX86State::hflags

}  // namespace

paging_state soft_accelerator::paging()
{
    uc_x86_msr efer{0xC0000080, 0};
    uc_reg_read(uc_, UC_X86_REG_MSR, &efer);
    return {reg(uc_, UC_X86_REG_CR0), reg(uc_, UC_X86_REG_CR3), reg(uc_, UC_X86_REG_CR4), efer.value,
            reg(uc_, UC_X86_REG_CR2)};
}

paging_state soft_accelerator::paging_registers() { return paging(); }

// The error code of a fault on the way through the IDT: the entry's index, the IDT
// bit, and EXT unless INT n, INT3 or INTO was being delivered -- an external
// interrupt or an earlier exception is an event from outside the program
// (HB-EVT-018 for the event vector).
uint32_t soft_accelerator::idt_error_code(uint32_t vector, delivery kind) const
{
    const bool external = kind != delivery::software_interrupt &&
                          !(kind == delivery::external_interrupt && deviate.event_error_code_without_ext);
    return vector * 8 + 2 + (external ? 1 : 0);
}

// Copies linear memory, page by page; on a fault returns the #PF it raises.
std::optional<soft_accelerator::fault> soft_accelerator::access_linear(uint64_t linear, void* data, size_t size,
                                                                       bool write, unsigned cpl)
{
    const paging_state st = paging();
    auto* bytes = static_cast<std::byte*>(data);
    for (size_t done = 0; done < size;) {
        const uint64_t va = linear + done;
        const size_t n = std::min<size_t>(size - done, 4096 - (va & 4095));
        const page_walk_result w = walk_page_tables(memory_, st, va);
        const bool user = cpl == 3;
        const bool allowed =
            w.present && (!user || w.user) && (!write || w.writable || (!user && !(st.cr0 & cr0_wp)));
        const uint32_t pf_error = (w.present ? 1u : 0u) | (write ? 2u : 0u) | (user ? 4u : 0u);
        if (!allowed)
            return fault{14, pf_error, va, {}};
        auto span = write ? memory_.write(guest_address{w.physical}, n)
                          : std::optional<std::span<std::byte>>();
        if (write) {
            if (!span)
                return fault{14, pf_error, va, {}};  // maps outside RAM: as KVM, a fault the guest cannot fix
            std::memcpy(span->data(), bytes + done, n);
        } else {
            const auto in = memory_.read(guest_address{w.physical}, n);
            if (!in)
                return fault{14, pf_error, va, {}};
            std::memcpy(bytes + done, in->data(), n);
        }
        done += n;
    }
    return std::nullopt;
}

std::optional<soft_accelerator::fault> soft_accelerator::try_deliver(uint32_t vector, uint32_t error_code,
                                                                     delivery kind)
{
    const paging_state st = paging();
    const uint32_t idt_error = idt_error_code(vector, kind);
    if (!(st.efer & efer_lma))
        return try_deliver_protected(vector, error_code, kind);
    uc_x86_mmr idtr{};
    uc_reg_read(uc_, UC_X86_REG_IDTR, &idtr);
    if (uint64_t(vector) * 16 + 15 > idtr.limit)
        return fault{13, idt_error, 0, "vector " + std::to_string(vector) + " lies past the IDT limit " +
                                           hex(idtr.limit)};
    const unsigned cpl = unsigned(reg(uc_, UC_X86_REG_CS) & 3);
    unsigned char gate[16];
    if (auto f = access_linear(idtr.base + vector * 16, gate, sizeof gate, false, 0))
        return f;
    const uint8_t type = gate[5];
    const uint64_t handler = uint64_t(gate[0]) | uint64_t(gate[1]) << 8 | uint64_t(gate[6]) << 16 |
                             uint64_t(gate[7]) << 24 | uint64_t(gate[8]) << 32 | uint64_t(gate[9]) << 40 |
                             uint64_t(gate[10]) << 48 | uint64_t(gate[11]) << 56;
    const uint16_t selector = uint16_t(gate[2] | gate[3] << 8);
    const unsigned ist = gate[4] & 7;
    if ((type & 0xF) != 0xE && (type & 0xF) != 0xF)
        return fault{13, idt_error, 0, "IDT entry " + std::to_string(vector) + " is not an interrupt or trap gate"};
    if (kind == delivery::software_interrupt && unsigned((type >> 5) & 3) < cpl)
        return fault{13, idt_error, 0, "IDT entry " + std::to_string(vector) + " is below the caller's privilege"};
    if (!(type & 0x80))
        return fault{11, idt_error, 0, "IDT entry " + std::to_string(vector) + " is not present"};

    const unsigned new_cpl = selector & 3;
    uint64_t rsp = reg(uc_, UC_X86_REG_RSP);
    const uint64_t old_rsp = rsp;
    if (ist != 0 || new_cpl < cpl) {
        uc_x86_mmr tr{};
        uc_reg_read(uc_, UC_X86_REG_TR, &tr);
        const uint64_t slot = ist != 0 ? 0x24 + (ist - 1) * 8 : 4 + new_cpl * 8;
        if (slot + 8 > uint64_t(tr.limit) + 1)
            return fault{10, uint32_t(tr.selector & 0xFFFC), 0, "the TSS has no stack for this exception"};
        if (auto f = access_linear(tr.base + slot, &rsp, sizeof rsp, false, 0))
            return f;
    }
    rsp &= ~uint64_t(0xF);
    const uint64_t rflags = reg(uc_, UC_X86_REG_RFLAGS);
    const uint64_t old_cs = reg(uc_, UC_X86_REG_CS), old_ss = reg(uc_, UC_X86_REG_SS);
    const uint64_t rip = reg(uc_, UC_X86_REG_RIP);
    uint64_t frame[6];
    unsigned n = 0;
    if (has_error_code(vector) && kind == delivery::exception)
        frame[n++] = error_code;
    frame[n++] = rip;
    frame[n++] = old_cs;
    frame[n++] = rflags;
    frame[n++] = old_rsp;
    frame[n++] = old_ss;
    rsp -= n * 8;
    if (auto f = access_linear(rsp, frame, n * 8, true, new_cpl))
        return f;

    uint64_t new_flags = rflags & ~(rflags_tf | rflags_nt | rflags_rf | rflags_vm);
    if ((type & 0xF) == 0xE)
        new_flags &= ~rflags_if;  // an interrupt gate; a trap gate leaves IF
    if (selector != (old_cs & 0xFFFF))
        set_reg(uc_, UC_X86_REG_CS, selector);
    if (new_cpl < cpl)
        set_reg(uc_, UC_X86_REG_SS, new_cpl);  // the null selector, at the new privilege
    set_reg(uc_, UC_X86_REG_RSP, rsp);
    set_reg(uc_, UC_X86_REG_RFLAGS, new_flags);
    set_reg(uc_, UC_X86_REG_RIP, handler);
    return std::nullopt;
}

// 32-bit protected mode: 8-byte gates, 32-bit pushes, no stack alignment, the
// stack switch from a 32-bit TSS (ESP0/SS0) on a privilege change. 16-bit gates
// and task gates are not delivered (a #GP, and so a double fault).
std::optional<soft_accelerator::fault> soft_accelerator::try_deliver_protected(uint32_t vector, uint32_t error_code,
                                                                               delivery kind)
{
    const paging_state st = paging();
    const uint32_t idt_error = idt_error_code(vector, kind);
    if (!(st.cr0 & 1))
        return fault{8, 0, 0, "the software engine does not deliver exceptions in real mode"};
    uc_x86_mmr idtr{};
    uc_reg_read(uc_, UC_X86_REG_IDTR, &idtr);
    if (uint64_t(vector) * 8 + 7 > idtr.limit)
        return fault{13, idt_error, 0, "vector " + std::to_string(vector) + " lies past the IDT limit " +
                                           hex(idtr.limit)};
    const unsigned cpl = unsigned(reg(uc_, UC_X86_REG_CS) & 3);
    unsigned char gate[8];
    if (auto f = access_linear(uint32_t(idtr.base + vector * 8), gate, sizeof gate, false, 0))
        return f;
    const uint8_t type = gate[5];
    const uint32_t handler = uint32_t(gate[0] | gate[1] << 8 | gate[6] << 16 | uint32_t(gate[7]) << 24);
    const uint16_t selector = uint16_t(gate[2] | gate[3] << 8);
    if ((type & 0xF) != 0xE && (type & 0xF) != 0xF)
        return fault{13, idt_error, 0, "IDT entry " + std::to_string(vector) +
                                           " is not a 32-bit interrupt or trap gate (task and 16-bit gates are not "
                                           "delivered by the software engine)"};
    if (kind == delivery::software_interrupt && unsigned((type >> 5) & 3) < cpl)
        return fault{13, idt_error, 0, "IDT entry " + std::to_string(vector) + " is below the caller's privilege"};
    if (!(type & 0x80))
        return fault{11, idt_error, 0, "IDT entry " + std::to_string(vector) + " is not present"};

    const unsigned new_cpl = selector & 3;
    uint32_t esp = uint32_t(reg(uc_, UC_X86_REG_RSP));
    uint32_t ss = uint32_t(reg(uc_, UC_X86_REG_SS));
    const uint32_t old_esp = esp, old_ss = ss;
    if (new_cpl < cpl) {
        uc_x86_mmr tr{};
        uc_reg_read(uc_, UC_X86_REG_TR, &tr);
        uint32_t stack[2];  // ESPn, SSn
        if (auto f = access_linear(uint32_t(tr.base + 4 + new_cpl * 8), stack, sizeof stack, false, 0))
            return f;
        esp = stack[0];
        ss = stack[1] & 0xFFFF;
    }
    const uint32_t old_cs = uint32_t(reg(uc_, UC_X86_REG_CS)) & 0xFFFF;
    uint32_t frame[6];
    unsigned n = 0;
    if (has_error_code(vector) && kind == delivery::exception)
        frame[n++] = error_code;
    frame[n++] = uint32_t(reg(uc_, UC_X86_REG_RIP));
    frame[n++] = old_cs;
    const uint32_t eflags = uint32_t(reg(uc_, UC_X86_REG_RFLAGS));
    frame[n++] = eflags;
    if (new_cpl < cpl) {
        frame[n++] = old_esp;
        frame[n++] = old_ss & 0xFFFF;
    }
    esp -= n * 4;
    if (auto f = access_linear(esp, frame, n * 4, true, new_cpl))
        return f;
    uint32_t new_flags = eflags & ~uint32_t(rflags_tf | rflags_nt | rflags_rf | rflags_vm);
    if ((type & 0xF) == 0xE)
        new_flags &= ~uint32_t(rflags_if);
    if (selector != old_cs)
        set_reg(uc_, UC_X86_REG_CS, selector);
    if (ss != old_ss)
        set_reg(uc_, UC_X86_REG_SS, ss);
    set_reg(uc_, UC_X86_REG_RSP, esp);
    set_reg(uc_, UC_X86_REG_RFLAGS, new_flags);
    set_reg(uc_, UC_X86_REG_RIP, handler);
    return std::nullopt;
}

// QEMU remembers the exception "in flight" (CPUX86State::old_exception) from the
// moment it raises one until its own delivery succeeds, and turns the next
// contributory exception into a double fault -- the next after that into a
// reset. Unicorn never runs QEMU's delivery, so nothing clears it, and Unicorn's
// API does not reach it. Its place in a saved CPU context is found once, at
// start, by raising known exceptions in scratch code and comparing contexts;
// after each delivery the host saves the context, clears that field and restores.
void soft_accelerator::find_exception_in_flight()
{
    const size_t size = uc_context_size(uc_);
    if (uc_context_alloc(uc_, &context_) != UC_ERR_OK)
        return;
    auto snapshot = [&] {
        uc_context_save(uc_, context_);
        std::vector<unsigned char> bytes(size);
        std::memcpy(bytes.data(), context_, size);
        return bytes;
    };
    auto int_at = [](const std::vector<unsigned char>& b, size_t at) {
        int32_t v;
        std::memcpy(&v, b.data() + at, sizeof v);
        return v;
    };
    // Scratch code: #DE, resumed at the HLT; run twice, the second #DE is raised
    // as a double fault, the first being still "in flight".
    const unsigned char divide[] = {0x31, 0xC9, 0xF7, 0xF1, 0xF4};  // xor ecx, ecx; div ecx; hlt
    const std::vector<unsigned char> fresh = snapshot();
    discovering_ = true;
    auto run_scratch = [&](const unsigned char* code, size_t length) {
        memory_.copy_in(guest_address{scratch_code_address()}, std::as_bytes(std::span(code, length)));
        uc_ctl_remove_cache(uc_, scratch_code_address(), scratch_code_address() + length);
        scratch_resume_ = scratch_code_address() + length - 1;  // the HLT
        uc_emu_start(uc_, scratch_code_address(), 0, 0, 0);
    };
    run_scratch(divide, sizeof divide);
    const std::vector<unsigned char> after_divide = snapshot();
    run_scratch(divide, sizeof divide);
    const std::vector<unsigned char> after_double = snapshot();
    discovering_ = false;
    // The scratch code is gone, so must be its translation (paging is off here).
    uc_ctl_remove_cache(uc_, scratch_code_address(), scratch_code_address() + 0x1000);
    std::vector<size_t> candidates;
    for (size_t at = 0; at + 4 <= size; at += 4)
        if (int_at(fresh, at) == -1 && int_at(after_divide, at) == 0 && int_at(after_double, at) == 8)
            candidates.push_back(at);
    if (candidates.size() == 1)
        exception_in_flight_offset_ = candidates.front();
    uc_context_restore(uc_, context_);
    std::memcpy(context_, fresh.data(), size);
    uc_context_restore(uc_, context_);
}

// QEMU keeps the interrupt shadow of STI and MOV SS / POP SS as a flag of the
// CPU state that Unicorn's API does not reach either (HF_INHIBIT_IRQ in
// CPUX86State::hflags): the block that ends with such an instruction sets it,
// and the next block, of one instruction, clears it. Its place in a saved
// context is found once, at start, like the exception in flight: scratch code is
// stopped (by a block hook bounded to one address) in the shadow of an STI, one
// instruction later, and in the shadow of a MOV SS; the field is the word whose
// bit 3 alone tells the first from the second, and is set in the third.
void soft_accelerator::find_interrupt_shadow()
{
    if (!context_)
        return;
    const size_t size = uc_context_size(uc_);
    auto snapshot = [&] {
        uc_context_save(uc_, context_);
        std::vector<unsigned char> bytes(size);
        std::memcpy(bytes.data(), context_, size);
        return bytes;
    };
    const std::vector<unsigned char> fresh = snapshot();
    const uint64_t scratch = scratch_code_address();
    auto stopped_at = [&](const unsigned char* code, size_t length, uint64_t stop) {
        memory_.copy_in(guest_address{scratch}, std::as_bytes(std::span(code, length)));
        uc_ctl_remove_cache(uc_, scratch, scratch + length);
        scratch_resume_ = scratch + length - 1;  // the HLT
        uc_hook hook;
        const auto stop_here = +[](uc_engine* uc, uint64_t, uint32_t, void*) { uc_emu_stop(uc); };
        if (uc_hook_add(uc_, &hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(stop_here), nullptr, scratch + stop,
                        scratch + stop) != UC_ERR_OK)
            return std::vector<unsigned char>();
        uc_emu_start(uc_, scratch, 0, 0, 0);
        uc_hook_del(uc_, hook);
        return snapshot();
    };
    const unsigned char sti[] = {0xFA, 0xFB, 0x90, 0x90, 0xF4};          // cli; sti; nop; nop; hlt
    const unsigned char mov_ss[] = {0x8C, 0xD0, 0x8E, 0xD0, 0x90, 0xF4};  // mov eax, ss; mov ss, eax; nop; hlt
    discovering_ = true;
    const std::vector<unsigned char> after_sti = stopped_at(sti, sizeof sti, 2);
    const std::vector<unsigned char> after_shadow = stopped_at(sti, sizeof sti, 3);
    const std::vector<unsigned char> after_mov_ss = stopped_at(mov_ss, sizeof mov_ss, 4);
    discovering_ = false;
    uc_ctl_remove_cache(uc_, scratch, scratch + 0x1000);
    std::vector<size_t> candidates;
    if (after_sti.size() == size && after_shadow.size() == size && after_mov_ss.size() == size)
        for (size_t at = 0; at + 4 <= size; at += 4) {
            uint32_t a, b, c;
            std::memcpy(&a, after_sti.data() + at, 4);
            std::memcpy(&b, after_shadow.data() + at, 4);
            std::memcpy(&c, after_mov_ss.data() + at, 4);
            if ((a ^ b) == qemu_inhibit_irq && (a & qemu_inhibit_irq) && (c & qemu_inhibit_irq))
                candidates.push_back(at);
        }
    if (candidates.size() == 1)
        interrupt_shadow_offset_ = candidates.front();
    std::memcpy(context_, fresh.data(), size);
    uc_context_restore(uc_, context_);
}

// True while the instruction at RIP is the one after an STI or a MOV SS / POP SS,
// which no external interrupt may come before. (QEMU counts an STI that found IF
// already set too, which only holds an interrupt off one instruction longer.)
bool soft_accelerator::in_interrupt_shadow()
{
    if (deviate.interrupt_shadow_ignored)
        return false;
    if (interrupt_shadow_offset_ && uc_context_save(uc_, context_) == UC_ERR_OK) {
        uint32_t hflags;
        std::memcpy(&hflags, reinterpret_cast<unsigned char*>(context_) + *interrupt_shadow_offset_, sizeof hflags);
        return hflags & qemu_inhibit_irq;
    }
    // The field was not found (a Unicorn other than 2.1): the instruction before
    // RIP, judged by its bytes -- STI (FB), POP SS (17) or MOV SS from a register
    // (8E /2). A byte that only looks like one of them holds an interrupt off for
    // one more instruction, which the architecture allows; MOV SS from memory is
    // not recognised.
    const auto code = code_before_rip();
    return code && ((*code)[1] == 0xFB || (*code)[1] == 0x17 ||
                    ((*code)[0] == 0x8E && ((*code)[1] & 0xF8) == 0xD0));
}

void soft_accelerator::clear_exception_in_flight()
{
    if (!exception_in_flight_offset_)
        return;
    uc_context_save(uc_, context_);
    const int32_t none = -1;
    std::memcpy(reinterpret_cast<unsigned char*>(context_) + *exception_in_flight_offset_, &none, sizeof none);
    uc_context_restore(uc_, context_);
}

void soft_accelerator::deliver_exception(uint32_t vector, uint32_t error_code, delivery kind)
{
    if (discovering_) {  // find_exception_in_flight's scratch code: resume at its HLT
        set_reg(uc_, UC_X86_REG_RIP, scratch_resume_);
        return;
    }
    last_error_code_ = has_error_code(vector) && kind == delivery::exception ? error_code : 0;
    last_vector_ = vector;
    std::string why;
    for (int depth = 0; depth < 3; ++depth) {
        const std::optional<fault> f = try_deliver(vector, error_code, kind);
        if (!f) {
            clear_exception_in_flight();
            return;
        }
        if (f->vector == 14)
            set_reg(uc_, UC_X86_REG_CR2, f->address);
        why += (why.empty() ? "" : "; then ") + std::string("vector ") + std::to_string(vector) + " could not be " +
               "delivered: " +
               (f->detail.empty() ? "a page fault at " + hex(f->address) + " on the way" : f->detail);
        if (vector == 8 || f->detail.find("real mode") != std::string::npos)
            break;  // a fault while delivering a double fault: the CPU shuts down
        // Architecture: contributory or page faults on top of one become a double
        // fault; a benign first exception lets the second be delivered on its own.
        const bool double_fault = (contributory(vector) && contributory(f->vector)) ||
                                  (vector == 14 && (contributory(f->vector) || f->vector == 14));
        vector = double_fault ? 8 : f->vector;
        error_code = double_fault ? 0 : f->error_code;
        kind = delivery::exception;
        last_error_code_ = has_error_code(vector) ? error_code : 0;
        last_vector_ = vector;
    }
    stop_with({vm_exit::kind::triple_fault, vector, 0, why});
}

void soft_accelerator::inject_vector(uint8_t vector, bool external, uint32_t error_code)
{
    const delivery kind = external ? delivery::external_interrupt : delivery::exception;
    if (!running_) {
        deliver_exception(vector, error_code, kind);
        return;
    }
    // Inside a hook RIP is stale (the start of the translation block), and the
    // frame needs the next instruction's. Nor can the run be stopped here to find
    // it: Unicorn, stopped from a hook, may resume the block at its start and run
    // the hooked instruction again. So the vector waits for the next point where
    // RIP is exact: the guest's next HLT, where run() delivers it -- for an
    // interrupt, a boundary the architecture allows (IF=1 before `sti; hlt` too).
    pending_injections_.push_back({vector, error_code, kind});
}

std::string soft_accelerator::control_registers_line()
{
    const paging_state st = paging();
    char line[256];
    std::snprintf(line, sizeof line,
                  "  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx\n"
                  "  last exception delivered or attempted: vector %u, error code %#llx",
                  (unsigned long long)st.cr0, (unsigned long long)reg(uc_, UC_X86_REG_CR2),
                  (unsigned long long)st.cr3, (unsigned long long)st.cr4, (unsigned long long)st.efer, last_vector_,
                  (unsigned long long)last_error_code_);
    return line;
}

}  // namespace hbvm
