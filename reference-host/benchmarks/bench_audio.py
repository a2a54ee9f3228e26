#!/usr/bin/python3
"""bench-audio: what playing sound costs and how well it keeps time, measured
side by side in one run, per accelerator (the software engine, and KVM where
/dev/kvm can be opened).

  - Playback: examples/tone plays 440 Hz for --seconds (default 10) with the
    guest asleep in EVT.wait between refills, into a paced WAV file
    (--audio wav:), into nothing (--audio none) and, where the sdl module is
    built, through SDL's disk driver (--audio sdl, SDL_AUDIODRIVER=disk); on
    KVM into the WAV file only.
    Prints the underruns the guest counted (the target is 0), how far the
    position it read once a second ran from the wall clock (ppm), and hbvm's
    CPU time (user + system) as a share of a core, beside the same for a guest
    that only waits in EVT.wait as long (bench_evt_rounds idle-wait): the
    ratio is what playing adds to an idle machine.
  - Latency: bench_audio_rounds writes --bursts bursts of 10 ms to an empty
    stream, 100 ms apart, stamping each write with TIME.monotonic_ns; this
    script reads the WAV back end's FIFO and stamps what arrives with the same
    clock (CLOCK_MONOTONIC). The latency is a burst's first frame arriving
    minus its write: median, 90th percentile and worst, beside a host pipe's
    own latency (a thread stamps and writes 40 bytes, the reader stamps their
    arrival) and the player's 5 ms tick, which bounds what hbvm adds.

Figures, not a pass/fail (example.tone asserts no underrun and the pace).
Exit status 0, or 1 when a run failed outright."""

import argparse
import os
import pathlib
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

TICK_MS = 5.0


def usable_kvm():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        return True
    except OSError:
        return False


def timed_run(command, env=None, cwd=None, timeout=120):
    """(CompletedProcess, wall s, CPU s of the child)."""
    before, start = os.times(), time.monotonic()
    out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    after, wall = os.times(), time.monotonic() - start
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return out, wall, cpu


def drift_ppm(stdout):
    """How far the guest's positions ran from their times, in ppm (worst)."""
    samples = [(int(p), int(t)) for p, t in re.findall(r"tone: position (\d+) at (\d+) ns", stdout)]
    if len(samples) < 3:
        return None
    (p0, t0) = samples[1]
    return max(abs((p - p0) - (t - t0) / 1e9 * 48000) / ((t - t0) / 1e9 * 48000) * 1e6 for p, t in samples[2:])


def playback(args, accel, tmp):
    rows = []
    seconds = args.seconds
    idle, idle_wall, idle_cpu = timed_run([args.hbvm, "run", args.idle_image, "--accel", accel, "--",
                                           "idle-wait", str(seconds * 1000)])
    if idle.returncode != 0:
        print(f"bench-audio: the idle guest failed ({idle.returncode}): {idle.stderr[-300:]}", file=sys.stderr)
        return None
    idle_share = idle_cpu / idle_wall
    outputs = [("wav", f"wav:{tmp}/tone-{accel}.wav", None)]
    # On KVM the WAV file alone: where /dev/kvm emulates every instruction the
    # figures say what that KVM costs, the same for each output.
    if accel == "soft":
        outputs.append(("none", "none", None))
    if accel == "soft" and args.sdl_module and pathlib.Path(args.sdl_module).exists():
        outputs.append(("sdl (disk)", "sdl", {"SDL_AUDIODRIVER": "disk",
                                              "SDL_DISKAUDIOFILE": f"{tmp}/sdl-{accel}.raw"}))
    for label, audio, extra in outputs:
        env = dict(os.environ, **extra) if extra else None
        out, wall, cpu = timed_run([args.hbvm, "run", args.tone, "--accel", accel, "--timeout", str(seconds + 30),
                                    "--audio", audio, "--", f"seconds={seconds}", "report=1"], env=env, cwd=tmp)
        m = re.search(r"(\d+) frames of 440 Hz played, (\d+) underruns", out.stdout)
        if out.returncode not in (0, 1) or not m:
            print(f"bench-audio: the tone on {audio} failed ({out.returncode}): {out.stdout[-200:]}{out.stderr[-300:]}",
                  file=sys.stderr)
            return None
        rows.append((label, int(m.group(2)), drift_ppm(out.stdout), cpu / wall, idle_share))
    return rows


def pipe_latency(count):
    """A host pipe's own latency: stamp, write 40 bytes; the reader stamps them."""
    r, w = os.pipe()
    got = []

    def reader():
        for _ in range(count):
            data = os.read(r, 40)
            got.append((time.monotonic_ns(), struct.unpack("<q", data[:8])[0]))
    t = threading.Thread(target=reader)
    t.start()
    for _ in range(count):
        os.write(w, struct.pack("<q", time.monotonic_ns()) + bytes(32))
        time.sleep(0.01)
    t.join()
    os.close(r)
    os.close(w)
    return [(a - s) / 1e6 for a, s in got]


