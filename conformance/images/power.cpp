// POWER service (spec chapter 8): reserved bits, reboot and reset reasons, and
// the exit code reported through shutdown (checked by the driver).
#include "image.hpp"

namespace conformance {

void run_checks()
{
    using fn = hb::abi::function;
    auto reason = hb::power::reset_reason();
    if (reason.ok() && reason.value == hb::abi::reset_power_on) {
        check("HB-PWR-004", true, "reset_reason is 0 (power-on) on the first boot");
        note("rebooting; the checks continue on the second boot");
        auto r = hb::power::reboot();
        check("HB-PWR-003", false, "reboot restarts the machine", hb::abi::status_name(r.code));
        return;
    }
    check("HB-PWR-004", reason.ok() && reason.value == hb::abi::reset_guest_reboot,
          "reset_reason is 1 after POWER.reboot");
    check("HB-PWR-003", reason.ok() && reason.value == hb::abi::reset_guest_reboot,
          "reboot restarted the machine and booted this image again");

    for (uint64_t code : {0x100ull, 0x1FFull, 1ull << 63}) {
        raw_result r = raw_call(fn::power_shutdown, code);
        check_status("HB-PWR-002", hb::result<uint64_t>{r.code(), 0}, hb::status::invalid_param,
                     "shutdown with reserved bits of the exit code set is INVALID_PARAM, and the machine runs on");
    }
    check("HB-CALL-005", true, "the machine is still running after three refused shutdowns");
    // HB-PWR-001: the summary's exit code is delivered through shutdown; the driver compares it.
    expect_exit("HB-PWR-001", totals.failed ? 1 : 0);
}

}  // namespace conformance
