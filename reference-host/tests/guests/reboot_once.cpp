// Reboots once, then shuts down with code 7: proves POWER.reboot restarts the image
// and POWER.reset_reason tells the two boots apart.
#include "report.hpp"

#include <hyperbios/boot/multiboot.hpp>

namespace hb = hyperbios;

extern "C" void kernel_main(uint32_t, uint32_t)
{
    auto reason = hb::power::reset_reason();
    if (reason.ok() && reason.value == hb::abi::reset_power_on) {
        hb::fallback::debugcon_write("reboot_once: first boot, rebooting\n");
        (void)hb::power::reboot();
        hb::fallback::debugcon_write("reboot_once: reboot returned\n");
        (void)hb::power::shutdown(1);
    }
    hb::fallback::debugcon_write(reason.ok() && reason.value == hb::abi::reset_guest_reboot
                                     ? "reboot_once: second boot after a reboot\n"
                                     : "reboot_once: unexpected reset reason\n");
    (void)hb::power::shutdown(reason.ok() && reason.value == hb::abi::reset_guest_reboot ? 7 : 1);
}
