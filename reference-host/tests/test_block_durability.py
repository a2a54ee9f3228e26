#!/usr/bin/python3
"""Durability of BLOCK writes (spec HB-BLK-006, HB-BLK-009), from outside hbvm.

(a) Nothing is held in the host process: a guest writes blocks and prints
    "wrote n" after each write returns; hbvm is killed with SIGKILL at a random
    moment; a second hbvm on the same disk checks that every block reported
    written is there. Repeated --rounds times (each kill lands elsewhere).
(b) flush syncs: a kill cannot show it (the kernel's page cache survives the
    process), so the order of system calls is checked instead: under
    `strace -f -e trace=fdatasync,fsync,write`, the disk's sync completes before
    hbvm writes the guest's "flushed" line, which the guest prints after flush
    returned. The same check must fail on a host with --inject-fault
    flush-ignored, or it proves nothing.

usage: test_block_durability.py --hbvm HBVM --guest disk_writer.elf [--accel soft] [--rounds N]
"""

import argparse
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

failures = []


def report(ok, what, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {what}" + (f" ({detail})" if detail and not ok else ""), flush=True)
    if not ok:
        failures.append(what)


def kill_round(args, disk, stop_after):
    """Starts the writer, kills it after `stop_after` "wrote" lines; returns the last n it reported."""
    proc = subprocess.Popen([args.hbvm, "run", args.guest, "--accel", args.accel, "--disk", disk, "--", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    last = -1
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        m = re.match(rb"^wrote (\d+)$", line.strip())
        if m:
            last = int(m.group(1))
            if last >= stop_after:
                break
        if time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    # Lines the guest printed before the kill but that were still in the pipe count too.
    rest = proc.stdout.read()
    for m in re.finditer(rb"wrote (\d+)", rest):
        last = max(last, int(m.group(1)))
    proc.wait()
    return last


def check_round(args, disk):
    out = subprocess.run([args.hbvm, "run", args.guest, "--accel", args.accel, "--disk", disk, "--", "2"],
                         capture_output=True, timeout=120)
    m = re.search(rb"intact-through (\d+)", out.stdout)
    return int(m.group(1)) if m else -1


def sync_order(args, disk, fault):
    """True when the disk's fdatasync/fsync completes before the guest's "flushed" line is written."""
    log = os.path.join(os.path.dirname(disk), "strace.log")
    command = ["strace", "-f", "-qq", "-o", log, "-e", "trace=fdatasync,fsync,write", args.hbvm, "run", args.guest,
               "--accel", args.accel, "--disk", disk] + (["--inject-fault", fault] if fault else []) + ["--", "3"]
    out = subprocess.run(command, capture_output=True, timeout=120)
    if b"flushed" not in out.stdout:
        return None, f"the guest did not get to 'flushed' (exit {out.returncode})"
    synced = False
    with open(log, errors="replace") as f:
        for line in f:
            if re.search(r"\b(fdatasync|fsync)\(\d+\)\s+=\s+0", line):
                synced = True
            if re.search(r'\bwrite\(1, "flushed', line):
                return synced, "" if synced else "hbvm wrote 'flushed' with no completed sync before it"
    return None, "no write of 'flushed' in the strace log"


def torn_sector_check(args, work):
    """Spec 12.5: a failed write leaves each sector whole, old or new. A file-size
    limit (ulimit -f, in KiB) inside sector 2 of a 4096-byte-sector disk stops
    the guest's five-sector write there: sectors 0 and 1 may be new, 2 to 4 must
    each be all old (zeros) or all new, and the guest gets IO_ERROR."""
    disk = os.path.join(work, "torn.img")
    with open(disk, "wb") as f:
        f.truncate(64 << 10)
    limit_kib = 10  # 10240 bytes: 2048 bytes into sector 2
    command = f"ulimit -f {limit_kib}; exec {shlex.quote(args.hbvm)} run {shlex.quote(args.guest)} " \
              f"--accel {args.accel} --timeout 60 --disk {shlex.quote(disk)},sector=4096 -- 4"
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    data = open(disk, "rb").read()
    sector = 4096
    states = ["new" if data[n * sector:(n + 1) * sector] == pattern_sector(n, sector) else
              "old" if not any(data[n * sector:(n + 1) * sector]) else "mixed" for n in range(5)]
    report(proc.returncode == 0 and "write IO_ERROR" in proc.stdout and "mixed" not in states and
           states[2:] == ["old", "old", "old"],
           f"a write cut by ulimit -f inside sector 2 answers IO_ERROR and leaves every sector whole "
           f"(sectors 0-4: {', '.join(states)})",
           f"exit status {proc.returncode}, console {proc.stdout.strip()!r}; "
           f"stderr: {proc.stderr.strip()[-300:]}")


def pattern_sector(n, size):
    """What disk_writer's mode 4 writes to sector n (its pattern())."""
    return bytes(((n * 131 + i * 7 + (i >> 8) * 13 + 1) ^ (n >> 8)) & 0xFF for i in range(size))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--guest", required=True, help="disk_writer.elf")
    parser.add_argument("--accel", default="soft", choices=["soft", "kvm"])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hbvm-durability-")
    try:
        disk = os.path.join(work, "disk.img")
        rng = random.Random(os.getpid())
        for r in range(args.rounds):
            with open(disk, "wb") as f:
                f.truncate(4 << 20)  # 1024 blocks of 4 KiB
            stop_after = rng.randrange(3, 900)
            last = kill_round(args, disk, stop_after)
            intact = check_round(args, disk)
            report(last >= 0 and intact >= last + 1,
                   f"round {r + 1}: killed after 'wrote {last}' (SIGKILL); a new hbvm finds blocks 0..{intact - 1} intact",
                   f"block {intact} of the {last + 1} reported written is missing")
        torn_sector_check(args, work)
        if not shutil.which("strace"):
            report(False, "strace is installed (scripts/install-deps installs it)")
        else:
            ordered, why = sync_order(args, disk, None)
            report(ordered is True, "flush: the disk's fdatasync completes before the guest's next console line", why)
            ordered, why = sync_order(args, disk, "flush-ignored")
            report(ordered is False, "the same check catches --inject-fault flush-ignored",
                   why or "a host whose flush does nothing passed")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"durability: {'all checks passed' if not failures else f'{len(failures)} failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
