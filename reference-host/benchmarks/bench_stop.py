#!/usr/bin/python3
"""bench-stop: how long hbvm takes to stop, for each way of stopping it and each
situation the outside world can put it in. The README promises 100 ms for
--timeout, SIGINT and SIGTERM whatever the guest or the outside world does;
this prints the measured figure for every case, per accelerator.

A signal case measures from kill() to the end of the process (waitpid); a
--timeout case from the moment the timeout should fire (process start + T) to
the end, so it includes hbvm's own start-up. Runs are interleaved per case;
the median and the worst of N runs are printed.

Exit status: 0 (figures, not a pass/fail; the tests assert a generous bound)."""

import argparse
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PROMISE_MS = 100.0


def usable_kvm():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        return True
    except OSError:
        return False


def stop_by_signal(command, signum, settle, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, before=None):
    """Starts command, waits `settle` s, sends signum; returns ms from kill to exit."""
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
    time.sleep(settle)
    if before:
        before()
    sent = time.monotonic()
    proc.send_signal(signum)
    proc.wait()
    return (time.monotonic() - sent) * 1000.0


def stop_by_timeout(command, timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
    started = time.monotonic()
    subprocess.run(command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
    return (time.monotonic() - started - timeout) * 1000.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--hbvm-ctl", help="for the stalled X server's case (with Xvfb and the window module)")
    parser.add_argument("--guests", required=True, help="folder of the test guests' .elf files")
    parser.add_argument("--net-image", help="bench_net_rounds.elf, for the stalled segment member's case")
    parser.add_argument("--tone-image", help="examples/tone's tone.elf, for the stalled sound sink's case")
    parser.add_argument("--runs", type=int, default=7, help="runs per case (default: %(default)s)")
    args = parser.parse_args()
    guest = lambda name: str(pathlib.Path(args.guests) / f"{name}.elf")  # noqa: E731
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-stop-"))
    accels = ["soft"] + (["kvm"] if usable_kvm() else [])
    print(f"bench-stop: {args.runs} runs per case; accelerators: {', '.join(accels)}"
          + ("" if "kvm" in accels else " (no usable /dev/kvm here; the nested lane has one)"))

    def stalled_pipe():
        r, w = os.pipe()  # nobody reads r
        return r, w

    rows = []
    for accel in accels:
        run = lambda name, *extra: [args.hbvm, "run", guest(name), "--accel", accel, *extra]  # noqa: E731
        cases = []

        def spin(signum):
            return lambda: stop_by_signal(run("spin_forever"), signum, 0.3)
        cases.append(("SIGINT, guest spinning", spin(signal.SIGINT)))
        cases.append(("SIGTERM, guest spinning", spin(signal.SIGTERM)))
        cases.append(("--timeout 0.3, guest spinning", lambda: stop_by_timeout(run("spin_forever", "--timeout", "0.3"), 0.3)))

        def stalled_console(signum=signal.SIGTERM):
            r, w = stalled_pipe()
            try:
                return stop_by_signal(run("console_flood"), signum, 0.3, stdout=w)
            finally:
                os.close(r)
                os.close(w)
        cases.append(("SIGTERM, console reader stalled", stalled_console))
        cases.append(("SIGINT, console reader stalled", lambda: stalled_console(signal.SIGINT)))

        def stalled_console_timeout():
            r, w = stalled_pipe()
            try:
                return stop_by_timeout(run("console_flood", "--timeout", "0.3"), 0.3, stdout=w)
            finally:
                os.close(r)
                os.close(w)
        cases.append(("--timeout 0.3, console reader stalled", stalled_console_timeout))

        def stalled_stderr(name, *extra):
            def measure():
                r, w = stalled_pipe()
                try:
                    return stop_by_signal(run(name, *extra), signal.SIGTERM, 0.3, stderr=w)
                finally:
                    os.close(r)
                    os.close(w)
            return measure
        cases.append(("SIGTERM, stderr stalled (debug console)", stalled_stderr("debug_flood")))
        cases.append(("SIGTERM, stderr stalled (--trace lines)", stalled_stderr("console_flood", "--trace")))

        def fifo_wait():
            fifo = tmp / f"wait-{accel}.fifo"
            if not fifo.exists():
                os.mkfifo(fifo)
            return stop_by_signal([args.hbvm, "run", str(fifo), "--accel", accel], signal.SIGINT, 0.3)
        cases.append(("SIGINT, waiting for a FIFO image's writer", fifo_wait))

        def stalled_feed():
            # An input feed whose writer holds the FIFO open and never writes.
            fifo = tmp / f"feed-{accel}.fifo"
            if not fifo.exists():
                os.mkfifo(fifo)
            writer = os.open(fifo, os.O_RDWR)
            try:
                return stop_by_signal(run("input_probe", "--display", "none", "--input", "keyboard", "--input-feed",
                                          str(fifo)), signal.SIGTERM, 0.3)
            finally:
                os.close(writer)
        cases.append(("SIGTERM, input feed's writer stalled", stalled_feed))

        def stalled_member():
            # A socket segment whose other member never reads, while the guest
            # sends frames as fast as it can: hbvm's back end waits on that
            # member (and the guest gets AGAIN) when the signal comes.
            folder = pathlib.Path(tempfile.mkdtemp(prefix="seg-", dir=tmp))
            deaf = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            deaf.bind(str(folder / "deaf"))
            try:
                return stop_by_signal([args.hbvm, "run", args.net_image, "--accel", accel, "--net", f"socket:{folder}",
                                       "--", "ip=10.0.0.2/24", "mode=frames", "count=100000000", "size=1514"],
                                      signal.SIGTERM, 0.5)
            finally:
                deaf.close()
        if args.net_image:
            cases.append(("SIGTERM, a segment member stalled while the guest sends", stalled_member))

        def stalled_sound_sink():
            # --audio wav: into a FIFO that a reader holds open and never reads,
            # while the guest plays: hbvm holds a second of sound, then drops.
            fifo = tmp / f"sound-{accel}.fifo"
            if not fifo.exists():
                os.mkfifo(fifo)
            reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            try:
                return stop_by_signal([args.hbvm, "run", args.tone_image, "--accel", accel, "--audio", f"wav:{fifo}",
                                       "--", "seconds=60"], signal.SIGTERM, 1.5)
            finally:
                os.close(reader)
        if args.tone_image:
            cases.append(("SIGTERM, a WAV sink (FIFO) stalled while the guest plays", stalled_sound_sink))

        def stalled_x():
            # The window's thread blocked in Xlib: an Xvfb of this case's own,
            # SIGSTOPped, while the guest draws a 1900x1000 frame.
            read_end, write_end = os.pipe()
            xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24", "-nolisten",
                                     "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            os.close(write_end)
            with os.fdopen(read_end) as r:
                env = dict(os.environ, DISPLAY=":" + r.readline().strip(), SDL_RENDER_DRIVER="software")
            sock = tmp / f"x-{accel}.sock"

            def stop_x_and_draw():
                os.kill(xvfb.pid, signal.SIGSTOP)
                subprocess.run([args.hbvm_ctl, f"unix:{sock}", "display0-request-size",
                                '{"width": 1900, "height": 1000}'], capture_output=True, timeout=30)
                time.sleep(0.5)
            try:
                proc = subprocess.Popen(run("window_probe", "--display", "sdl", "--control", f"unix:{sock}"),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, env=env)
                time.sleep(1.5)
                stop_x_and_draw()
                sent = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                proc.wait()
                return (time.monotonic() - sent) * 1000.0
            finally:
                os.kill(xvfb.pid, signal.SIGCONT)
                xvfb.kill()
                xvfb.wait()
        if args.hbvm_ctl and shutil.which("Xvfb"):
            cases.append(("SIGTERM, X server stopped while the window draws", stalled_x))

        results = {name: [] for name, _ in cases}
        for _ in range(args.runs):  # interleaved: drift on a busy machine spreads over all cases
            for name, measure in cases:
                results[name].append(measure())
        for name, _ in cases:
            values = results[name]
            rows.append((accel, name, statistics.median(values), max(values)))

    width = max(len(r[1]) for r in rows)
    print(f"{'accel':5}  {'case':{width}}  {'median':>9}  {'worst':>9}")
    for accel, name, median, worst in rows:
        mark = "" if worst <= PROMISE_MS else f"  (worst above {PROMISE_MS:.0f} ms)"
        print(f"{accel:5}  {name:{width}}  {median:7.1f}ms  {worst:7.1f}ms{mark}")
    worst_all = max(r[3] for r in rows)
    print(f"bench-stop: worst case {worst_all:.1f} ms against the README's {PROMISE_MS:.0f} ms "
          f"({'within' if worst_all <= PROMISE_MS else 'ABOVE'}); median of medians "
          f"{statistics.median(r[2] for r in rows):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
