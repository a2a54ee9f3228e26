#!/usr/bin/python3
"""End-to-end test of the hello example on one host:

  reference-host  greets through CONSOLE, names the host, reads both clocks, exits 0
  qemu            reports on port 0xE9 that there is no HyperBIOS host, exits via 0xF4
  bochs           the same on a plain PC (no hypervisor bit), powers off
"""

import argparse
import pathlib
import re
import subprocess
import sys
import time

SCRIPTS = pathlib.Path(__file__).resolve().parents[2] / "scripts"


def spec_version():
    """The spec version hbvm implements, from the spec's version line."""
    text = (SCRIPTS.parent / "spec" / "hyperbios.md").read_text()
    return re.search(r"\*\*Version (\d+\.\d+)", text).group(1)


def expect(problems, condition, message):
    if not condition:
        problems.append(message)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=["reference-host", "qemu", "bochs"])
    parser.add_argument("--build", required=True, help="the CMake build folder")
    parser.add_argument("--accel", default="soft", choices=["soft", "kvm"],
                        help="accelerator of the reference host (default: %(default)s)")
    args = parser.parse_args()
    build = pathlib.Path(args.build)
    hello = build / "examples" / "hello"
    if args.target == "reference-host":
        command = [str(build / "bin" / "hbvm"), "run", str(hello / "hello.elf"), "--timeout", "60",
                   "--accel", args.accel]
    elif args.target == "qemu":
        command = [str(SCRIPTS / "run-on-qemu"), str(hello / "hello.elf"), "--timeout", "30"]
    else:
        command = [str(SCRIPTS / "run-on-bochs"), str(hello / "hello.iso"), "--timeout", "90"]

    start = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    out, err = proc.stdout, proc.stderr
    problems = []
    if args.target == "reference-host":
        expect(problems, proc.returncode == 0, f"exit status {proc.returncode}, expected 0 (POWER.shutdown(0))")
        expect(problems, "Hello from a HyperBIOS guest!" in out, "no greeting on the console (stdout)")
        expect(problems, "Host: HyperBIOS reference host (hbvm " in out, "host name missing from the console")
        expect(problems, f'vendor "HyperBIOSRef", spec {spec_version()}' in out, "vendor or spec version missing")
        wall = re.search(r"Wall clock: (\d{4})-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", out)
        expect(problems, wall and 2024 <= int(wall.group(1)) < 2200, "no plausible wall-clock date")
        expect(problems, re.search(r"Monotonic clock: \d+ ns \(resolution \d+ ns\)", out), "no monotonic clock")
        expect(problems, "Goodbye." in out, "no goodbye")
        expect(problems, "no HyperBIOS host" not in out + err, "hello claims there is no host")
    else:
        absent = "hello: no HyperBIOS host present"
        expect(problems, absent in out, f"'{absent}' not printed on the debug port")
        expect(problems, "Hello from a HyperBIOS guest!" not in out, "hello greeted although there is no host")
        if args.target == "qemu":
            expect(problems, "a hypervisor, but no HyperBIOS interface" in out,
                   "QEMU sets the hypervisor bit; hello should say it scanned and found nothing")
            expect(problems, proc.returncode == (2 << 1) | 1,
                   f"exit status {proc.returncode}, expected 5 (code 2 written to isa-debug-exit)")
        else:
            expect(problems, "CPUID.1:ECX[31] is clear" in out, "Bochs has no hypervisor bit; hello should say so")
            expect(problems, proc.returncode == 0, f"run-on-bochs exit {proc.returncode}: the guest did not power off")
    where = f"{args.target} ({args.accel})" if args.target == "reference-host" else args.target
    print(f"hello on {where}: {elapsed:.2f} s, exit status {proc.returncode}")
    if problems:
        for p in problems:
            print("FAIL:", p)
        print("--- stdout\n" + out + "--- stderr\n" + err)
        return 1
    print("PASS: " + ("greeted, named the host, read both clocks, exited 0" if args.target == "reference-host"
                      else "reported that no HyperBIOS host is present and ended the run cleanly"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
