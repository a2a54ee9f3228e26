// What a kernel can do when there is no HyperBIOS host (QEMU, Bochs, bare metal):
// the emulators' debug console on port 0xE9 and their exit devices. Nothing here
// is part of the HyperBIOS ABI.
#ifndef HYPERBIOS_FALLBACK_HPP
#define HYPERBIOS_FALLBACK_HPP

#include <hyperbios/arch/x86_64/cpu.hpp>
#include <stddef.h>

namespace hyperbios::fallback {

inline constexpr uint16_t debugcon_port = 0xE9;     // QEMU isa-debugcon, Bochs port_e9_hack
inline constexpr uint16_t qemu_debug_exit_port = 0xF4;
inline constexpr uint16_t bochs_shutdown_port = 0x8900;
inline constexpr uint16_t qemu_acpi_pm1a_port = 0x604;
inline constexpr uint16_t bochs_acpi_pm1a_port = 0xB004;

// QEMU's debugcon and Bochs' port E9 hack read back 0xE9; an absent port reads 0xFF.
inline bool debugcon_present() noexcept { return arch::in8(debugcon_port) == debugcon_port; }

inline void debugcon_write(const char* data, size_t length) noexcept
{
    for (size_t i = 0; i < length; ++i)
        arch::out8(debugcon_port, uint8_t(data[i]));
}

inline void debugcon_write(const char* text) noexcept
{
    while (*text)
        arch::out8(debugcon_port, uint8_t(*text++));
}

// Ends the run on whichever emulator is listening, then halts. On QEMU with
// isa-debug-exit the process exit status is (code << 1) | 1, so use codes >= 1.
[[noreturn]] inline void power_off_emulator(uint8_t code) noexcept
{
    arch::out32(qemu_debug_exit_port, code);
    for (const char* s = "Shutdown"; *s; ++s)
        arch::out8(bochs_shutdown_port, uint8_t(*s));
    arch::out16(qemu_acpi_pm1a_port, 0x2000);
    arch::out16(bochs_acpi_pm1a_port, 0x2000);
    arch::halt_forever();
}

}  // namespace hyperbios::fallback

#endif
