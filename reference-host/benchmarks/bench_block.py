#!/usr/bin/python3
"""bench-block: sequential BLOCK transfers through hbvm against the host's own
pread/pwrite of the same file, in the same run.

Creates a disk file in a temporary folder (--dir, default $TMPDIR), then, in
interleaved rounds, per transfer size (4 KiB, 64 KiB and 1 MiB per call):
  - boots bench_block_rounds.elf on hbvm --disk FILE --stats, which writes
    --total-mib MiB (per size) sequentially through BLOCK.write, then reads them back
    through BLOCK.read, timed in the guest with TIME.monotonic_ns;
  - runs bench_block_host on the same file: the same passes with pwrite and
    pread, timed with CLOCK_MONOTONIC.
Nothing is synced and the page cache is not dropped, so both sides move bytes
between memory and the host's page cache: this measures the interface, not the
disk. Prints medians per size: MB/s (10^6 bytes) through hbvm and on the host,
their ratio (the median of the per-round ratios), the time a call through hbvm
takes beyond the host's own call, the BLOCK calls per GiB the
guest made (one call is one exit), the exits per GiB hbvm's --stats counted for
the whole run (boot and console included), and the exits per GiB of an interface
that moves one 512-byte block per call (Solo5's), with the ratio of the two.
Figures, not a pass/fail: the issue's targets (at 1 MiB per call, at least 0.8x
host pread; at least 100x fewer exits per GiB than one block per call) are
reported as met or not.

usage: bench_block.py --hbvm HBVM --image ELF --host-io BENCH_BLOCK_HOST [--accel soft|kvm] ..."""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

LINE = re.compile(r"^(block|host)-(write|read) (\d+) bytes (\d+) calls (\d+) total-ns (\d+) failures (\d+)")
STATS = re.compile(r"hbvm: stats: (\d+) HyperBIOS calls, (\d+) exits, (\d+) ioctls")
GIB = 1 << 30
SOLO5_BLOCK = 512


def parse(text, side):
    """{direction: (bytes, calls, ns)} from one side's output lines; exits when a pass failed."""
    found = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m and m.group(1) == side:
            if int(m.group(7)) != 0:
                sys.exit(f"bench-block: {line.strip()}: transfers failed")
            found[m.group(2)] = (int(m.group(4)), int(m.group(5)), int(m.group(6)))
    return found


