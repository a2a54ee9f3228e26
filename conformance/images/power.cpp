// POWER service (spec chapter 8): reboot and reset reasons (the boots counted by
// the driver), a reboot the host's policy refuses, reserved bits, and the exit
// code reported through shutdown (checked by the driver). And TIME's monotonic
// clock across the reboot (HB-TIME-005): each boot sends the driver a reading,
// which must increase from the first boot to the second.
#include "image.hpp"

namespace conformance {

void run_checks()
{
    using fn = hb::abi::function;
    const bool clock = advertises(hb::abi::service::time);
    // A reading of the monotonic clock for the driver: the first boot's last
    // before the reboot, the second boot's first after it.
    const auto send_clock = [clock] {
        const auto now = hb::time::monotonic_ns();
        if (clock && now.ok())
            expect_increasing("HB-TIME-005", now.value);
    };
    if (!advertises(hb::abi::service::power)) {
        if (clock)
            skip("HB-TIME-005", "the monotonic clock goes on across a reboot",
                 "not advertised: without POWER the guest cannot reboot the machine");
        note("the host does not advertise POWER: its requirements do not apply");
        return;
    }
    auto reason = hb::power::reset_reason();
    if (reason.ok() && reason.value != hb::abi::reset_power_on)
        send_clock();
    if (reason.ok() && reason.value == hb::abi::reset_power_on) {
        check("HB-PWR-004", true, "reset_reason is 0 (power-on) on the first boot");
        note("calling POWER.reboot; after a restart the checks go on in the second boot");
        send_clock();
        const raw_result r = raw_call(fn::power_reboot);
        if (r.code() != hb::status::denied) {
            check("HB-PWR-003", false, "reboot restarts the machine", hb::abi::status_name(r.code()));
            return;
        }
        // The spec lets a host's policy refuse reboot (8.3); the refusal must have
        // had no effect (HB-CALL-005): no restart, so still the first boot.
        const auto after = hb::power::reset_reason();
        check("HB-CALL-005", after.ok() && after.value == hb::abi::reset_power_on,
              "a reboot answered DENIED had no effect: reset_reason is still 0");
        check("HB-CALL-004", r.value == 0, "RDX is zero after DENIED");
        expect_boots("HB-CALL-005", 1);
        skip("HB-PWR-003", "reboot restarts the machine",
             "denied by the host's policy: POWER.reboot answered DENIED, which spec 8.3 allows");
        if (clock)
            skip("HB-TIME-005", "the monotonic clock goes on across a reboot",
                 "denied by the host's policy: POWER.reboot answered DENIED, so the machine cannot be rebooted");
    } else {
        check("HB-PWR-004", reason.ok() && reason.value == hb::abi::reset_guest_reboot,
              "reset_reason is 1 after POWER.reboot");
        // A reboot that happened although the policy refuses it: the call had
        // an effect (HB-CALL-005), whatever it answered.
        if (hb::detect().interface_version >= hb::abi::make_version(0, 9))
            check("HB-CALL-005", hb::base::permitted(fn::power_reboot),
                  "the machine rebooted, and POWER.reboot is permitted (BASE.permitted_functions): a refused reboot "
                  "has no effect");
        // What the host answers could be made up: the driver counts the starts.
        expect_boots("HB-PWR-003", 2);
        expect_boots("HB-PWR-004", 2);
    }

    for (uint64_t code : {0x100ull, 0x1FFull, 1ull << 63}) {
        raw_result r = raw_call(fn::power_shutdown, code);
        check_status("HB-PWR-002", hb::result<uint64_t>{r.code(), 0}, hb::status::invalid_param,
                     "shutdown with reserved bits of the exit code set is INVALID_PARAM, and the machine runs on");
    }
    // HB-PWR-001: the summary's exit code is delivered through shutdown; the driver compares it.
    expect_exit("HB-PWR-001", totals.failed ? 1 : 0);
}

}  // namespace conformance
