#!/usr/bin/python3
"""bench-evt: EVT timers and interrupts through hbvm, with the host's own timer
beside them in the same run, per accelerator (the software engine, and KVM where
/dev/kvm can be opened). Boots bench_evt_rounds.elf once per measurement:

  (a) timer lateness at 1 kHz, --ticks ticks: the guest's periodic EVT timer
      taken as an interrupt (the vCPU sleeping in `sti; hlt`), the same timer
      waited for with EVT.wait, and bench_evt_host, a 1 kHz timerfd read loop on
      the host; lateness = the time the waiter ran (TIME.monotonic_ns in the
      guest, CLOCK_MONOTONIC on the host) minus the first deadline not served
      before (start + n x period; "missed": expirations beyond one per wake).
      In --rounds interleaved rounds; prints the medians of each round's p50
      and p99, the largest max, and the guest/host ratios. The
      guest's figure includes one TIME.monotonic_ns call, the host's a vDSO
      clock_gettime.
  (b) one interrupt delivery against one null call (BASE.get_spec_version):
      --calls rounds of (EVT.timer_set with a past deadline; EVT.timer_ack) with
      interrupts off, then the same rounds taken as interrupts: the handler acks,
      the main loop re-arms with IF=0 and takes the next in `sti; hlt` ("hlt"),
      and, in a second boot, the handler re-arms and the main loop spins with
      IF=1 ("spin"). delivery = (interrupt round - arm+ack round), i.e. the
      injection, the IDT entry and IRET plus, for hlt, the HLT exit. And the
      delivery alone: one timer left pending, which the handler does not
      acknowledge until the last round, so every IRET is followed by the next
      delivery ("raised again"; level-triggered, HB-EVT-011) with no call in
      the loop. Where re-arming a timerfd costs tens of microseconds (a VM),
      the first two are dominated by it.
  (c) host CPU while a guest waits --idle-ms: EVT.wait with a deadline and no
      source, and `sti; hlt` with a one-shot timer that far away; hbvm's user +
      system time (getrusage of children) minus that of the same boot with 0 ms
      (the boot itself), as a share of one core over the wait.

Figures, not a pass/fail; the target for (c) is under 1 % of one core. Where
KVM's own instructions are emulated (a VM without nested virtualisation), KVM's
absolute figures say nothing about real KVM; ratios within a run still compare.

usage: bench_evt.py --hbvm HBVM --image bench_evt_rounds.elf --host-timer bench_evt_host [--accel soft,kvm] ..."""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time


def kvm_usable():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        return True
    except OSError:
        return False


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Failed(Exception):
    def __init__(self, message, out=""):
        super().__init__(message)
        self.out = out  # what the guest printed before it failed


def run(command, timeout):
    """(stdout, CPU seconds of the child, wall seconds); Failed with the last lines when it did not exit 0."""
    cpu = children_cpu()
    start = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=timeout,
                          stdin=subprocess.DEVNULL)
    wall = time.monotonic() - start
    cpu = children_cpu() - cpu
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).strip().splitlines() or ["(no output)"]
        # The guest's crash report says more than hbvm's closing line.
        why = next((x for x in lines if "unhandled CPU exception" in x or "crashed" in x), lines[-1])
        raise Failed(f"exit {proc.returncode}: {why}", proc.stdout)
    return proc.stdout, cpu, wall


def guest(args, accel, *words):
    return run([args.hbvm, "run", args.image, "--accel", accel, "--timeout", str(args.timeout), "--",
                *map(str, words)], args.timeout + 10)


def lateness(text):
    samples = [int(v) for line in text.splitlines() if line.startswith("late ") for v in line.split()[1:]]
    end = re.search(r"^late-end (\d+) missed (\d+)", text, re.M)
    if not samples or not end or len(samples) != int(end.group(1)):
        raise Failed("no lateness samples in the output")
    return samples, int(end.group(2))


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def summary(samples):
    s = sorted(samples)
    return percentile(s, 50), percentile(s, 99), s[-1]


def us(ns):
    return f"{ns / 1e3:.2f}" if ns < 10_000 else f"{ns / 1e3:.1f}"


