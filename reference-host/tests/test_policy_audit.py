#!/usr/bin/python3
"""Nothing outside the policy is reachable (issue 24): under the restricted
built-in profiles (ps3, minimal) the whole conformance suite and a run of the
random-call image of at least a million calls, each with hbvm's access audit
(--audit), must show no device access and no served call outside the profile.

The audit is shown to work before it is trusted: each policy fault hbvm can
inject (policy-*) is run with the audit on, under the profile it breaks, and the
audit must report a violation for each.

    test_policy_audit.py --hbvm build/bin/hbvm --images build/conformance/images
"""

import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "conformance"))
import conform  # noqa: E402

AUDIT_LINE = re.compile(r"^audit profile=(\S+) (.*) violations=(\d+)(?: first: (.*))?$")
# The faults of the policy, the profile each breaks, the images whose run makes
# the broken rule matter (the audit needs an access to see), and what the
# audit must say of it (a violation of another kind would not show the audit
# catching this fault).
POLICY_FAULTS = {
    "policy-denied-runs": ("no-reboot", ["power"], "power.reboot was served, but the profile denies it"),
    "policy-window-off-by-one": ("ps3", ["block"], "outside the profile's window"),
    "policy-limit-unreported": ("ps3", ["dsp"], "beyond the profile's largest"),
    "policy-rate-unapplied": ("ps3", ["dsp"], "dsp.present served 61 times within a second"),
}
RANDOM_CALLS = 1_000_000

failures = []


def expect(label, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {label}" + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(label)


def read_audit(path):
    """[(profile, {counter: value}, violations, first)] from an audit file."""
    lines = []
    for text in pathlib.Path(path).read_text().splitlines() if pathlib.Path(path).exists() else []:
        if text.startswith("audit-violation "):
            lines.append((text.split()[1].removeprefix("profile="), {}, 1, text.split(" ", 2)[2]))
            continue
        m = AUDIT_LINE.match(text)
        if not m:
            lines.append(("?", {}, 1, f"a malformed audit line: {text[:80]}"))
            continue
        counters = dict(part.split("=", 1) for part in m.group(2).split())
        lines.append((m.group(1), {k: int(v) for k, v in counters.items()}, int(m.group(3)), m.group(4) or ""))
    return lines


def totals(lines):
    sums = {}
    for _, counters, _, _ in lines:
        for k, v in counters.items():
            sums[k] = sums.get(k, 0) + v
    return sums


def certify(hbvm, images, profile, audit, fault=None, only=None):
    host = (f"{hbvm} run {{image}} --accel soft --timeout 60 --profile {profile} --audit {audit}"
            + (f" --inject-fault {fault}" if fault else "") + f" {conform.HBVM_PLACES}")
    chosen = [i for i in images if not only or i.stem.removeprefix("conformance-") in only]
    return conform.certify(host, chosen, profile=profile, timeout=90)


def random_calls(hbvm, images, profile, audit, workdir):
    """The random-call image, a million calls, with the profile's disks given."""
    template = f"{hbvm} run {{image}} {conform.HBVM_PLACES}"
    disks, _ = conform.make_disks(template, workdir, conform.load_profile(profile, conform.load_spec())["windows"])
    command = [str(hbvm), "run", str(images / "conformance-random_calls.elf"), "--accel", "soft", "--timeout", "120",
               "--profile", profile, "--audit", str(audit),
               "--disk", str(disks["disk0"]), "--disk", f"{disks['disk1']},sector=4096",
               "--disk", f"{disks['disk2']},ro", "--disk", str(disks["disk3"]),
               "--display", "none", "--input", "keyboard", "--net", "user", "--audio", "none",
               "--", "seconds=110"]
    # Devices of services the profile leaves out are left out by hbvm with a note.
    done = subprocess.run(command, capture_output=True, text=True, timeout=150)
    return done.returncode, done.stdout + done.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hbvm", required=True, type=pathlib.Path)
    parser.add_argument("--images", required=True, type=pathlib.Path)
    args = parser.parse_args()
    images = conform.find_images(str(args.images), ".elf", None)

    with tempfile.TemporaryDirectory(prefix="policy-audit-") as tmp:
        tmp = pathlib.Path(tmp)
        # First the audit itself: each policy fault must show in it.
        for fault, (profile, only, said) in POLICY_FAULTS.items():
            audit = tmp / f"{fault}.log"
            certify(args.hbvm, images, profile, audit, fault=fault, only=only)
            lines = read_audit(audit)
            found = [f for _, _, v, f in lines if v]
            expect(f"the audit catches {fault} under --profile {profile}", any(said in f for f in found),
                   f"{len(lines)} audit lines; violations: {found[:3] or 'none'}")
            if found:
                print(f"     {found[0]}")

        # Then the profiles, with the audit trusted.
        for profile in ("ps3", "minimal"):
            audit = tmp / f"{profile}.log"
            result = certify(args.hbvm, images, profile, audit)
            expect(f"the whole suite under --profile {profile} is CONFORMANT", result["ok"], result["verdict"])
            workdir = tmp / f"random-{profile}"
            workdir.mkdir()
            code, output = random_calls(args.hbvm, args.images, profile, audit, workdir)
            m = re.search(r"NOTE random calls: (\d+) calls", output)
            calls = int(m.group(1)) if m else 0
            expect(f"the random-call image made {RANDOM_CALLS:,} calls under --profile {profile} with no FAIL",
                   code == 0 and calls >= RANDOM_CALLS and "SUMMARY: " in output and ", 0 failed" in output and
                   "\nFAIL " not in output, f"exit {code}, {calls} calls:\n{output[-2000:]}")
            lines = read_audit(audit)
            bad = [(p, f) for p, _, v, f in lines if v]
            sums = totals(lines)
            ended = [line for line in lines if line[1]]  # the runs that wrote their summary (not killed)
            expect(f"the audit under --profile {profile} found nothing outside the policy "
                   f"({len(lines)} runs, {sums.get('calls', 0):,} calls served, {sums.get('disk-accesses', 0):,} disk "
                   f"accesses, {sums.get('display-rects', 0):,} display rectangles, {sums.get('net-frames', 0):,} "
                   f"network frames, {sums.get('audio-frames', 0):,} frames of sound)",
                   not bad and len(ended) >= len(images) - 1,
                   f"{len(bad)} violations, the first: {bad[:1]}; {len(ended)} summaries for {len(images) + 1} runs")
            if profile == "ps3":
                # The audit watched every kind of access it checks.
                expect("under ps3 the audit saw disk accesses, display rectangles, network frames and sound",
                       all(sums.get(k, 0) > 0 for k in ("disk-accesses", "display-rects", "net-frames",
                                                        "audio-frames")), str(sums))
            else:
                expect("under minimal no disk, display, network or sound access happened at all",
                       all(sums.get(k, 0) == 0 for k in ("disk-accesses", "display-rects", "net-frames",
                                                        "audio-frames")), str(sums))
    print(f"policy audit: {'all' if not failures else len(failures)} "
          f"{'checks passed' if not failures else 'checks failed: ' + ', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
