#!/usr/bin/python3
"""RAM above 4 GiB: boots the test guest high_memory, which writes and reads
back a pattern at the end of RAM below the hole, just above 4 GiB and at the
very end of RAM, compares MEM's map with the Multiboot map and tries buffers in
the hole (INVALID_ADDRESS), and prints both maps and the end of the boot
stub's identity map. Checked here against what the machine was given:

  soft, kvm   hbvm --accel soft|kvm with --mem 8G (the hole: RAM to 3 GiB, then
              from 4 GiB), 3G (no hole), 3G + 4K (one page above 4 GiB), 64M and
              40G (more than the stub's 2 MiB pages reach: it maps 32 GiB and
              says so); a 16 GiB guest costs hbvm little memory (the guest touches
              a few pages); a host that refuses the reservation (ulimit -v) gives
              a clear error and status 74. kvm exits 77 (skipped) where /dev/kvm
              cannot be opened.
  qemu        QEMU (no HyperBIOS host) with -m 6G and -m 128: the boot stub maps
  qemu-pvh    what QEMU's memory map reports, through Multiboot or the PVH note,
  qemu-1g     and with -cpu max (1 GiB pages above 4 GiB).

Exit status 0 when every check holds, 1 otherwise, 77 when skipped."""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile

GIB = 1 << 30
MIB = 1 << 20
HOLE_START, HIGH_START = 3 * GIB, 4 * GIB        # reference-host/core/guest_memory.hpp, ram_layout
STUB_REACH_2M = 32 * GIB                          # HYPERBIOS_BOOT_PAGE_DIRECTORIES (32) GiB
SKIPPED = 77
SCRIPTS = pathlib.Path(__file__).resolve().parents[2] / "scripts"

failures = []


def report(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)


def run(command, shell_prefix=None):
    """Runs a command; returns (status, its output, its peak resident memory in KiB)."""
    if shell_prefix:
        command = ["sh", "-c", shell_prefix + ' && exec "$@"', "sh", *command]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return proc.returncode, out.read().decode(errors="replace"), usage.ru_maxrss


def values(output, key):
    return [int(v, 16) if v.startswith("0x") else int(v)
            for v in re.findall(rf"^INFO {re.escape(key)}: (0x[0-9a-f]+|\d+)$", output, re.M)]


def regions(output, which):
    return [(int(b, 16), int(n, 16), int(t)) for b, n, t in
            re.findall(rf"^INFO {which}: base (0x[0-9a-f]+|0) length (0x[0-9a-f]+) type (\d+)$", output, re.M)]


def hbvm_map(mem):
    """The map hbvm's MEM service gives a machine of `mem` bytes (core/multiboot_loader.cpp)."""
    low = min(mem, HOLE_START)
    m = [(0, 0x7000, 1), (0x7000, 0x1000, 0x100), (0x8000, 0x9FC00 - 0x8000, 1), (0x9FC00, 0x100000 - 0x9FC00, 2),
         (0x100000, low - 0x100000, 1)]
    if mem > low:
        m.append((HIGH_START, mem - low, 1))
    return m


def check_guest(name, status, output, expected_status):
    """The guest's own checks: every one passed, the run ended as expected."""
    fails = [line for line in output.splitlines() if line.startswith("FAIL ")]
    passes = sum(1 for line in output.splitlines() if line.startswith("PASS "))
    report(f"{name}: the guest's {passes} checks pass", not fails and passes > 0,
           "; ".join(fails) or "no checks ran:\n" + output)
    report(f"{name}: exit status {expected_status}", status == expected_status, f"{status}:\n{output}")


