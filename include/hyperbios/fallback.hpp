// What a kernel can do when there is no HyperBIOS host (QEMU, Bochs, direct-boot
// VMMs, bare metal): the emulators' debug console on port 0xE9, the first serial
// port (COM1) where there is no such console (Firecracker, cloud-hypervisor), and
// the emulators' exit devices. Nothing here is part of the HyperBIOS ABI.
#ifndef HYPERBIOS_FALLBACK_HPP
#define HYPERBIOS_FALLBACK_HPP

#include <hyperbios/arch/x86_64/cpu.hpp>
#include <hyperbios/detail/state.hpp>
#include <stddef.h>

namespace hyperbios::fallback {

inline constexpr uint16_t debugcon_port = 0xE9;     // QEMU isa-debugcon, Bochs port_e9_hack
inline constexpr uint16_t com1_port = 0x3F8;        // a 16550 UART's eight registers from here
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

// COM1, a 16550-compatible UART. Its scratch register (base + 7) keeps whatever
// is written to it, so two different values read back prove a UART is there; an
// absent port reads 0xFF. The test writes only the scratch register, which the
// UART itself never uses.
namespace detail::uart {
inline constexpr uint16_t data = 0, interrupt_enable = 1, divisor_low = 0, divisor_high = 1, fifo_control = 2,
                          line_control = 3, modem_control = 4, line_status = 5, scratch = 7;
inline constexpr uint8_t line_status_transmit_empty = 1u << 5;
}  // namespace detail::uart

inline bool com1_present() noexcept
{
    namespace u = detail::uart;
    const uint8_t probes[] = {0x5A, 0xA5};
    for (uint8_t probe : probes) {
        arch::out8(com1_port + u::scratch, probe);
        if (arch::in8(com1_port + u::scratch) != probe)
            return false;
    }
    return true;
}

// 115200 baud (divisor 1), 8 data bits, no parity, 1 stop bit (8N1), FIFOs on,
// interrupts off: the guest polls, and nothing else may arrive as an interrupt.
inline void com1_init() noexcept
{
    namespace u = detail::uart;
    arch::out8(com1_port + u::interrupt_enable, 0x00);
    arch::out8(com1_port + u::line_control, 0x80);  // DLAB: the next two are the divisor
    arch::out8(com1_port + u::divisor_low, 0x01);
    arch::out8(com1_port + u::divisor_high, 0x00);
    arch::out8(com1_port + u::line_control, 0x03);  // 8N1, DLAB off
    arch::out8(com1_port + u::fifo_control, 0xC7);  // FIFOs on and cleared, 14-byte threshold
    arch::out8(com1_port + u::modem_control, 0x03); // DTR and RTS; OUT2 off keeps the IRQ line quiet
}

// Waits for room in the transmitter before each byte, but not forever: a UART
// that never drains (no one reading a real line) must not hang the kernel, so
// after about 2^16 polls the byte is written regardless.
inline void com1_write(const char* data, size_t length) noexcept
{
    namespace u = detail::uart;
    for (size_t i = 0; i < length; ++i) {
        for (unsigned polls = 0; polls < (1u << 16); ++polls)
            if (arch::in8(com1_port + u::line_status) & u::line_status_transmit_empty)
                break;
        arch::out8(com1_port + u::data, uint8_t(data[i]));
    }
}

// Diagnostic output on whatever the machine offers, chosen once, on first use:
// the 0xE9 debug console when it reads back 0xE9, otherwise COM1 when its
// scratch register works (initialised 8N1), otherwise 0xE9 anyway (a write-only
// debug port still gets the text; on a machine with neither it goes nowhere).
// The choice (debug_channel, detail/state.hpp) lives in hyperbios::detail::state.
inline debug_channel debug_output_channel() noexcept
{
    debug_channel& chosen = hyperbios::detail::state.debug_channel;
    if (chosen == debug_channel::unchosen) {
        if (debugcon_present()) {
            chosen = debug_channel::debugcon;
        } else if (com1_present()) {
            com1_init();
            chosen = debug_channel::com1;
        } else {
            chosen = debug_channel::debugcon_unconfirmed;
        }
    }
    return chosen;
}

inline void debug_write(const char* data, size_t length) noexcept
{
    if (debug_output_channel() == debug_channel::com1)
        com1_write(data, length);
    else
        debugcon_write(data, length);
}

inline void debug_write(const char* text) noexcept
{
    size_t length = 0;
    while (text[length])
        ++length;
    debug_write(text, length);
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
