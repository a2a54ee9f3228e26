// Raw access for conformance images: calls with arbitrary call words and
// arguments (reserved bits, hostile buffers) and a register-preservation probe.
// Kernels use the typed wrappers instead.
#ifndef HYPERBIOS_CONFORMANCE_RAW_HPP
#define HYPERBIOS_CONFORMANCE_RAW_HPP

#include <hyperbios/boot/boot_info.hpp>
#include <hyperbios/boot/multiboot_info.hpp>
#include <hyperbios/hyperbios.hpp>
#include <stddef.h>

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

// The same probe for images that make very many calls (random_calls), with
// as few guest stores as possible: on the reference host's software engine
// (Unicorn 2.0) every guest store takes the slow path and costs ~90 ns, half a
// whole null call, so conformance_gate_all's thirty-odd stores would cost more
// than the call they surround.
//
// checked_gate_call() loads every register from gate_probe.in (RDX: the gate
// port), executes one 32-bit OUT, and writes RAX and RDX after it into
// gate_probe.out. It returns 0 when every other register, and the bits of RFLAGS
// in gate_probe.flags_mask, kept their value; otherwise non-zero, with every
// register after the call in gate_probe.out. Five stores on the common path.
struct gate_probe_block {
    register_block in, out;
    uint64_t flags_mask;
    uint64_t saved_rbp;  // the caller's RBP during the call
};
static_assert(offsetof(gate_probe_block, out) == 128 && offsetof(gate_probe_block, flags_mask) == 256 &&
              offsetof(gate_probe_block, saved_rbp) == 264 && offsetof(register_block, rflags) == 120);

inline gate_probe_block gate_probe;

[[gnu::always_inline]] inline uint64_t checked_gate_call()
{
    uint64_t changed;
    // RBP cannot be named as clobbered, so it is saved in the block. The pushes
    // below RSP are safe because guest code is built with -mno-red-zone.
    asm volatile(R"(
        mov %%rbp, %c[p]+264(%%rip)
        lea %c[p](%%rip), %%rax
        pushq 120(%%rax)
        popfq
        mov 8(%%rax), %%rbx
        mov 16(%%rax), %%rcx
        mov 24(%%rax), %%rdx
        mov 32(%%rax), %%rsi
        mov 40(%%rax), %%rdi
        mov 48(%%rax), %%rbp
        mov 56(%%rax), %%r8
        mov 64(%%rax), %%r9
        mov 72(%%rax), %%r10
        mov 80(%%rax), %%r11
        mov 88(%%rax), %%r12
        mov 96(%%rax), %%r13
        mov 104(%%rax), %%r14
        mov 112(%%rax), %%r15
        mov 0(%%rax), %%rax
        outl %%eax, %%dx
        pushfq
        cld
        mov %%rax, %c[p]+128(%%rip)
        mov %%rdx, %c[p]+152(%%rip)
        lea %c[p](%%rip), %%rax
        xor 8(%%rax), %%rbx
        xor 16(%%rax), %%rcx
        xor 32(%%rax), %%rsi
        xor 40(%%rax), %%rdi
        xor 48(%%rax), %%rbp
        xor 56(%%rax), %%r8
        xor 64(%%rax), %%r9
        xor 72(%%rax), %%r10
        xor 80(%%rax), %%r11
        xor 88(%%rax), %%r12
        xor 96(%%rax), %%r13
        xor 104(%%rax), %%r14
        xor 112(%%rax), %%r15
        mov 120(%%rax), %%rdx
        xor (%%rsp), %%rdx
        and 256(%%rax), %%rdx
        or %%rbx, %%rdx
        or %%rcx, %%rdx
        or %%rsi, %%rdx
        or %%rdi, %%rdx
        or %%rbp, %%rdx
        or %%r8, %%rdx
        or %%r9, %%rdx
        or %%r10, %%rdx
        or %%r11, %%rdx
        or %%r12, %%rdx
        or %%r13, %%rdx
        or %%r14, %%rdx
        or %%r15, %%rdx
        jz 1f
        xor 8(%%rax), %%rbx
        xor 16(%%rax), %%rcx
        xor 32(%%rax), %%rsi
        xor 40(%%rax), %%rdi
        xor 48(%%rax), %%rbp
        xor 56(%%rax), %%r8
        xor 64(%%rax), %%r9
        xor 72(%%rax), %%r10
        xor 80(%%rax), %%r11
        xor 88(%%rax), %%r12
        xor 96(%%rax), %%r13
        xor 104(%%rax), %%r14
        xor 112(%%rax), %%r15
        mov %%rbx, 136(%%rax)
        mov %%rcx, 144(%%rax)
        mov %%rsi, 160(%%rax)
        mov %%rdi, 168(%%rax)
        mov %%rbp, 176(%%rax)
        mov %%r8, 184(%%rax)
        mov %%r9, 192(%%rax)
        mov %%r10, 200(%%rax)
        mov %%r11, 208(%%rax)
        mov %%r12, 216(%%rax)
        mov %%r13, 224(%%rax)
        mov %%r14, 232(%%rax)
        mov %%r15, 240(%%rax)
        mov (%%rsp), %%rdx
        mov %%rdx, 248(%%rax)
        mov $1, %%edx
    1:  add $8, %%rsp
        mov %c[p]+264(%%rip), %%rbp
    )"
                 : "=d"(changed)
                 : [p] "i"(&gate_probe)
                 : "rax", "rbx", "rcx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "cc",
                   "memory");
    return changed;
}

// What the boot loader reported, by Multiboot or by PVH: the memory map sorted
// by address (loader_info.memory_map(), loader_info.is_ram(address, length)
// tells RAM from holes and reserved ranges) and the command line.
inline hb::boot::boot_info loader_info;

// One past the last byte of the highest RAM range of the memory map (Multiboot
// or PVH), for buffers that must lie just outside; from Multiboot's mem_upper only
// when the loader gave no map. 0: unknown.
inline uint64_t ram_end;

// The Multiboot information the loader passed (nullptr without a Multiboot
// loader, e.g. under PVH), for images that read more of it.
inline const hb::multiboot::info* boot_info;

// Whether [address, address + length) lies wholly in RAM the loader reported:
// false for holes between RAM ranges, reserved ranges, and anything past ram_end.
inline bool in_reported_ram(uint64_t address, uint64_t length)
{
    return loader_info.is_ram(address, length);
}

inline void learn_memory(uint32_t magic, uint32_t info_address)
{
    loader_info.read(magic, info_address);
    boot_info = loader_info.multiboot_info();
    ram_end = loader_info.ram_end();
}

}  // namespace conformance

// Loads every register from the block (RDI = block, RSI = kind), executes the
// gate instruction, stores every register back. Callee-saved registers of the
// C++ caller are restored before returning, and DF is cleared (after RFLAGS is
// stored) because the block may set it and the C++ ABI needs it clear.
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
    cld
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
