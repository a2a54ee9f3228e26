#!/usr/bin/python3
"""Proves the driver's verdict rules on made-up runs, without a host: each rule
that keeps a broken or unproven host from being called conformant is shown to
fire, and its opposite to pass. (conformance/mutation-test proves the same
against the real reference host with injected faults.)"""

import os
import pathlib
import shlex
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import conform  # noqa: E402

failures = []
SPEC = conform.load_spec()
MUSTS = sorted(r for r, req in SPEC["requirements"].items() if req["level"] == "MUST")
EVERY_SERVICE = sum(1 << int(s["id"], 16) for s in SPEC["services"])  # what a full host advertises


def make_run(name, lines, exit_status=0, stdout=b"", end_report="shutdown 0"):
    run = conform.ImageRun(f"conformance-{name}.elf")
    run.exit_status = exit_status
    # The host was given {end} and reported the shutdown the SUMMARY below asks for.
    run.end_file, run.end_report = pathlib.Path("end-report.txt"), end_report
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


def suite_error(function, *args):
    """What the SuiteError `function` raises says, or "" when it raises none."""
    try:
        function(*args)
    except conform.SuiteError as e:
        return str(e)
    return ""


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
    expect("a MUST that no check reached is not tested (not a pass, not n/a), and the verdict says so",
           verdicts[victim]["result"] == "not tested" and not ok and "no check" in verdicts[victim]["note"] and
           text == "NOT CONFORMANT — 1 MUST requirement not tested", f"{verdicts[victim]} / {text}")

    lines = every_must_passes(skip=(victim,)) + [f"FAIL {victim} it broke"]
    verdicts, (text, ok) = verdict([make_run("broken", lines)], expectations={victim: "we know"})
    expect("a failure named in an expectations file still fails, and the verdict says so",
           verdicts[victim]["result"] == "fail" and verdicts[victim]["known"] and not ok and
           text == "NOT CONFORMANT — 1 MUST requirement failed (1 known deviation)", text)

    not_tested_rules()
    outside_rules()
    profile_rules()
    live_rules()
    place_rules()
    png_rules()
    audio_rules()

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
    old = TMP / "profile.json"
    old.write_text('{"name": "no-console", "services": ["base", "time", "power", "mem", "rng"]}')
    refusal = suite_error(conform.load_profile, str(old), SPEC)
    expect("a JSON profile is refused, with the TOML it becomes", 'name = "no-console"' in refusal and
           'services = ["base", "time", "power", "mem", "rng"]' in refusal and "profile_version = 1" in refusal, refusal)
    path = TMP / "no-console.toml"
    path.write_text('profile_version = 1\nservices = ["base", "time", "power", "mem", "rng"]\n')
    verdicts, (text, ok) = verdict([hidden], profile=str(path))
    expect("a service neither claimed nor advertised is n/a", ok and verdicts["HB-CON-001"]["result"] == "n/a",
           f"{text} {verdicts['HB-CON-001']}")

    # A profile's claims against what the host reports (profile_checks).
    def claims(profile_name, info_lines, services=EVERY_SERVICE):
        run = make_run("base", ["INFO spec-version 0.9"] + info_lines)
        run.info["services"] = hex(services)
        checked = conform.profile_checks(SPEC, [run], conform.load_profile(profile_name, SPEC))
        return {(c[0], c[1]) for c in checked.checks}, checked.checks

    def permitted_lines(skip=()):
        lines = []
        for svc in SPEC["services"]:
            bits = sum(1 << int(f["id"], 16) for f in SPEC["functions"]
                       if f["service"] == svc["name"] and f"{svc['name']}.{f['name']}" not in skip)
            lines.append(f"INFO permitted-{svc['name']} {bits:#x}")
        return lines

    seen, detail = claims("full", permitted_lines())
    expect("a host that is what profile full says passes its claims", ("FAIL", "HB-BASE-008") not in seen and
           ("FAIL", "HB-BASE-002") not in seen and ("PASS", "HB-BASE-008") in seen, str(detail))
    seen, detail = claims("no-reboot", permitted_lines())
    expect("a host that permits POWER.reboot under profile no-reboot fails HB-BASE-008", ("FAIL", "HB-BASE-008") in seen,
           str(detail))
    seen, detail = claims("no-reboot", permitted_lines(skip=("power.reboot",)))
    expect("... and passes when it refuses it", ("FAIL", "HB-BASE-008") not in seen, str(detail))
    seen, detail = claims("minimal", permitted_lines())
    expect("a host that advertises more than profile minimal fails HB-BASE-002", ("FAIL", "HB-BASE-002") in seen,
           str(detail))
    seen, detail = claims("ps3", permitted_lines())
    expect("a host without ps3's rate limit on dsp.present fails HB-BASE-010", ("FAIL", "HB-BASE-010") in seen,
           str(detail))
    seen, detail = claims("ps3", permitted_lines() + ["INFO rate-dsp.present 0x3c"])
    expect("... and passes with it", ("FAIL", "HB-BASE-010") not in seen, str(detail))

    # A window: the disk's content starts at its first sector, with the driver's
    # own bytes before it; a write outside it is caught after the run.
    template = "hbvm run {image} --disk {disk0} --disk {disk1},sector=4096"
    workdir = TMP / "windows"
    workdir.mkdir()
    made, windows = conform.make_disks(template, workdir, {0: (2048, None, False), 1: (0, None, True)})
    data = made["disk0"].read_bytes()
    expect("a window's disk holds the driver's content from the window's first sector",
           data[2048 * 512:] == conform.disk_content("disk0") and conform.OUTSIDE_WINDOW in data[:2048 * 512] and
           windows == {"disk0": (2048 * 512, 512, False, 0), "disk1": (0, 4096, True, 0)}, str(windows))
    run = conform.ImageRun("conformance-block.elf")
    run.disks, run.windows = made, windows
    conform.window_checks(run)
    expect("untouched windows pass", [c[0] for c in run.checks] == ["PASS"] * 3, str(run.checks))
    with open(made["disk0"], "r+b") as f:
        f.seek(2047 * 512)
        f.write(b"X")  # the sector before the window
    with open(made["disk1"], "r+b") as f:
        f.seek(4096)
        f.write(b"Y")  # inside a read-only window
    run.checks = []
    conform.window_checks(run)
    expect("a byte changed before the window fails HB-GEN-008, one in a read-only window HB-BLK-010",
           ["FAIL", "HB-GEN-008"] in [c[:2] for c in run.checks] and ["FAIL", "HB-BLK-010"] in [c[:2] for c in run.checks],
           str(run.checks))
    refused = suite_error(conform.make_disks, template, workdir / "x", {0: (0, 100, False)})
    expect("a window smaller than the driver's disk is refused, saying what size it must be", "make it 8192" in refused,
           refused)
    # A window with a length: the driver's bytes after it too, checked after the run.
    sized = TMP / "sized"
    sized.mkdir()
    made, windows = conform.make_disks("h {image} --disk {disk0}", sized, {0: (8, 8192, False)})
    run = conform.ImageRun("conformance-block.elf")
    run.disks, run.windows = made, windows
    with open(made["disk0"], "r+b") as f:
        f.seek(8 * 512 + (4 << 20))
        f.write(b"Z")  # the first byte after the window
    conform.window_checks(run)
    expect("a byte changed after a window with a length fails HB-GEN-008",
           [c[:2] for c in run.checks] == [["FAIL", "HB-GEN-008"]], str(run.checks))
    expect("the disks are the host's in the order the template names them",
           conform.disks_used("h --disk {disk2} --disk {disk0}") == ["disk2", "disk0"])
    typo = TMP / "typo.toml"
    typo.write_text('profile_version = 1\nservices = "all"\ndeny = ["power.reboot"]\n')
    refused = suite_error(conform.load_profile, str(typo), SPEC)
    expect("a profile with a key hbvm does not read is refused, not certified as saying less",
           "unknown key 'deny'" in refused, refused)

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
           [c[0] for c in garbled.checks if c[1] in ("HB-PWR-001", "HB-PWR-003")] == ["FAIL", "FAIL"],
           str(garbled.checks))

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


