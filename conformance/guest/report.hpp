// Guest-side reporting for conformance and test images, in the kvm-unit-tests
// manner: one line per check on the 0xE9 debug port, or on COM1 when the host
// has no such port (Firecracker) -- hyperbios::fallback::debug_write chooses --
//
//     PASS HB-CON-001 console.write returns the length
//     FAIL HB-GEN-003 console.write rejects a buffer past RAM (status SUCCESS, expected INVALID_ADDRESS)
//     SKIP HB-CALL-008 vmcall gate (not advertised)
//
// (SKIP means "not applicable on this host", with the reason; a reason that
// starts "not tested" means the check could not run with what the host was
// given, which the driver never counts as a pass.)
// and a closing "SUMMARY: N checks, F failed, S skipped". The image then ends the
// run with exit code 0 (all passed), 1 (a check failed) or 77 (nothing tested)
// through POWER.shutdown, or through the emulator's exit device without a host.
#ifndef HYPERBIOS_CONFORMANCE_REPORT_HPP
#define HYPERBIOS_CONFORMANCE_REPORT_HPP

#include <hyperbios/fallback.hpp>
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/text.hpp>

#include <initializer_list>  // freestanding; lets checks loop over a braced list

namespace conformance {

namespace hb = hyperbios;

using line = hb::text::line<256>;

struct tally {
    unsigned checks, failed, skipped;
};

inline tally totals;

inline void emit(const line& l)
{
    hb::fallback::debug_write(l.c_str(), l.size());
    hb::fallback::debug_write("\n", 1);
}

// Records one check of `requirement`; `detail` explains a failure.
inline bool check(const char* requirement, bool passed, const char* description, const char* detail = nullptr)
{
    ++totals.checks;
    if (!passed)
        ++totals.failed;
    line l;
    l.put(passed ? "PASS " : "FAIL ").put(requirement).put(' ').put(description);
    if (!passed && detail)
        l.put(" (").put(detail).put(')');
    emit(l);
    return passed;
}

// A check that did not run: "SKIP requirement description (reason)".
inline void skip(const char* requirement, const char* description, const char* reason,
                 const char* reason_prefix = "")
{
    ++totals.checks;
    ++totals.skipped;
    line l;
    l.put("SKIP ").put(requirement).put(' ').put(description).put(" (").put(reason_prefix).put(reason).put(')');
    emit(l);
}

// A check that could not run here (no device of the kind it needs, say): the
// driver reports the requirement "not tested" with the reason, never a pass,
// and a MUST not tested keeps a host from CONFORMANT.
inline void not_tested(const char* requirement, const char* description, const char* reason)
{
    skip(requirement, description, reason, "not tested: ");
}

// Checks that a call returned `expected`; names both statuses on failure.
template <typename T>
inline bool check_status(const char* requirement, const hb::result<T>& r, hb::status expected,
                         const char* description)
{
    line why;
    why.put("status ").put(hb::abi::status_name(r.code)).put(", expected ").put(hb::abi::status_name(expected));
    return check(requirement, r.code == expected, description, why.c_str());
}

// Checks a value; names the value seen and the one expected on failure.
inline bool check_value(const char* requirement, uint64_t seen, uint64_t expected, const char* description)
{
    line why;
    why.put("got ").hex(seen).put(", expected ").hex(expected);
    return check(requirement, seen == expected, description, why.c_str());
}

// Asks the driver to check what only the outside can see: that the host's exit
// status is `code` ("EXPECT-EXIT HB-PWR-001 42"), or that `text` appeared on the
// console ("EXPECT-CONSOLE HB-CON-001 text", a newline in `text` written as \n).
// The driver turns each into a result.
inline void expect_exit(const char* requirement, uint8_t code)
{
    line l;
    l.put("EXPECT-EXIT ").put(requirement).put(' ').dec(code);
    emit(l);
}

inline void expect_console(const char* requirement, const char* text)
{
    line l;
    l.put("EXPECT-CONSOLE ").put(requirement).put(' ');
    for (; *text; ++text)
        *text == '\n' ? l.put("\\n") : l.put(*text);
    emit(l);
}

// Asks the driver to count the image's starts (the BOOT line image.hpp prints):
// "EXPECT-BOOTS HB-PWR-003 2" — a reboot proven from outside the machine.
inline void expect_boots(const char* requirement, unsigned count)
{
    line l;
    l.put("EXPECT-BOOTS ").put(requirement).put(' ').dec(count);
    emit(l);
}

// Facts about the host for the certificate: "INFO impl-name HyperBIOS reference host".
// `value` comes from the host (its name, say): control bytes are shown as '?',
// so that a name with a line break in it cannot forge a report line.
inline void info(const char* key, const char* value)
{
    line l;
    l.put("INFO ").put(key).put(' ');
    for (; *value; ++value)
        l.put(uint8_t(*value) < 0x20 || uint8_t(*value) == 0x7F ? '?' : *value);
    emit(l);
}

inline void info(const char* key, uint64_t value)
{
    line l;
    l.put("INFO ").put(key).put(' ').hex(value);
    emit(l);
}

// Asks the driver to check that the values of every such line of the run
// (across reboots too) strictly increase, in the order they were printed:
// "EXPECT-INCREASING HB-TIME-005 0x1234" — a clock that must not restart at a reboot.
inline void expect_increasing(const char* requirement, uint64_t value)
{
    line l;
    l.put("EXPECT-INCREASING ").put(requirement).put(' ').hex(value, 16);
    emit(l);
}

// Asks the driver to measure from outside what the host's processes spend of
// the CPU between the BEGIN and END lines (what a waiting vCPU costs the host):
// "MEASURE-CPU BEGIN HB-EVT-015 EVT.wait", "MEASURE-CPU END HB-EVT-015 EVT.wait".
inline void measure_cpu(bool begin, const char* requirement, const char* what)
{
    line l;
    l.put("MEASURE-CPU ").put(begin ? "BEGIN " : "END ").put(requirement).put(' ').put(what);
    emit(l);
}

inline void note(const char* text)
{
    line l;
    l.put("NOTE ").put(text);
    emit(l);
}

// The exit code the run ends with: 0 all passed, 1 something failed, 77 all skipped.
inline uint8_t exit_code() { return totals.failed ? 1 : (totals.skipped == totals.checks ? 77 : 0); }

// Prints the SUMMARY line (the checks of this boot).
inline void summary()
{
    line l;
    l.put("SUMMARY: ").dec(totals.checks).put(" checks, ").dec(totals.failed).put(" failed, ").dec(totals.skipped).put(
        " skipped");
    emit(l);
}

// Ends the run with exit_code(), through POWER.shutdown or, without a host (or
// with shutdown refused), QEMU's exit device, which reports (code << 1) | 1.
[[noreturn]] inline void power_off()
{
    const uint8_t code = exit_code();
    (void)hb::power::shutdown(code);
    hb::fallback::power_off_emulator(code);
}

// Prints SUMMARY and ends the run.
[[noreturn]] inline void finish()
{
    summary();
    power_off();
}

// The image cannot run its checks with what the host gave it (too little RAM,
// say): "USAGE text" tells the driver that the run was set up wrongly, which it
// reports as a usage error of the certification, not as failed requirements.
[[noreturn]] inline void usage_error(const char* text)
{
    line l;
    l.put("USAGE ").put(text);
    emit(l);
    finish();
}

}  // namespace conformance

#endif