def check_mapped(name, output, ram_end, reach):
    ends = values(output, "identity map end")
    want = max(HIGH_START, min(-(-ram_end // GIB) * GIB, reach))
    report(f"{name}: the boot stub maps up to {want:#x}", ends == [want], f"it says {ends}")


def hbvm_cases(a):
    guest = str(pathlib.Path(a.guests) / "high_memory.elf")

    def hbvm(mem):
        return [a.hbvm, "run", guest, "--accel", a.accel, "--mem", mem, "--timeout", "300"]

    for text, mem in (("8G", 8 * GIB), ("3G", 3 * GIB), ("3145732K", 3 * GIB + 4096), ("64M", 64 * MIB),
                      ("40G", 40 * GIB)):
        name = f"--mem {text} ({a.accel})"
        status, out, _ = run(hbvm(text))
        check_guest(name, status, out, 0)
        want = hbvm_map(mem)
        report(f"{name}: MEM's map is the machine's", regions(out, "mem") == want,
               f"got {regions(out, 'mem')}, expected {want}")
        boot = [(b, n, 2 if t == 0x100 else t) for b, n, t in want]
        report(f"{name}: the Multiboot map is the machine's", regions(out, "boot") == boot,
               f"got {regions(out, 'boot')}, expected {boot}")
        ram_end = mem if mem <= HOLE_START else HIGH_START + mem - HOLE_START
        report(f"{name}: RAM ends at {ram_end:#x}", values(out, "ram end") == [ram_end], out)
        check_mapped(name, out, ram_end, STUB_REACH_2M)  # hbvm's CPU has no 1 GiB pages (core/cpu_features.hpp)
        hole = "yes" if mem > HOLE_START else "no"
        report(f"{name}: hole {hole}", f"INFO hole: {hole}" in out.splitlines(), out)
        if mem > 32 * GIB:
            report(f"{name}: the pattern goes to the end of the identity map, not past it",
                   f"PASS a pattern at the end of the identity map, inside RAM ({STUB_REACH_2M - 16:#x}) reads back"
                   in out.splitlines() and "a pattern at the very end of RAM" not in out, out)

    # A large guest costs the pages it touches, not its size.
    status, out, rss = run(hbvm("16G"))
    report(f"--mem 16G ({a.accel}): the guest runs", status == 0, out)
    report(f"--mem 16G ({a.accel}): hbvm's peak resident memory {rss // 1024} MiB stays under 256 MiB",
           rss < 256 * 1024, f"{rss} KiB")

    # A host that refuses to reserve guest RAM: a clear line and status 74.
    if a.sanitized:
        print("SKIP ulimit -v: ASan cannot start under an address-space limit; the plain build runs this case")
        return
    status, out, _ = run(hbvm("16G"), shell_prefix="ulimit -v 4000000")
    report(f"--mem 16G under ulimit -v 4000000 ({a.accel}): status 74", status == 74, f"{status}: {out}")
    report(f"--mem 16G under ulimit -v 4000000 ({a.accel}): says why",
           "cannot reserve 16384 MiB of guest memory" in out and "ulimit -v" in out, out)


def qemu_cases(a):
    image = pathlib.Path(a.guests) / ("high_memory_pvh.elf" if a.target == "qemu-pvh" else "high_memory.elf")
    for memory in ("6G", "128"):
        name = f"QEMU -m {memory}{' -cpu max' if a.target == 'qemu-1g' else ''} ({a.target})"
        command = [str(SCRIPTS / "run-on-qemu"), str(image), "--timeout", "120", "--memory", memory]
        if a.target == "qemu-1g":
            command += ["--cpu", "max"]
        status, out, _ = run(command)
        check_guest(name, status, out, (3 << 1) | 1)
        usable = [(b, n) for b, n, t in regions(out, "boot") if t == 1]
        ram_end = max((b + n for b, n in usable), default=0)
        report(f"{name}: RAM above 4 GiB {'' if memory == '6G' else 'not '}reported",
               (ram_end > HIGH_START) == (memory == "6G"), out)
        check_mapped(name, out, ram_end, 512 * GIB if a.target == "qemu-1g" else STUB_REACH_2M)
        if memory == "6G":
            pages = "1 GiB" if a.target == "qemu-1g" else "2 MiB"
            report(f"{name}: {pages} pages above 4 GiB", f"INFO pages above 4 GiB: {pages}" in out.splitlines(), out)
            report(f"{name}: a pattern at the start of RAM at 4 GiB and at the very end of RAM",
                   "a pattern at the start of RAM at 4 GiB" in out and "a pattern at the very end of RAM" in out, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=["soft", "kvm", "qemu", "qemu-pvh", "qemu-1g"])
    parser.add_argument("--hbvm", help="hbvm, for soft and kvm")
    parser.add_argument("--guests", required=True, help="folder of the test guests' .elf files")
    parser.add_argument("--sanitized", action="store_true",
                        help="hbvm is built with ASan, which cannot start under `ulimit -v`: skip that case")
    a = parser.parse_args()
    if a.target in ("soft", "kvm"):
        a.accel = a.target
        if a.target == "kvm":
            try:
                os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
            except OSError as e:
                print(f"SKIP /dev/kvm cannot be opened here ({e.strerror})")
                return SKIPPED
        hbvm_cases(a)
    else:
        qemu_cases(a)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
