#!/usr/bin/python3
"""Proves the driver's verdict rules on made-up runs, without a host: each rule
that keeps a broken or unproven host from being called conformant is shown to
fire, and its opposite to pass. (conformance/mutation-test proves the same
against the real reference host with injected faults.)"""

import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import conform  # noqa: E402

failures = []
SPEC = conform.load_spec()
MUSTS = sorted(r for r, req in SPEC["requirements"].items() if req["level"] == "MUST")
EVERY_SERVICE = sum(1 << int(s["id"], 16) for s in SPEC["services"])  # what a full host advertises


def make_run(name, lines, exit_status=0, stdout=b""):
    run = conform.ImageRun(f"conformance-{name}.elf")
    run.exit_status = exit_status
    run.stdout_bytes = stdout
    run.stdout = stdout.decode(errors="replace")
    run.stderr = "\n".join(["BOOT", f"INFO services {EVERY_SERVICE:#x}", "INFO gates 0x1"] + lines +
                           ["SUMMARY: 1 checks, 0 failed, 0 skipped"])
    conform.parse_report(run, conform.EXIT_STYLES["plain"])
    run.problem = None  # the SUMMARY counts are not what these tests are about
    return run


def every_must_passes(skip=()):
    return [f"PASS {rid} a check" for rid in MUSTS if rid not in skip and rid not in conform.DETECTION_REQUIREMENTS] + \
           [f"SKIP {rid} a rule (a guest-side rule, exercised elsewhere)" for rid in conform.DETECTION_REQUIREMENTS]


def verdict(runs, profile="full", expectations=None):
    verdicts = conform.judge(SPEC, runs, conform.load_profile(profile, SPEC), expectations or {})
    return verdicts, conform.overall(verdicts, runs, conform.load_profile(profile, SPEC))


def expect(label, condition, detail=""):
    print(f"{'PASS' if condition else 'FAIL'} {label}" + ("" if condition else f": {detail}"))
    if not condition:
        failures.append(label)


