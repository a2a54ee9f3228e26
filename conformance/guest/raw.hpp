// Raw access for conformance images: calls with arbitrary call words and
// arguments (reserved bits, hostile buffers) and a register-preservation probe.
// Kernels use the typed wrappers instead.
#ifndef HYPERBIOS_CONFORMANCE_RAW_HPP
#define HYPERBIOS_CONFORMANCE_RAW_HPP

#include <hyperbios/boot/multiboot_info.hpp>
#include <hyperbios/hyperbios.hpp>

namespace conformance {

namespace hb = hyperbios;

struct raw_result {
    int64_t status;
    uint64_t value;
    hb::status code() const { return hb::status(status); }
};

inline raw_result raw_call(uint64_t call_word, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                           uint64_t a4 = 0)
{
    auto r = hb::arch::port_gate_call(hb::detect().port, call_word, a0, a1, a2, a3, a4);
    return {r.status, r.value};
}

inline raw_result raw_call(hb::abi::function f, uint64_t a0 = 0, uint64_t a1 = 0)
{
    return raw_call(uint64_t(f), a0, a1);
}

// The optional gates (spec 2.2): the same registers, with VMCALL or VMMCALL
// instead of the OUT. Only for hosts that advertise them: elsewhere the
// instruction faults or goes to another hypervisor's handler.
template <bool amd>
inline raw_result vm_gate_call(uint64_t call_word, uint64_t a0 = 0, uint64_t a1 = 0)
{
    uint64_t rax = call_word, rdx = 0;
    register uint64_t r8 asm("r8") = 0;
    register uint64_t r9 asm("r9") = 0;
    if constexpr (amd)
        asm volatile("vmmcall" : "+a"(rax), "+d"(rdx) : "D"(a0), "S"(a1), "c"(0ull), "r"(r8), "r"(r9) : "memory");
    else
        asm volatile("vmcall" : "+a"(rax), "+d"(rdx) : "D"(a0), "S"(a1), "c"(0ull), "r"(r8), "r"(r9) : "memory");
    return {int64_t(rax), rdx};
}

// Every general-purpose register and RFLAGS, loaded before and stored after one
// gate instruction by conformance_gate_all (below).
struct register_block {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rflags;
};

// kind: 0 = 32-bit OUT (a call), 1 = 8-bit OUT, 2 = 16-bit OUT, 3 = 32-bit IN.
extern "C" void conformance_gate_all(register_block* block, uint64_t kind);

// End of RAM as the boot loader reported it (Multiboot mem_upper), for buffers
// that must lie just outside.
inline uint64_t ram_end;

inline void learn_memory(uint32_t magic, uint32_t info_address)
{
    if (magic != hb::multiboot::loader_magic)
        return;
    const auto* info = reinterpret_cast<const hb::multiboot::info*>(uint64_t(info_address));
    if (info->flags & hb::multiboot::info_memory)
        ram_end = 0x100000 + uint64_t(info->mem_upper) * 1024;
}

}  // namespace conformance

// Loads every register from the block (RDI = block, RSI = kind), executes the
// gate instruction, stores every register back. Callee-saved registers of the
// C++ caller are restored before returning.
asm(R"(
    .pushsection .text.conformance_gate_all, "ax"
    .global conformance_gate_all
conformance_gate_all:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi
    push %rsi
    cmpq $1, %rsi
    je 1f
    cmpq $2, %rsi
    je 2f
    cmpq $3, %rsi
    je 3f
    call 5f
    outl %eax, %dx
    jmp 4f
1:  call 5f
    outb %al, %dx
    jmp 4f
2:  call 5f
    outw %ax, %dx
    jmp 4f
3:  call 5f
    inl %dx, %eax
4:  pushfq
    push %rdi
    mov 24(%rsp), %rdi
    mov %rax, 0(%rdi)
    mov %rbx, 8(%rdi)
    mov %rcx, 16(%rdi)
    mov %rdx, 24(%rdi)
    mov %rsi, 32(%rdi)
    pop %rax
    mov %rax, 40(%rdi)
    mov %rbp, 48(%rdi)
    mov %r8, 56(%rdi)
    mov %r9, 64(%rdi)
    mov %r10, 72(%rdi)
    mov %r11, 80(%rdi)
    mov %r12, 88(%rdi)
    mov %r13, 96(%rdi)
    mov %r14, 104(%rdi)
    mov %r15, 112(%rdi)
    pop %rax
    mov %rax, 120(%rdi)
    add $16, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    # Loads the block (RDI) into every register, RFLAGS first because nothing
    # after it may change the flags; RDI itself last.
5:  pushq 120(%rdi)
    popfq
    mov 0(%rdi), %rax
    mov 8(%rdi), %rbx
    mov 16(%rdi), %rcx
    mov 24(%rdi), %rdx
    mov 32(%rdi), %rsi
    mov 48(%rdi), %rbp
    mov 56(%rdi), %r8
    mov 64(%rdi), %r9
    mov 72(%rdi), %r10
    mov 80(%rdi), %r11
    mov 88(%rdi), %r12
    mov 96(%rdi), %r13
    mov 104(%rdi), %r14
    mov 112(%rdi), %r15
    mov 40(%rdi), %rdi
    ret
    .popsection
)");

#endif
