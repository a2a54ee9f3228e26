#!/usr/bin/python3
"""example.tone: the tone kernel plays 440 Hz for five seconds into a paced
WAV file (--audio wav:PATH), sleeping between refills. Checks:
  - the WAV file: PCM, 2 channels, 16 bits, 48 kHz, exactly 5 s of frames;
    its frequency (zero crossings) 440 Hz within 1 Hz, its level half of full
    scale (peak 16383 within 2 %, RMS that of a sine of that peak within 2 %);
  - the position the guest read once a second follows the wall clock (the
    positions' times) within 2 % plus 20 ms' worth of frames;
  - no underrun, and hbvm's CPU over the run (user + system) under 20 % of a core.
Exit status 0 when all holds, 1 otherwise."""

import argparse
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import wave

failures = []


def expect(label, condition, detail=""):
    print(f"{'PASS' if condition else 'FAIL'} {label}" + ("" if condition or not detail else f": {detail}"), flush=True)
    if not condition:
        failures.append(label)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--tone", required=True)
    parser.add_argument("--accel", default="soft")
    a = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbvm-tone-") as tmp:
        path = os.path.join(tmp, "tone.wav")
        start = time.monotonic()
        before = os.times()
        out = subprocess.run([a.hbvm, "run", a.tone, "--accel", a.accel, "--timeout", "60", "--audio", f"wav:{path}",
                              "--", "seconds=5", "report=1"], capture_output=True, text=True, timeout=90)
        after = os.times()
        wall = time.monotonic() - start
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        expect("the tone plays every frame with no underrun (exit 0)",
               out.returncode == 0 and "240000 frames of 440 Hz played, 0 underruns" in out.stdout,
               f"status {out.returncode}: {out.stdout[-300:]}{out.stderr[-300:]}")
        expect("hbvm uses under 20 % of a core while the guest plays", cpu / wall < 0.2,
               f"{cpu:.2f} s of CPU in {wall:.2f} s")
        print(f"  hbvm's CPU: {cpu:.3f} s in {wall:.2f} s ({cpu / wall * 100:.1f} % of a core)")
        samples = [(int(p), int(t)) for p, t in re.findall(r"tone: position (\d+) at (\d+) ns", out.stdout)]
        if len(samples) >= 3:
            (p0, t0), worst = samples[1], 0.0
            for p, t in samples[2:]:
                expected = (t - t0) / 1e9 * 48000
                allowed = expected * 0.02 + 0.020 * 48000
                worst = max(worst, abs((p - p0) - expected) / max(allowed, 1))
            expect("the position follows the wall clock within 2 % + 20 ms", worst <= 1.0,
                   f"{samples}: the worst sample is {worst:.2f} of the allowance")
        else:
            expect("the guest reported its position once a second", False, out.stdout[-300:])
        try:
            with wave.open(path) as w:
                shape = (w.getcomptype(), w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes())
                data = w.readframes(w.getnframes())
        except (OSError, EOFError, wave.Error) as e:
            expect("the WAV file can be read", False, str(e))
            return 1
        expect("the WAV file is PCM, 2 channels, 16 bits, 48 kHz, 5 s", shape == ("NONE", 2, 2, 48000, 240000),
               str(shape))
        left = struct.unpack(f"<{len(data) // 2}h", data)[0::2]
        crossings = sum(1 for x, y in zip(left, left[1:]) if x < 0 <= y)
        frequency = crossings / (len(left) / 48000)
        expect("its frequency is 440 Hz within 1 Hz", abs(frequency - 440) <= 1, f"{frequency:.2f} Hz")
        peak = max(abs(v) for v in left)
        rms = math.sqrt(sum(v * v for v in left) / len(left))
        expect("its level is half of full scale (peak and RMS within 2 %)",
               abs(peak - 16383) <= 16383 * 0.02 and abs(rms - 16383 / math.sqrt(2)) <= 16383 / math.sqrt(2) * 0.02,
               f"peak {peak}, RMS {rms:.0f}")
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