def main():
    runs = [make_run("all", every_must_passes())]
    _, (text, ok) = verdict(runs)
    expect("a run in which every MUST passed is CONFORMANT", ok and text == "CONFORMANT", text)

    victim = "HB-CON-001"
    verdicts, (text, ok) = verdict([make_run("most", every_must_passes(skip=(victim,)))])
    expect("a MUST that no check reached fails (not n/a)",
           verdicts[victim]["result"] == "fail" and not ok and "no check" in verdicts[victim]["note"],
           f"{verdicts[victim]} / {text}")

    lines = every_must_passes(skip=(victim,)) + [f"FAIL {victim} it broke"]
    verdicts, (text, ok) = verdict([make_run("broken", lines)], expectations={victim: "we know"})
    expect("a failure named in an expectations file still fails, and the verdict says so",
           verdicts[victim]["result"] == "fail" and verdicts[victim]["known"] and not ok and
           text == "NOT CONFORMANT — 1 known deviation", text)

    try:
        conform.load_expectations(None, SPEC)
        path = TMP / "expect.json"
        path.write_text('{"expect": {"HB-CON-001": {"result": "n/a", "reason": "we have no console"}}}')
        conform.load_expectations(str(path), SPEC)
        expect("an expectations file cannot declare a requirement not applicable", False, "it was accepted")
    except conform.SuiteError as e:
        expect("an expectations file cannot declare a requirement not applicable", "explains failures" in str(e))

    run = make_run("power", every_must_passes(skip=("HB-PWR-001",)) + ["EXPECT-EXIT HB-PWR-001 0"])
    run_none = conform.ImageRun("conformance-power.elf")
    run_none.stderr = run.stderr
    conform.parse_report(run_none, None)
    run_none.problem = None
    verdicts, (text, ok) = verdict([run_none])
    expect("--exit-style none leaves HB-PWR-001 unshown: it fails", verdicts["HB-PWR-001"]["result"] == "fail" and not ok,
           str(verdicts["HB-PWR-001"]))

    lines = every_must_passes(skip=("HB-CALL-008",)) + ["SKIP HB-CALL-008 gates (not advertised: neither gate)"]
    verdicts, (text, ok) = verdict([make_run("gates", lines)])
    expect("a MUST skipped because its feature is not advertised is n/a", verdicts["HB-CALL-008"]["result"] == "n/a"
           and ok, str(verdicts["HB-CALL-008"]))
    lines = every_must_passes(skip=("HB-CALL-008",)) + ["SKIP HB-CALL-008 gates (the host felt like it)"]
    verdicts, (text, ok) = verdict([make_run("gates", lines)])
    expect("a MUST skipped for a reason the spec does not allow fails", verdicts["HB-CALL-008"]["result"] == "fail"
           and not ok, str(verdicts["HB-CALL-008"]))

    lines = [x for x in every_must_passes() if "HB-PWR-003" not in x] + ["EXPECT-BOOTS HB-PWR-003 2"]
    verdicts, _ = verdict([make_run("power", lines)])  # make_run prints one BOOT line
    expect("a reboot the driver did not see (one BOOT, two expected) fails HB-PWR-003",
           verdicts["HB-PWR-003"]["result"] == "fail", str(verdicts["HB-PWR-003"]))

    lines = [x for x in every_must_passes() if "HB-CON-002" not in x] + ["EXPECT-CONSOLE-BYTES HB-CON-002 000a0d"]
    verdicts, _ = verdict([make_run("console", lines, stdout=b"x\x00\r\n")])
    expect("console bytes changed on the way (LF became CR LF) fail", verdicts["HB-CON-002"]["result"] == "fail",
           str(verdicts["HB-CON-002"]))
    verdicts, _ = verdict([make_run("console", lines, stdout=b"x\x00\n\ry")])
    expect("console bytes shown exactly pass", verdicts["HB-CON-002"]["result"] == "pass", str(verdicts["HB-CON-002"]))

    hidden = make_run("all", every_must_passes())
    hidden.info["services"] = hex(EVERY_SERVICE & ~2)  # CONSOLE (bit 1) not advertised
    verdicts, (text, ok) = verdict([hidden])
    expect("--profile full on a host that does not advertise CONSOLE fails", not ok and
           verdicts["HB-CON-001"]["result"] == "fail", str(verdicts["HB-CON-001"]))
    path = TMP / "profile.json"
    path.write_text('{"name": "no-console", "services": ["base", "time", "power", "mem", "rng"]}')
    verdicts, (text, ok) = verdict([hidden], profile=str(path))
    expect("a service neither claimed nor advertised is n/a", ok and verdicts["HB-CON-001"]["result"] == "n/a",
           f"{text} {verdicts['HB-CON-001']}")

    lines = every_must_passes() + ["SKIP HB-GEN-005 whole RAM (the boot loader reported no memory size)"]
    verdicts, (text, ok) = verdict([make_run("base", lines)])
    expect("a skip the spec does not allow fails its MUST even when another check of it passed",
           verdicts["HB-GEN-005"]["result"] == "fail" and not ok, str(verdicts["HB-GEN-005"]))

    lost = conform.ImageRun("conformance-calling.elf")
    lost.exit_status = 1
    lost.stderr = "BOOT\nPASS HB-CALL-001 a\nSUMMARY: 2 checks, 1 failed, 0 skipped"  # the FAIL line went missing
    conform.parse_report(lost, conform.EXIT_STYLES["plain"])
    expect("a SUMMARY that counts more checks than arrived makes the run untrustworthy",
           lost.problem is not None and "lost" in lost.problem, str(lost.problem))

    garbled = conform.ImageRun("conformance-power.elf")
    garbled.exit_status = 0
    garbled.stderr = "BOOT\nEXPECT-EXIT HB-PWR-001 zero\nEXPECT-BOOTS HB-PWR-003 " + "9" * 5000 + \
        "\nSUMMARY: 0 checks, 0 failed, 0 skipped"
    conform.parse_report(garbled, conform.EXIT_STYLES["plain"])
    expect("malformed EXPECT numbers fail their requirement instead of stopping the driver",
           [c[0] for c in garbled.checks] == ["FAIL", "FAIL"], str(garbled.checks))

    echo = make_run("console", every_must_passes(skip=("HB-CON-002",)),
                    stdout=b"EXPECT-CONSOLE HB-CON-002 line one\n")
    echo.checks += [conform.outside_check(echo, conform.EXIT_STYLES["plain"], "CONSOLE", "HB-CON-002", "line one")]
    verdicts, _ = verdict([echo])
    expect("an EXPECT-CONSOLE line on stdout does not count as the console showing its text",
           verdicts["HB-CON-002"]["result"] == "fail", str(verdicts["HB-CON-002"]))

    unknown = make_run("extra", every_must_passes() + ["PASS HB-TIME-777 a made-up requirement"])
    problems = conform.unknown_requirements(SPEC, [unknown])
    expect("a check naming a requirement the spec lacks is refused", any("HB-TIME-777" in p for p in problems),
           str(problems))

    disk_rules()

    for f in failures:
        print("FAIL", f)
    print(f"{'all verdict rules hold' if not failures else f'{len(failures)} verdict rules broken'}")
    return 1 if failures else 0