def not_tested_rules():
    """A check that could not run ("not tested: ...") never counts as a pass."""
    victim = "HB-BLK-010"
    lines = every_must_passes() + [f"SKIP {victim} read-only devices (not tested: no device has the read_only flag)"]
    verdicts, (text, ok) = verdict([make_run("block", lines)])
    expect("a MUST with a 'not tested' check is not tested, even when another check of it passed",
           verdicts[victim]["result"] == "not tested" and "read_only" in verdicts[victim]["note"] and not ok and
           "1 MUST requirement not tested" in text, f"{verdicts[victim]} / {text}")

    # A BLOCK host whose command names no disk: the block image tests nothing and says so.
    block = sorted(r for r in MUSTS if r.startswith("HB-BLK-") and r != "HB-BLK-001")
    lines = [x for x in every_must_passes() if not any(r in x for r in block)] + \
        [f"SKIP {r} BLOCK's checks need devices (not tested: the host offers BLOCK with no devices)" for r in block]
    verdicts, (text, ok) = verdict([make_run("block", lines)])
    expect("a BLOCK host given no disks is not CONFORMANT: its BLOCK MUSTs are not tested",
           not ok and all(verdicts[r]["result"] == "not tested" for r in block) and
           f"{len(block)} MUST requirements not tested" in text, text)

    should = next(r for r, req in SPEC["requirements"].items() if req["level"] == "SHOULD")
    verdicts, (text, ok) = verdict([make_run("all", every_must_passes())])
    expect("a SHOULD that no check reached is not tested (not n/a), and does not decide the verdict",
           verdicts[should]["result"] == "not tested" and ok, f"{verdicts[should]} / {text}")

    lines = every_must_passes() + ["PASS HB-BLK-009 disk0's file holds the bytes after the kill"]
    verdicts, _ = verdict([make_run("block", lines)])
    expect("a pass of a partly observable MUST says what was observed and what cannot be",
           verdicts["HB-BLK-009"]["result"] == "pass" and "not observable: a crash of the host machine" in
           verdicts["HB-BLK-009"]["note"], str(verdicts["HB-BLK-009"]))