def bench_lateness(args, accel):
    r = args.rounds
    print(f"  (a) timer lateness, 1 kHz periodic, {args.ticks} ticks, us (10^-6 s); medians of {r} interleaved rounds "
          f"(max: the largest):")
    print(f"      {'':34}{'p50':>9}{'p99':>9}{'max':>9}{'missed':>8}{'  p50/host':>11}{'p99/host':>9}")
    names = {None: "host timerfd", "late-irq": "guest EVT interrupt + sti;hlt", "late-wait": "guest EVT.wait"}
    per_round = {mode: [] for mode in names}  # (p50, p99, max, missed) per round that ran
    failures = {mode: [] for mode in names}
    ratios = {mode: [] for mode in names}
    for i in range(r):
        modes = [None, "late-irq", "late-wait"]
        found = {}
        for mode in modes if i % 2 == 0 else reversed(modes):  # interleaved, so drift hits every side alike
            try:
                out = (run([args.host_timer, str(args.ticks)], 60)[0] if mode is None
                       else guest(args, accel, mode, args.ticks)[0])
                samples, missed = lateness(out)
                found[mode] = (*summary(samples), missed)
                per_round[mode].append(found[mode])
            except (Failed, subprocess.TimeoutExpired) as e:
                failures[mode].append(str(e))
        for mode in ("late-irq", "late-wait"):
            if mode in found and None in found:
                ratios[mode].append((found[mode][0] / found[None][0], found[mode][1] / found[None][1]))
    for mode, name in names.items():
        rounds = per_round[mode]
        line = f"      {name:34}"
        if rounds:
            line += (f"{us(statistics.median(x[0] for x in rounds)):>9}{us(statistics.median(x[1] for x in rounds)):>9}"
                     f"{us(max(x[2] for x in rounds)):>9}{statistics.median(x[3] for x in rounds):>8.0f}")
            if ratios[mode]:
                line += (f"{statistics.median(x[0] for x in ratios[mode]):>10.1f}x"
                         f"{statistics.median(x[1] for x in ratios[mode]):>8.1f}x")
        if failures[mode]:
            line += f"{'  ' if rounds else ''}FAILED in {len(failures[mode])} of {r} rounds ({failures[mode][0]})"
        print(line)
    print("      (missed: expirations beyond one per wake-up, per run; ratios: medians of per-round ratios)")


def bench_delivery(args, accel):
    n = args.calls
    print(f"  (b) interrupt delivery against a null call, {n} rounds, us per round:")
    found, problems = {}, []
    for mode in ("delivery", "delivery-spin"):
        try:
            out = guest(args, accel, mode, n)[0]
        except (Failed, subprocess.TimeoutExpired) as e:
            problems.append(f"{mode}: {e}")
            out = getattr(e, "out", "")  # the loops that finished before still count
        for m in re.finditer(r"^delivery-(\S+) (\d+) total-ns (\d+)", out, re.M):
            found.setdefault(m.group(1), int(m.group(3)) / int(m.group(2)))
    for key, name in (("null", "null call (BASE.get_spec_version)"),
                      ("arm-ack", "timer_set (past) + timer_ack, IF=0")):
        if key in found:
            print(f"      {name:44}{us(found[key]):>9}")
    if "irq-reraise" in found and "null" in found:
        print(f"      {'interrupt: the same level raised again':44}{us(found['irq-reraise']):>9}   delivery "
              f"{found['irq-reraise'] / found['null']:.1f}x a null call (no call in the loop)")
    for key, name in (("irq-hlt", "interrupt: main re-arms, sti;hlt"), ("irq-spin", "interrupt: handler re-arms, spin")):
        if key in found and "arm-ack" in found and "null" in found:
            delivery = found[key] - found["arm-ack"]
            print(f"      {name:44}{us(found[key]):>9}   delivery {us(delivery)} us = "
                  f"{delivery / found['null']:.1f}x a null call")
    for p in problems:
        print(f"      FAILED {p}")


def bench_idle(args, accel):
    ms = args.idle_ms
    print(f"  (c) hbvm CPU while the guest waits {ms} ms (user + system, minus the same boot with 0 ms):")
    for mode, name in (("idle-wait", "EVT.wait(deadline)"), ("idle-halt", "sti;hlt, one-shot timer")):
        try:
            _, base_cpu, _ = guest(args, accel, mode, 0)
            out, cpu, wall = guest(args, accel, mode, ms)
            waited = re.search(r"elapsed-ns (\d+)", out)
            waited = int(waited.group(1)) / 1e9 if waited else ms / 1e3
            net = max(0.0, cpu - base_cpu)
            share = net / waited
            print(f"      {name:28} waited {waited:.3f} s; CPU {cpu * 1e3:.1f} ms (boot alone {base_cpu * 1e3:.1f} ms): "
                  f"{share:.2%} of one core ({'met' if share < 0.01 else 'NOT met'}; target under 1 %)")
        except (Failed, subprocess.TimeoutExpired) as e:
            print(f"      {name:28} FAILED ({e})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--image", required=True, help="bench_evt_rounds.elf")
    parser.add_argument("--host-timer", required=True, help="bench_evt_host, the host's timerfd loop")
    parser.add_argument("--accel", default=None, help="comma-separated (default: soft, and kvm where /dev/kvm opens)")
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (a) (default: %(default)s)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--idle-ms", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    accels = args.accel.split(",") if args.accel else ["soft"] + (["kvm"] if kvm_usable() else [])
    print(f"bench-evt on {os.uname().nodename} ({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d')}")
    if not args.accel and "kvm" not in accels:
        print("KVM: skipped, /dev/kvm cannot be opened read-write here")
    for accel in accels:
        label = {"soft": "software engine (Unicorn)", "kvm": "KVM"}.get(accel, accel)
        print(f"{label}:")
        if accel == "kvm":
            print("  (where KVM itself runs under emulation, as on a VM without nested virtualisation, its absolute "
                  "figures mean nothing for real KVM; compare within the run)")
        bench_lateness(args, accel)
        bench_delivery(args, accel)
        bench_idle(args, accel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
