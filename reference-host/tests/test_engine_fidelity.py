#!/usr/bin/python3
"""Engine fidelity: a kernel must behave the same under --accel soft and --accel
kvm. Each case boots a probe guest that reports "PASS name" / "FAIL name (why)"
lines on the debug console and shuts down with 0 when every check passed. The
same cases run on every accelerator (--accel soft in ctest, --accel kvm in the
nested lane), and the lines each prints are compared with a fixed list, so that
both engines are held to the same answers."""

import argparse
import pathlib
import subprocess
import sys

failures = []


def probe(name, args, expected_lines, stdin=b""):
    out = subprocess.run(args, input=stdin, capture_output=True, timeout=120)
    err = out.stderr.decode(errors="replace")
    got = [line for line in err.splitlines() if line.startswith(("PASS ", "FAIL "))]
    problems = []
    if out.returncode != 0:
        problems.append(f"exit status {out.returncode}")
    problems += [f"missing {line!r}" for line in expected_lines if line not in got]
    problems += [f"unexpected {line!r}" for line in got if line not in expected_lines]
    if problems:
        failures.append(name)
        print(f"FAIL {name}: " + "; ".join(problems))
        print("  stderr: " + err.strip().replace("\n", "\n          "))
    else:
        print(f"PASS {name} ({len(got)} checks)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--guests", required=True, help="folder of the test guests' .elf files")
    parser.add_argument("--accel", default="soft", choices=["soft", "kvm"])
    a = parser.parse_args()
    guest = lambda name: str(pathlib.Path(a.guests) / f"{name}.elf")  # noqa: E731
    run = lambda name, *extra: [a.hbvm, "run", guest(name), "--accel", a.accel, *extra]  # noqa: E731

    # Page translation (mov eax, 42; ret on stdin for the last check).
    probe("paging", run("paging_probe"), [
        "PASS remapped page reads the physical page behind it",
        "PASS a write through the mapping lands in that physical page",
        "PASS a higher-half mapping reads the kernel's data",
        "PASS switching CR3 switches the address space",
        "PASS INVLPG makes a changed entry take effect",
        "PASS a CR3 reload makes a changed entry take effect",
        "PASS CONSOLE.write of a buffer by its physical address",
        "PASS code written by the host runs at once",
    ], stdin=bytes([0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3]))

    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