def outside_rules():
    """What the driver sees from outside: the end report, readings across reboots,
    the host's CPU time, and images that say the run was set up wrongly."""
    def pwr005(run):
        return [c for c in run.checks if c[1] == "HB-PWR-005"]

    run = make_run("time", [], end_report="shutdown 0")
    expect("an end report of the shutdown the image made passes HB-PWR-005", [c[0] for c in pwr005(run)] == ["PASS"],
           str(pwr005(run)))
    run = make_run("time", [], end_report="shutdown 3")
    expect("an end report of another code fails HB-PWR-005", [c[0] for c in pwr005(run)] == ["FAIL"], str(pwr005(run)))
    for report in (None, "", "finished 0", "shutdown", "shutdown zero"):
        run = make_run("time", [], end_report=report)
        expect(f"an end report of {report!r} fails HB-PWR-005", [c[0] for c in pwr005(run)] == ["FAIL"],
               str(pwr005(run)))
    run = make_run("time", [])
    run.end_file = None
    run.checks = []
    conform.parse_report(run, conform.EXIT_STYLES["plain"])
    verdicts, (text, ok) = verdict([run])
    expect("a host command without {end} leaves HB-PWR-005 not tested: not CONFORMANT",
           verdicts["HB-PWR-005"]["result"] == "not tested" and "{end}" in verdicts["HB-PWR-005"]["note"] and not ok,
           f"{verdicts['HB-PWR-005']} / {text}")
    for report, killed, want in (("halted HLT with interrupts off", None, "PASS"), ("shutdown 71", None, "FAIL"),
                                 ("crashed a triple fault", None, "PASS"),
                                 ("failed hbvm is still running", "kept it running", "SKIP")):
        run = conform.ImageRun("conformance-idle.elf")
        run.end_file, run.end_report, run.killed = pathlib.Path("end-report.txt"), report, killed
        run.exit_status = None if killed else 71
        run.end_expected = ("HB-PWR-005", "halted")
        run.stderr = "BOOT\nSUMMARY: 0 checks, 0 failed, 0 skipped\nEXPECT-END HB-PWR-005 halted 5"
        conform.parse_report(run, conform.EXIT_STYLES["plain"])
        got = [c[0] for c in pwr005(run)]
        expect(f"a machine that can never wake, reported {report!r}{' and kept running' if killed else ''}: {want}",
               got == [want] and run.problem is None, f"{run.checks} {run.problem}")
        if want == "SKIP":
            expect("a host that keeps a machine that cannot wake asleep is allowed (HB-EVT-012)",
                   conform.allowed_skip(run.checks[-1][2])[0], run.checks[-1][2])

    for values, want in (((1, 5), "PASS"), ((5, 5), "FAIL"), ((9, 2), "FAIL"), ((1, 2, 3), "PASS")):
        run = make_run("power", [f"EXPECT-INCREASING HB-TIME-005 {v:#x}" for v in values])
        got = [c[0] for c in run.checks if c[1] == "HB-TIME-005"]
        expect(f"readings {values} across reboots: {want}", got == [want], str(run.checks))
    run = make_run("power", ["EXPECT-INCREASING HB-TIME-005 0x10"])
    expect("a single reading (no reboot) makes no check", not [c for c in run.checks if c[1] == "HB-TIME-005"])

    what = "EVT.wait for 0.5 s"
    for measured, want in (((0.01, 0.5), "PASS"), ((0.5, 0.5), "FAIL"), (None, "SKIP")):
        run = conform.ImageRun("conformance-idle.elf")
        run.cpu[("HB-EVT-015", what)] = measured
        check = conform.cpu_check(run, "HB-EVT-015", what)
        expect(f"a waiting host measured at {measured}: {want}", check[0] == want and
               (want != "SKIP" or "not tested" in check[2]), str(check))

    run = make_run("block", ["USAGE the block image needs 20 MiB of RAM; give the host more RAM"])
    message = conform.usage_problems([run])
    expect("an image that needs more RAM than it got is a usage error of the run, not a verdict",
           "block: the block image needs 20 MiB" in message and "usage error" in message, message)


