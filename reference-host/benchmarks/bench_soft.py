#!/usr/bin/python3
"""bench-soft: the software engine's costs, measured by guests on hbvm --accel soft.

Per hbvm binary given (e.g. one built against Unicorn 2.1 and one against 2.0,
to compare them), in interleaved rounds:
  - a null HyperBIOS call (BASE.get_spec_version from a register-only loop) and,
    from a loop of the same shape, an OUT to a port nothing decodes: the raw cost
    of an exit through hbvm, the baseline of the call;
  - the same call through the C++ wrapper;
  - memory rounds: one 64-bit read (then write) in each of 16 pages 4 KiB apart;
  - a whole boot of `hello`, from starting hbvm to its exit.
Prints medians, the call / raw-exit ratio, and, with two binaries, the ratio of
each figure between them. Figures, not a pass/fail.

usage: bench_soft.py --images DIR [--hello ELF] HBVM [HBVM...]"""

import argparse
import re
import statistics
import subprocess
import sys
import time

LINE = re.compile(r"^(null-calls-gate|null-calls-wrapper|raw-out-unclaimed|memory-read-16-pages|"
                  r"memory-write-16-pages) (\d+) total-ns (\d+)")


def guest_figures(hbvm, image, count):
    out = subprocess.run([hbvm, "run", image, "--accel", "soft", "--", str(count)], capture_output=True,
                         text=True, timeout=300)
    if out.returncode != 0:
        sys.exit(f"bench-soft: {hbvm} run {image} failed ({out.returncode}): {out.stderr.strip()}")
    figures = {}
    for line in out.stdout.splitlines():
        m = LINE.match(line)
        if m:
            figures[m.group(1)] = int(m.group(3)) / int(m.group(2))
    return figures


def version_of(hbvm, hello):
    out = subprocess.run([hbvm, "run", hello, "--accel", "soft", "--trace"], capture_output=True, text=True)
    m = re.search(r"soft \(Unicorn ([0-9.]+)\)", out.stderr)
    return m.group(1) if m else "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("hbvm", nargs="+", help="hbvm binaries to measure, side by side")
    parser.add_argument("--images", required=True, help="folder of bench_null_calls.elf, bench_raw_exits.elf and bench_memory_rounds.elf")
    parser.add_argument("--hello", required=True, help="hello.elf, for the whole-boot figure")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200000)
    parser.add_argument("--memory-rounds", type=int, default=100000)
    args = parser.parse_args()
    names = [f"{h} (Unicorn {version_of(h, args.hello)})" for h in args.hbvm]
    samples = [{} for _ in args.hbvm]
    for _ in range(args.rounds):  # interleaved, so drift hits every binary alike
        for i, hbvm in enumerate(args.hbvm):
            figures = guest_figures(hbvm, f"{args.images}/bench_null_calls.elf", args.calls)
            figures.update(guest_figures(hbvm, f"{args.images}/bench_raw_exits.elf", args.calls))
            figures.update(guest_figures(hbvm, f"{args.images}/bench_memory_rounds.elf", args.memory_rounds))
            started = time.monotonic()
            subprocess.run([hbvm, "run", args.hello, "--accel", "soft"], capture_output=True)
            figures["boot-hello"] = (time.monotonic() - started) * 1e9
            for k, v in figures.items():
                samples[i].setdefault(k, []).append(v)
    rows = [("null call, register loop", "null-calls-gate", "ns"),
            ("null call, C++ wrapper", "null-calls-wrapper", "ns"),
            ("raw exit: OUT to an unclaimed port", "raw-out-unclaimed", "ns"),
            ("memory round, 16 pages read", "memory-read-16-pages", "ns"),
            ("memory round, 16 pages written", "memory-write-16-pages", "ns"),
            ("whole boot of hello (process)", "boot-hello", "ms")]
    medians = [{k: statistics.median(v) for k, v in s.items()} for s in samples]
    print(f"bench-soft: medians of {args.rounds} interleaved rounds ({args.calls} calls, "
          f"{args.memory_rounds} memory rounds per run)")
    for i, name in enumerate(names):
        print(f"  [{chr(65 + i)}] {name}")
    header = "  " + f"{'':36}" + "".join(f"{'[' + chr(65 + i) + ']':>12}" for i in range(len(names)))
    if len(names) > 1:
        header += "".join(f"{chr(66 + i) + '/A':>10}" for i in range(len(names) - 1))
    print(header)
    for label, key, unit in rows:
        scale = 1e6 if unit == "ms" else 1
        cells = "".join(f"{m[key] / scale:>9.1f} {unit}" for m in medians)
        ratios = "".join(f"{m[key] / medians[0][key]:>9.2f}x" for m in medians[1:])
        print(f"  {label:36}{cells}{ratios}")
    for i, m in enumerate(medians):
        print(f"  [{chr(65 + i)}] ratio HyperBIOS call / raw exit: {m['null-calls-gate'] / m['raw-out-unclaimed']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
