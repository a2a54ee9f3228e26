#!/usr/bin/python3
"""bench-display: what a DSP.present costs against the host copying the same
pixels itself, in the same run.

In interleaved rounds (--rounds, default 3):
  - boots bench_display_rounds.elf on hbvm --display none: 300 presents of a
    whole 1024x768 frame (3 MiB) and 3000 of a 64x64 rectangle, timed in the
    guest with TIME.monotonic_ns (present copies the rectangle before it
    returns; nothing waits for `presented`);
  - the same in a real window, --display sdl on an Xvfb of this run's own,
    when Xvfb is installed (the window's thread copies each changed frame
    again and draws it, beside the guest);
  - runs bench_display_host: memcpy of the same rectangles, row by row from a
    buffer of the same stride, as often.
Prints medians per size: microseconds per present with no window and with
one, per host copy, and the ratios present / host copy (what the call, the
exit and hbvm's checks add to the copy itself). Figures, not a pass/fail.

usage: bench_display.py --hbvm HBVM --image ELF --host-copy BENCH_DISPLAY_HOST [--rounds N]"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys

LINE = re.compile(r"^(present|host-copy) (\d+) x (\d+) bytes (\d+) calls (\d+) total-ns (\d+)(?: failures (\d+))?")


def parse(text, side):
    found = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m and m.group(1) == side:
            if m.group(7) and int(m.group(7)):
                sys.exit(f"bench-display: {line.strip()}: presents failed")
            found[(int(m.group(2)), int(m.group(3)))] = int(m.group(6)) / int(m.group(5))
    return found


def run(command, side, env=None, timeout=300):
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    found = parse(out.stdout, side)
    if out.returncode != 0 or len(found) != 2:
        sys.exit(f"bench-display: {' '.join(command)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return found


def start_xvfb():
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as r:
        number = r.readline().decode().strip()
    return proc, ":" + number


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--host-copy", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    hbvm = [args.hbvm, "run", args.image, "--accel", "soft", "--timeout", "300"]
    xvfb, display = start_xvfb() if shutil.which("Xvfb") else (None, None)
    if not xvfb:
        print("bench-display: no Xvfb (scripts/install-deps installs it): the window's figures are left out")
    samples = {"none": [], "window": [], "host": []}
    try:
        for r in range(args.rounds):
            samples["none"].append(run(hbvm + ["--display", "none"], "present"))
            if xvfb:
                env = dict(os.environ, DISPLAY=display, SDL_RENDER_DRIVER="software")
                samples["window"].append(run(hbvm + ["--display", "sdl"], "present", env=env))
            samples["host"].append(run([args.host_copy], "host-copy"))
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    finally:
        if xvfb:
            xvfb.kill()
            xvfb.wait()
    print(f"\nbench-display (software engine, medians of {args.rounds} rounds):")
    print(f"{'rectangle':>12} {'present, none':>14} {'present, window':>16} {'host memcpy':>12} "
          f"{'ratio none':>11} {'ratio window':>13}")
    for size in ((1024, 768), (64, 64)):
        def median(side):
            values = [s[size] for s in samples[side] if size in s]
            return statistics.median(values) if values else None
        none, window, host = median("none"), median("window"), median("host")
        ratio = lambda v: f"{v / host:10.1f}x" if v and host else f"{'-':>11}"
        micro = lambda v: f"{v / 1000:11.1f} us" if v else f"{'-':>14}"
        print(f"{size[0]:>6} x {size[1]:<4} {micro(none):>14} {micro(window):>16} {host / 1000:9.1f} us "
              f"{ratio(none)} {ratio(window):>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