def profile_rules():
    """Without --profile a host is certified for the services it advertises."""
    minimal = sum(1 << int(s["id"], 16) for s in SPEC["services"] if s["name"] in ("base", "console", "time", "power"))
    services = {s["name"] for s in SPEC["services"] if (minimal >> int(s["id"], 16)) & 1}
    lines = [x for x in every_must_passes() if conform.requirement_service(SPEC, x.split()[1]) in services | {None}]
    run = make_run("minimal", lines)
    run.info["services"] = hex(minimal)
    verdicts, (text, ok) = verdict([run], profile="advertised")
    expect("a host advertising BASE, CONSOLE, TIME and POWER is CONFORMANT by default, the rest n/a",
           ok and verdicts["HB-BLK-001"]["result"] == "n/a" and verdicts["HB-CON-001"]["result"] == "pass", text)
    verdicts, (text, ok) = verdict([run], profile="full")
    expect("the same host under --profile full is not CONFORMANT", not ok and
           verdicts["HB-BLK-001"]["result"] == "fail", text)
    prof = conform.load_profile("advertised", SPEC)
    conform.judge(SPEC, [run], prof, {})
    shown = conform.profile_text(prof, None)
    expect("the certificate names the advertised profile and its services",
           shown.startswith("advertised") and "base, console, power, time" in shown, shown)


def png_file(width, height, pixels, channels, filters):
    """A PNG written the long way: every row with the filter filters[y] applied."""
    def chunk(kind, body):
        return len(body).to_bytes(4, "big") + kind + body + conform.zlib.crc32(kind + body).to_bytes(4, "big")
    raw, previous = bytearray(), bytes(width * channels)
    for y in range(height):
        line = pixels[y]
        out = bytearray()
        for i, b in enumerate(line):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            p = left + up - corner
            paeth = left if abs(p - left) <= abs(p - up) and abs(p - left) <= abs(p - corner) else \
                up if abs(p - up) <= abs(p - corner) else corner
            out.append((b - (0, left, up, (left + up) >> 1, paeth)[filters[y]]) & 0xFF)
        raw += bytes([filters[y]]) + out
        previous = line
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2 if channels == 3 else 6, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", conform.zlib.compress(bytes(raw))) +
            chunk(b"IEND", b""))


def png_rules():
    """Screenshots come back pixel-exact from any PNG a host is likely to write."""
    width, height = 7, 5
    rgb = [bytes((x * 37 + y * 11) & 0xFF for x in range(width * 3)) for y in range(height)]
    rgba = [bytes(b for x in range(width) for b in (*row[3 * x:3 * x + 3], 0x80)) for row in rgb]
    path = TMP / "shot.png"
    for channels, pixels in ((3, rgb), (4, rgba)):
        path.write_bytes(png_file(width, height, pixels, channels, [0, 1, 2, 3, 4]))
        got = conform.read_png(path)
        expect(f"a PNG with {'RGB' if channels == 3 else 'RGBA'} rows and every filter type reads back pixel-exact",
               got == (width, height, rgb), str(got)[:200])
    good = png_file(width, height, rgb, 3, [0] * height)

    def with_header(depth):
        """`good` with another bit depth in IHDR, its CRC recomputed."""
        header = good[16:29]
        header = header[:8] + bytes([depth]) + header[9:]
        chunk = good[8:16] + header
        return good[:8] + chunk + conform.zlib.crc32(chunk[4:]).to_bytes(4, "big") + good[33:]

    bomb_body = conform.zlib.compress(bytes(64 << 20))  # 64 MiB of zeros, for a 7x5 picture
    bomb_chunk = b"IDAT" + bomb_body
    bomb = (good[:33] + len(bomb_body).to_bytes(4, "big") + bomb_chunk +
            conform.zlib.crc32(bomb_chunk).to_bytes(4, "big") + good[-12:])
    for label, data, says in (("a wrong CRC", good[:-5] + bytes([good[-5] ^ 1]) + good[-4:], "wrong CRC"),
                              ("a cut file", good[:50], "runs past the end"),
                              ("no IEND chunk", good[:-12], "no IEND chunk"),
                              ("no signature", b"GIF89a" + good[6:], "no PNG signature"),
                              ("16 bits per sample", with_header(16), "bit depth 16"),
                              ("far more image data than its size", bomb, "more than 110 bytes")):
        path.write_bytes(data)
        try:
            conform.read_png(path)
            expect(f"a PNG with {label} is refused", False, "it was read")
        except ValueError as e:
            expect(f"a PNG with {label} is refused, saying so", says in str(e), str(e))


