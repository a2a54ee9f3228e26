// The only file of the guest library that holds inline assembly (x86-64).
#ifndef HYPERBIOS_ARCH_X86_64_CPU_HPP
#define HYPERBIOS_ARCH_X86_64_CPU_HPP

#include <hyperbios/abi.hpp>
#include <stdint.h>

#if !defined(__x86_64__)
#error "hyperbios: the guest library supports x86-64 only"
#endif

namespace hyperbios::arch {

struct cpuid_result {
    uint32_t eax, ebx, ecx, edx;
};

inline cpuid_result cpuid(uint32_t leaf, uint32_t subleaf = 0) noexcept
{
    cpuid_result r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline void out8(uint16_t port, uint8_t value) noexcept
{
    asm volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

inline void out16(uint16_t port, uint16_t value) noexcept
{
    asm volatile("outw %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

inline void out32(uint16_t port, uint32_t value) noexcept
{
    asm volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

inline uint8_t in8(uint16_t port) noexcept
{
    uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

// Raw outcome of one call through a gate: RAX and RDX after the call.
struct gate_registers {
    int64_t status;
    uint64_t value;
};

// The port-I/O gate: call word in RAX, arguments in RDI, RSI, RCX, R8, R9 (the
// register order of the ABI table, checked below), then a 32-bit OUT to the gate port. Status comes back in RAX, value in RDX; the host
// preserves every other register. "memory" because the host may read or write
// guest buffers named by the arguments.
static_assert(abi::arguments_in_registers(abi::gpr::rdi, abi::gpr::rsi, abi::gpr::rcx, abi::gpr::r8, abi::gpr::r9) &&
                  abi::call_word_register == abi::gpr::rax && abi::status_register == abi::gpr::rax &&
                  abi::value_register == abi::gpr::rdx,
              "port_gate_call's register constraints follow the ABI table's register order");
inline gate_registers port_gate_call(uint16_t port, uint64_t call, uint64_t a0, uint64_t a1, uint64_t a2,
                                     uint64_t a3, uint64_t a4) noexcept
{
    register uint64_t r8 asm("r8") = a3;
    register uint64_t r9 asm("r9") = a4;
    uint64_t rax = call;
    uint64_t rdx = port;
    asm volatile("outl %%eax, %%dx"
                 : "+a"(rax), "+d"(rdx)
                 : "D"(a0), "S"(a1), "c"(a2), "r"(r8), "r"(r9)
                 : "memory");
    return {int64_t(rax), rdx};
}

[[noreturn]] inline void halt_forever() noexcept
{
    for (;;)
        asm volatile("cli; hlt" ::: "memory");
}

}  // namespace hyperbios::arch

#endif