def run_hbvm(args, disk, chunk, total):
    command = [args.hbvm, "run", args.image, "--accel", args.accel, "--stats", "--disk", disk + args.disk_options,
               "--", str(chunk), str(total)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    found = parse(out.stdout, "block")
    stats = STATS.search(out.stderr)
    if out.returncode != 0 or len(found) != 2 or not stats:
        sys.exit(f"bench-block: {' '.join(command)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    found["exits"] = int(stats.group(2))
    found["hypercalls"] = int(stats.group(1))
    return found


def run_host(args, disk, chunk, total):
    command = [args.host_io, disk, str(chunk), str(total)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    found = parse(out.stdout, "host")
    if out.returncode != 0 or len(found) != 2:
        sys.exit(f"bench-block: {' '.join(command)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return found


def mb_per_s(figure):
    moved, _, ns = figure
    return moved / ns * 1e3  # bytes per ns = GB/s; * 1000 = MB/s


def size_name(chunk):
    return f"{chunk >> 20} MiB" if chunk >= 1 << 20 else f"{chunk >> 10} KiB"


def make_disk(folder, mib):
    """A file of `mib` MiB with something other than zeros in it (written, so in the page cache)."""
    path = os.path.join(folder, "bench-block.disk")
    pattern = bytes((i * 37 + 11) & 0xFF for i in range(1 << 20))
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(pattern)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--image", required=True, help="bench_block_rounds.elf")
    parser.add_argument("--host-io", required=True, help="bench_block_host, the host's pread/pwrite loop")
    parser.add_argument("--accel", default="soft", choices=["soft", "kvm"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sizes", default="4096,65536,1048576", help="bytes per call, comma-separated")
    parser.add_argument("--total-mib", default="1024", help="MiB moved each way per run: one number, or one per "
                        "size, comma-separated")
    parser.add_argument("--disk-mib", type=int, default=64, help="size of the disk file (transfers wrap)")
    parser.add_argument("--sector", type=int, default=512, choices=[512, 4096], help="the disk's sector size")
    parser.add_argument("--dir", default=None, help="folder for the temporary disk file (default: $TMPDIR)")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    args.disk_options = "" if args.sector == 512 else f",sector={args.sector}"
    sizes = [int(s) for s in args.sizes.split(",")]
    totals = [int(t) for t in args.total_mib.split(",")]
    if len(totals) == 1:
        totals *= len(sizes)
    if len(totals) != len(sizes):
        sys.exit("bench-block: --total-mib takes one number or one per size")
    totals = dict(zip(sizes, totals))
    samples = {chunk: {} for chunk in sizes}
    with tempfile.TemporaryDirectory(prefix="bench-block-", dir=args.dir) as folder:
        disk = make_disk(folder, args.disk_mib)
        for r in range(args.rounds):  # interleaved, so drift hits both sides alike
            for chunk in sizes:
                sides = [("hbvm", run_hbvm), ("host", run_host)]
                for side, run in sides if r % 2 == 0 else reversed(sides):
                    found = run(args, disk, chunk, totals[chunk] << 20)
                    for direction in ("write", "read"):
                        samples[chunk].setdefault(f"{side}-{direction}", []).append(mb_per_s(found[direction]))
                        samples[chunk].setdefault(f"{side}-{direction}-ns", []).append(
                            found[direction][2] / found[direction][1])
                        if side == "hbvm":
                            moved, calls, _ = found[direction]
                            samples[chunk].setdefault(f"calls-{direction}", []).append(calls * GIB / moved)
                    if side == "hbvm":
                        moved = found["write"][0] + found["read"][0]
                        samples[chunk].setdefault("exits", []).append(found["exits"] * GIB / moved)
        fs = subprocess.run(["df", "--output=fstype", folder], capture_output=True, text=True).stdout.split()
    moved = "/".join(str(t) for t in (set(totals.values()) if len(set(totals.values())) == 1 else totals.values()))
    print(f"bench-block ({args.accel}): medians of {args.rounds} interleaved rounds; per size and run {moved} MiB "
          f"written then read sequentially, over a {args.disk_mib} MiB file ({fs[-1] if fs else '?'}, "
          f"{args.sector}-byte sectors).")
    print("Both sides read and write the host's page cache (no sync, no cache drop): this measures the "
          "interface, not the disk. MB = 10^6 bytes.")
    print(f"  {'':14}{'hbvm MB/s':>11}{'host MB/s':>11}{'hbvm/host':>11}{'  (rounds)':<16}"
          f"{'+us/call':>10}{'calls/GiB':>11}{'exits/GiB':>11}{'512-B/GiB':>11}{'fewer':>9}")
    solo5 = GIB // SOLO5_BLOCK
    verdicts = []
    for chunk in sizes:
        s = samples[chunk]
        exits = statistics.median(s["exits"])
        for direction in ("read", "write"):
            ratios = sorted(h / o for h, o in zip(s[f"hbvm-{direction}"], s[f"host-{direction}"]))
            ratio = statistics.median(ratios)
            calls = statistics.median(s[f"calls-{direction}"])
            extra = statistics.median(h - o for h, o in zip(s[f"hbvm-{direction}-ns"], s[f"host-{direction}-ns"]))
            print(f"  {direction:5} {size_name(chunk):>8}{statistics.median(s[f'hbvm-{direction}']):>11.0f}"
                  f"{statistics.median(s[f'host-{direction}']):>11.0f}{ratio:>10.2f}x"
                  f"  {ratios[0]:.2f}-{ratios[-1]:.2f}{'':5}{extra / 1e3:>10.2f}{calls:>11.0f}{exits:>11.0f}{solo5:>11}"
                  f"{solo5 / exits:>8.0f}x")
            if chunk == 1 << 20:
                verdicts.append(f"  1 MiB {direction}: {ratio:.2f}x host p{direction} "
                                f"({'met' if ratio >= 0.8 else 'NOT met'}; target at least 0.8x)")
        if chunk == 1 << 20:
            verdicts.append(f"  1 MiB: {solo5 / exits:.0f}x fewer exits per GiB than one 512-byte block per call "
                            f"({'met' if solo5 / exits >= 100 else 'NOT met'}; target at least 100x)")
    print("  hbvm/host: the median of per-round ratios (rounds: their range), so it need not equal the ratio of "
          "the medians;")
    print("  +us/call: what a call through hbvm takes beyond the host's own call (median of per-round differences);")
    print("  calls/GiB: BLOCK calls the guest made (one call = one exit); exits/GiB: hbvm --stats, whole run "
          "(both passes, boot, console, clock) per GiB moved; 512-B/GiB: calls of a one-block-per-call "
          "interface; fewer: 512-B/GiB over exits/GiB.")
    if verdicts:
        print("Targets:")
        print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