def audio_rules():
    """{audio0}'s frames check: the aud image's run found, and a count beyond the
    file (a garbled line, or one wrapped below 0) failed at once, not built."""
    import wave
    path = TMP / "audio0.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(48000)
        frames = bytearray(4 * 100)  # silence, then the pattern's frames 0..199
        for n in range(200):
            v = 1 + n % 32767
            frames += v.to_bytes(2, "little", signed=True) + (-v).to_bytes(2, "little", signed=True)
        w.writeframes(bytes(frames))
    got = conform.audio_check(None, "HB-AUD-008", path, "frames 10 150")
    expect("{audio0}: the frames the image wrote are found after silence", got[0] == "PASS", str(got))
    got = conform.audio_check(None, "HB-AUD-008", path, "frames 10 195")
    expect("{audio0}: frames the file lacks fail", got[0] == "FAIL", str(got))
    started = time.monotonic()
    got = conform.audio_check(None, "HB-AUD-008", path, f"frames 10 {2 ** 64 - 5}")
    expect("{audio0}: a count beyond the file (wrapped below 0) fails at once",
           got[0] == "FAIL" and time.monotonic() - started < 1, str(got))


def place_rules():
    """Device places: an image declares the place it needs; a host command with it
    is judged on what the host left there, one without it leaves the requirements
    the image names "not tested". A made-up place, image and host (a shell)."""
    conform.PLACES["probe0"] = conform.Place("output", "a file the host writes the probe's bytes into",
                                             "--probe path={probe0}")
    try:
        image = TMP / "conformance-probe.elf"
        note = b"HYPERBIOS-CONFORM-NEEDS:{probe0}:HB-CON-001,HB-CON-002\x00"
        image.write_bytes(b"\x7fELF" + bytes(64) + note + bytes(16))
        expect("the driver reads the places an image declares",
               conform.image_needs(image) == {"probe0": ["HB-CON-001", "HB-CON-002"]}, str(conform.image_needs(image)))
        report = ("echo BOOT >&2; echo 'PASS HB-CON-001 the probe answered' >&2; "
                  "echo 'EXPECT-PLACE HB-CON-002 probe0 text probe says hello' >&2; "
                  "echo 'SUMMARY: 1 checks, 0 failed, 0 skipped' >&2")
        writes = "printf 'x probe says hello x' > \"$1\"; "

        run = conform.run_image(image, f"sh -c {shlex.quote(writes + report)} host {{probe0}}", 20, None)
        got = {(v, r) for v, r, _ in run.checks if r.startswith("HB-CON")}
        expect("a host given the place is judged on what it left there",
               got == {("PASS", "HB-CON-001"), ("PASS", "HB-CON-002")} and run.problem is None, str(run.checks))
        run = conform.run_image(image, f"sh -c {shlex.quote(report)} host {{probe0}}", 20, None)
        expect("a host given the place that leaves nothing there fails",
               any(c[:2] == ["FAIL", "HB-CON-002"] for c in run.checks),
               str(run.checks))

        run = conform.run_image(image, f"sh -c {shlex.quote(report)} host", 20, None)
        verdicts, (text, ok) = verdict([make_run("all", every_must_passes()), run])
        expect("a host command without the place: the requirements the image names are not tested, even where "
               "its own check passed, and the verdict says so",
               verdicts["HB-CON-001"]["result"] == "not tested" and verdicts["HB-CON-002"]["result"] == "not tested"
               and "{probe0} placeholder" in verdicts["HB-CON-001"]["note"] and not ok and
               text.startswith("NOT CONFORMANT — ") and "MUST requirements not tested" in text,
               f"{verdicts['HB-CON-001']} / {text}")

        for label, text in (("a space after a comma", b"{probe0}:HB-CON-001, HB-CON-002"),
                            ("an upper-case name", b"{Probe0}:HB-CON-001"), ("no requirement", b"{probe0}:")):
            image.write_bytes(b"\x7fELF" + b"HYPERBIOS-CONFORM-NEEDS:" + text + b"\x00")
            try:
                conform.image_needs(image)
                expect(f"a declaration with {label} is refused, not ignored", False, "it was accepted")
            except conform.SuiteError as e:
                expect(f"a declaration with {label} is refused, not ignored", "cannot read" in str(e), str(e))
        image.write_bytes(b"\x7fELF" + b"HYPERBIOS-CONFORM-NEEDS:{hologram}:HB-CON-001\x00")
        try:
            conform.run_image(image, "true", 20, None)
            expect("an image that needs a place the driver does not know is refused", False, "it ran")
        except conform.SuiteError as e:
            expect("an image that needs a place the driver does not know is refused, naming it",
                   "{hologram}" in str(e), str(e))
        try:
            conform.expand("host {nowhere}", image, TMP)
            expect("a host command with an unknown placeholder is refused", False, "it was accepted")
        except conform.SuiteError as e:
            expect("a host command with an unknown placeholder is refused, listing the device places",
                   "{probe0}" in str(e), str(e))
    finally:
        del conform.PLACES["probe0"]


