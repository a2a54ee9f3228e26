#!/usr/bin/python3
"""End-to-end test of the C example kernel (examples/c_kernel/kernel.c) on one host:

  reference-host  writes a 64 KiB disk image whose sector 0 holds a known pattern,
                  boots c_kernel.elf on it (hbvm run c_kernel.elf --disk FILE) on
                  --accel soft or kvm, and checks:
                    - the greeting names the host's vendor signature;
                    - TIME.monotonic_ns and TIME.wallclock_ns lines, the wall clock
                      within a day of this machine's;
                    - the disk's size, a 512-byte BLOCK.read of sector 0, and its
                      hex dump equal to the pattern written;
                    - the EVT timer expired after at least 100 ms (and well under
                      the kernel's own 1 s limit), one expiration;
                    - "Goodbye." and exit status 0 (POWER.shutdown 0).
                  With --accel kvm where /dev/kvm cannot be opened read-write, it
                  prints SKIP and exits 77 (ctest's SKIP_RETURN_CODE).
  qemu            reports on port 0xE9 that there is no HyperBIOS host, exits via 0xF4
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from example_tests import kvm_problem  # noqa: E402

SCRIPTS = pathlib.Path(__file__).resolve().parents[2] / "scripts"
SKIP = 77
SECTORS = 128


def pattern():
    """Sector 0: a recognisable text, then every byte value, then 0xA5 to the end."""
    head = b"HyperBIOS C kernel test disk\0"
    body = head + bytes(range(256))
    return body + bytes([0xA5]) * (512 - len(body))


def expected_dump(data):
    return [f"{i:04x}:" + "".join(f" {b:02x}" for b in data[i:i + 16]) for i in range(0, len(data), 16)]


def run_reference_host(args, build):
    problems = []
    expect = lambda ok, message: ok or problems.append(message)
    with tempfile.TemporaryDirectory(prefix="hb-c-kernel-") as tmp:
        disk = pathlib.Path(tmp) / "disk.img"
        sector0 = pattern()
        disk.write_bytes(sector0 + bytes(512 * (SECTORS - 1)))
        command = [str(build / "bin" / "hbvm"), "run", str(build / "examples" / "c_kernel" / "c_kernel.elf"),
                   "--accel", args.accel, "--disk", str(disk), "--timeout", "60"]
        start = time.monotonic()
        proc = subprocess.run(command, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL,
                              timeout=120)
        elapsed = time.monotonic() - start
    lines = proc.stdout.splitlines()

    expect(proc.returncode == 0, f"exit status {proc.returncode}, expected 0 (POWER.shutdown(0))")
    expect(any(re.fullmatch(r'Hello from a C kernel! Host vendor "[^"]+", interface \d+\.\d+', l) for l in lines),
           "no greeting naming the host's vendor and interface version")
    mono = [int(m.group(1)) for l in lines if (m := re.fullmatch(r"TIME\.monotonic_ns: (\d+)", l))]
    wall = [int(m.group(1)) for l in lines if (m := re.fullmatch(r"TIME\.wallclock_ns: (\d+)", l))]
    expect(len(mono) == 1, "no TIME.monotonic_ns line")
    expect(len(wall) == 1 and abs(wall[0] - time.time_ns()) < 86400 * 10**9,
           f"TIME.wallclock_ns {wall} is not within a day of this machine's clock")
    expect(any(re.fullmatch(rf'BLOCK: disk 0 "[^"]*", {SECTORS} sectors of 512 bytes', l) for l in lines),
           f"no 'BLOCK: disk 0 ..., {SECTORS} sectors of 512 bytes' line")
    expect("BLOCK.read sector 0: 512 bytes" in lines, "no 'BLOCK.read sector 0: 512 bytes' line")
    dump = [l for l in lines if re.fullmatch(r"[0-9a-f]{4}:( [0-9a-f]{2})+", l)]
    expect(dump == expected_dump(sector0), "the hex dump of sector 0 differs from what the test wrote:\n  " +
           "\n  ".join(dump[:4]) + "\n  ...")
    evt = [(m.group(1), int(m.group(2)), int(m.group(3))) for l in lines
           if (m := re.fullmatch(r"EVT: timer 0 (expired|did NOT expire) after (\d+) ms \(set for 100 ms\), "
                                 r"expirations (\d+)", l))]
    expect(len(evt) == 1, "no 'EVT: timer 0 ...' line")
    if evt:
        what, ms, expirations = evt[0]
        expect(what == "expired", "the EVT timer did not expire within a second")
        expect(100 <= ms < 1000, f"EVT.wait returned after {ms} ms, expected 100 ms or a little more")
        expect(expirations == 1, f"EVT.timer_ack reported {expirations} expirations, expected 1")
    expect(lines and lines[-1] == "Goodbye.", "the output does not end with 'Goodbye.'")
    print(f"c_kernel on reference-host ({args.accel}): {elapsed:.2f} s, exit status {proc.returncode}"
          + (f", EVT wait {evt[0][1]} ms" if evt else ""))
    return problems, proc.stdout, proc.stderr


def run_qemu(build):
    command = [str(SCRIPTS / "run-on-qemu"), str(build / "examples" / "c_kernel" / "c_kernel.elf"), "--timeout", "30"]
    proc = subprocess.run(command, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL)
    problems = []
    absent = "c_kernel: no HyperBIOS host present"
    if absent not in proc.stdout:
        problems.append(f"'{absent}' not printed on the debug port")
    if proc.returncode != (2 << 1) | 1:
        problems.append(f"exit status {proc.returncode}, expected {(2 << 1) | 1}")
    print(f"c_kernel on qemu: exit status {proc.returncode}")
    return problems, proc.stdout, proc.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=["reference-host", "qemu"])
    parser.add_argument("--build", required=True, help="the CMake build folder")
    parser.add_argument("--accel", default="soft", choices=["soft", "kvm"],
                        help="accelerator of the reference host (default: %(default)s)")
    args = parser.parse_args()
    build = pathlib.Path(args.build)
    if args.target == "reference-host" and args.accel == "kvm" and (why := kvm_problem()):
        print(f"SKIP: c_kernel on KVM: {why}")
        return SKIP
    problems, out, err = run_reference_host(args, build) if args.target == "reference-host" else run_qemu(build)
    if problems:
        for p in problems:
            print("FAIL:", p)
        print("--- stdout\n" + out + "\n--- stderr\n" + err)
        return 1
    print("PASS: " + ("greeted, read both clocks, dumped sector 0 as written, waited 100 ms on an EVT timer, "
                      "exited 0" if args.target == "reference-host"
                      else "reported that no HyperBIOS host is present and ended the run cleanly"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