def latency(args, accel, tmp):
    fifo = pathlib.Path(tmp) / f"latency-{accel}.fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    os.set_blocking(fd, True)
    chunks = []  # (arrival ns, bytes)
    done = threading.Event()

    def reader():
        import select
        while not done.is_set():
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                data = os.read(fd, 1 << 16)
                if data:
                    chunks.append((time.monotonic_ns(), data))
    t = threading.Thread(target=reader)
    t.start()
    try:
        out = subprocess.run([args.hbvm, "run", args.rounds_image, "--accel", accel, "--timeout", "120",
                              "--audio", f"wav:{fifo}", "--", "latency", str(args.bursts)],
                             capture_output=True, text=True, timeout=180)
        time.sleep(0.1)
    finally:
        done.set()
        t.join()
        os.close(fd)
    written = {int(r): int(at) for r, at in re.findall(r"burst (\d+) at (\d+)", out.stdout)}
    if out.returncode != 0 or len(written) != args.bursts:
        print(f"bench-audio: the latency guest failed ({out.returncode}): {out.stdout[-200:]}{out.stderr[-300:]}",
              file=sys.stderr)
        return None
    stream = b"".join(data for _, data in chunks)
    ends, total = [], 0
    for at, data in chunks:
        total += len(data)
        ends.append((total, at))
    start = stream.find(b"data") + 8
    if start < 8:
        print("bench-audio: no WAV data chunk came through the FIFO", file=sys.stderr)
        return None
    arrivals = {}
    for i in range(start, len(stream) - 3, 4):
        left = struct.unpack_from("<h", stream, i)[0]
        if left > 0 and left not in arrivals and left in written:
            arrivals[left] = next(at for end, at in ends if end > i)
    lat = [(arrivals[r] - written[r]) / 1e6 for r in sorted(written) if r in arrivals]
    if len(lat) != len(written):
        print(f"bench-audio: {len(written) - len(lat)} bursts never arrived", file=sys.stderr)
        return None
    return lat


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--tone", required=True, help="examples/tone's tone.elf")
    parser.add_argument("--rounds-image", required=True, help="bench_audio_rounds.elf")
    parser.add_argument("--idle-image", required=True, help="bench_evt_rounds.elf (idle-wait)")
    parser.add_argument("--sdl-module", help="hbvm-sdl.so: --audio sdl is measured where it exists")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of playback per output (default: %(default)s)")
    parser.add_argument("--bursts", type=int, default=30, help="latency bursts (default: %(default)s)")
    args = parser.parse_args()
    for name in ("hbvm", "tone", "rounds_image", "idle_image"):  # the tone runs in a temporary folder
        setattr(args, name, os.path.abspath(getattr(args, name)))
    accels = ["soft"] + (["kvm"] if usable_kvm() else [])
    print(f"bench-audio: {args.seconds} s of 440 Hz per output, {args.bursts} latency bursts; accelerators: "
          f"{', '.join(accels)}" + ("" if "kvm" in accels else " (no usable /dev/kvm here)"), flush=True)
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        pipe = pipe_latency(args.bursts)
        for accel in accels:
            rows = playback(args, accel, tmp)
            if rows is None:
                failed = True
                continue
            print(f"\n[{accel}] playback, the guest asleep between refills")
            print(f"  {'output':12} {'underruns':>9} {'drift':>10} {'hbvm CPU':>9} {'idle guest':>10} {'ratio':>7}")
            for label, underruns, drift, share, idle in rows:
                # Below a thousandth of a core the idle figure is noise, not a base.
                ratio = f"{share / idle:6.1f}x" if idle >= 0.001 else "    n/a"
                drift_text = f"{drift:7.0f}ppm" if drift is not None else "       n/a"
                print(f"  {label:12} {underruns:9d} {drift_text:>10} {share * 100:8.2f}% {idle * 100:9.2f}% {ratio:>7}")
            lat = latency(args, accel, tmp)
            if lat is None:
                failed = True
                continue
            print(f"[{accel}] latency from AUD.write to the frames reaching the WAV FIFO's reader "
                  f"({len(lat)} bursts)")
            print(f"  hbvm:        median {statistics.median(lat):6.2f} ms, p90 {percentile(lat, 0.9):6.2f} ms, "
                  f"worst {max(lat):6.2f} ms  (the player's tick: {TICK_MS:.0f} ms)")
            print(f"  host pipe:   median {statistics.median(pipe):6.2f} ms, p90 {percentile(pipe, 0.9):6.2f} ms, "
                  f"worst {max(pipe):6.2f} ms")
            print(f"  ratio hbvm / host pipe (medians): {statistics.median(lat) / max(statistics.median(pipe), 1e-6):.0f}x")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