def live_rules():
    """The driver acts on lines a host prints while it runs (a made-up host: a shell)."""
    run = conform.ImageRun("conformance-block.elf")
    start = time.monotonic()
    status, out, err, problem, killed = conform.capture(
        ["sh", "-c", "echo BOOT >&2; echo 'KILL-NOW HB-BLK-009' >&2; sleep 30"], 20,
        live=lambda pid: conform.LiveRun(run, pid))
    took = time.monotonic() - start
    expect("KILL-NOW makes the driver kill the host at once", killed and "KILL-NOW" in killed and problem is None and
           status is None and took < 5, f"{killed} {problem} {took:.1f} s")

    run = conform.ImageRun("conformance-idle.elf")
    start = time.monotonic()
    status, out, err, problem, killed = conform.capture(
        ["sh", "-c", "echo 'EXPECT-END HB-PWR-005 halted 1' >&2; sleep 30"], 20,
        live=lambda pid: conform.LiveRun(run, pid))
    took = time.monotonic() - start
    expect("EXPECT-END gives the host its seconds, then the driver stops it", killed and problem is None and
           0.9 < took < 5 and run.end_expected == ("HB-PWR-005", "halted"), f"{killed} {problem} {took:.1f} s")

    if not os.path.isdir("/proc/self"):
        expect("CPU time is measured from /proc", False, "no /proc here")
        return
    # A host that spins where it should wait: one process busy for 0.6 s (on a
    # loaded machine it may get less than a whole CPU, but far more than the limit).
    spin = ("import sys, time\nprint('MEASURE-CPU BEGIN HB-EVT-015 w', file=sys.stderr, flush=True)\n"
            "end = time.monotonic() + 0.6\nwhile time.monotonic() < end: pass\n"
            "print('MEASURE-CPU END HB-EVT-015 w', file=sys.stderr, flush=True)\n")
    for label, command, busy in (
            ("a host that sleeps", ["sh", "-c", "echo 'MEASURE-CPU BEGIN HB-EVT-015 w' >&2; sleep 0.6; "
                                                "echo 'MEASURE-CPU END HB-EVT-015 w' >&2"], False),
            ("a host that spins", [sys.executable, "-c", spin], True)):
        run = conform.ImageRun("conformance-idle.elf")
        conform.capture(command, 20, live=lambda pid: conform.LiveRun(run, pid))
        measured = run.cpu.get(("HB-EVT-015", "w"))
        share = measured[0] if measured else None
        judged = conform.cpu_check(run, "HB-EVT-015", "w")[0]
        expect(f"the CPU of {label} is measured from outside and judged {'FAIL' if busy else 'PASS'}",
               share is not None and judged == ("FAIL" if busy else "PASS") and
               (share > 2 * conform.IDLE_CPU_LIMIT if busy else share < conform.IDLE_CPU_LIMIT), str(measured))


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
    disks, _ = conform.make_disks(template, workdir, {})
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