def disk_rules():
    """The driver's disks and EXPECT-DISK: what the BLOCK image says it left on a
    disk is compared with the file after the run."""
    # The content function is shared with conformance/images/block.cpp
    # (disk_word): its first two words of disk0, computed by that C++ function.
    expect("disk0's content is the function the block image computes",
           conform.disk_content("disk0")[:16].hex() == "19e8185d75ec4394ca9591396f4fb620",
           conform.disk_content("disk0")[:16].hex())
    expect("the four disks have their documented sizes and differ", [len(conform.disk_content(n)) for n in conform.DISKS]
           == [4 << 20, 4 << 20, 1 << 20, (1 << 20) + 3584] and
           len({conform.disk_content(n)[:64] for n in conform.DISKS}) == 4)

    template = "hbvm run {image} --disk {disk0} --disk {disk2},ro"
    workdir = TMP / "disks"
    workdir.mkdir()
    disks = conform.make_disks(template, workdir)
    command = conform.expand(template, "conformance-block.elf", workdir, disks)
    expect("only the disks the template names are made, and their paths go into the command",
           sorted(disks) == ["disk0", "disk2"] and f"{disks['disk2']},ro" in command and
           disks["disk0"].read_bytes() == conform.disk_content("disk0"), f"{disks} {command}")

    written = bytes(range(32))
    data = bytearray(disks["disk0"].read_bytes())
    data[0x200:0x220] = written
    disks["disk0"].write_bytes(bytes(data))
    run = make_run("block", [])
    run.disks = disks
    check = lambda arg: conform.outside_check(run, conform.EXIT_STYLES["plain"], "DISK", "HB-BLK-004", arg)  # noqa: E731
    expect("EXPECT-DISK of bytes that reached the file passes", check(f"disk0 0x200 {written.hex()}")[0] == "PASS",
           str(check(f"disk0 0x200 {written.hex()}")))
    expect("EXPECT-DISK of bytes the file does not hold fails",
           check(f"disk0 0x201 {written.hex()}")[0] == "FAIL" and check(f"disk0 {4 << 20} 00")[0] == "FAIL",
           str(check(f"disk0 0x201 {written.hex()}")))
    expect("EXPECT-DISK unchanged passes for an untouched disk and fails for one that changed",
           check("disk2 unchanged")[0] == "PASS" and check("disk0 unchanged")[0] == "FAIL" and
           "byte 0x200 changed" in check("disk0 unchanged")[2], str(check("disk0 unchanged")))
    expect("EXPECT-DISK of a disk the template did not give fails and says so",
           check("disk1 unchanged")[0] == "FAIL" and "{disk1}" in check("disk1 unchanged")[2],
           str(check("disk1 unchanged")))
    expect("malformed EXPECT-DISK lines fail instead of stopping the driver",
           all(check(arg)[0] == "FAIL" for arg in ("disk0 zero 00", "disk0 0x200 0g", "disk9 unchanged", "", "disk0")))

    # The whole path: a report line read from the image's output, against the file.
    lines = [x for x in every_must_passes() if "HB-BLK-004" not in x] + [f"EXPECT-DISK HB-BLK-004 disk0 512 {written.hex()}"]
    run = conform.ImageRun("conformance-block.elf")
    run.exit_status = 0
    run.disks = disks
    run.stderr = "\n".join(["BOOT", f"INFO services {EVERY_SERVICE:#x}"] + lines)
    conform.parse_report(run, conform.EXIT_STYLES["plain"])
    verdicts, _ = verdict([run])
    expect("an EXPECT-DISK line in a report decides its requirement", verdicts["HB-BLK-004"]["result"] == "pass",
           str(verdicts["HB-BLK-004"]))
    data[0x210] ^= 0xFF
    disks["disk0"].write_bytes(bytes(data))
    run.checks = []
    conform.parse_report(run, conform.EXIT_STYLES["plain"])
    verdicts, _ = verdict([run])
    expect("a write that did not reach the file fails its requirement", verdicts["HB-BLK-004"]["result"] == "fail",
           str(verdicts["HB-BLK-004"]))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="hyperbios-self-checks-") as tmp:
        TMP = pathlib.Path(tmp)
        sys.exit(main())
