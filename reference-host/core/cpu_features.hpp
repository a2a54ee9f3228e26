// The guest CPU's feature set (core/cpu_model), as constants with no
// dependencies, so that the cpu_probe test guest checks the very same list.
#ifndef HBVM_CORE_CPU_FEATURES_HPP
#define HBVM_CORE_CPU_FEATURES_HPP

#include <stdint.h>

namespace hbvm {

namespace cpu_features {
// CPUID.1:EDX: FPU DE PSE TSC MSR PAE CX8 PGE CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2
inline constexpr uint32_t leaf1_edx = (1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) |
                                      (1u << 8) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) | (1u << 19) |
                                      (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26);
// CPUID.1:ECX: SSE3 PCLMULQDQ SSSE3 CX16 SSE4.1 SSE4.2 MOVBE POPCNT AES (+ hypervisor, set by discovery)
inline constexpr uint32_t leaf1_ecx = (1u << 0) | (1u << 1) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) |
                                      (1u << 22) | (1u << 23) | (1u << 25);
// CPUID.7.0:EBX: BMI1 BMI2 ERMS
inline constexpr uint32_t leaf7_ebx = (1u << 3) | (1u << 8) | (1u << 9);
// CPUID.80000001h:ECX: LAHF/SAHF in 64-bit mode, LZCNT
inline constexpr uint32_t ext1_ecx = (1u << 0) | (1u << 5);
// CPUID.80000001h:EDX: long mode
inline constexpr uint32_t ext1_edx = 1u << 29;
inline constexpr uint32_t max_basic_leaf = 7;
inline constexpr uint32_t max_extended_leaf = 0x80000008;
}  // namespace cpu_features

}  // namespace hbvm

#endif
