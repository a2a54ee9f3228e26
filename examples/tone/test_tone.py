#!/usr/bin/python3
"""example.tone and its variants (--check):
  wav     the tone kernel plays 440 Hz for five seconds into a paced WAV file
          (--audio wav:PATH), sleeping between refills: the file is PCM, 2
          channels, 16 bits, 48 kHz, exactly 5 s of frames; its frequency (zero
          crossings) 440 Hz within 1 Hz, its level half of full scale (peak
          16383 within 2 %, RMS that of a sine of that peak within 2 %); the
          position the guest read once a second follows the wall clock (the
          positions' times) within 2 % plus 20 ms' worth of frames; no underrun;
          hbvm's CPU over the run (user + system) under 20 % of a core; sox
          stat agrees on length, frequency and peak; and hbvm loaded no SDL
          (the sdl module is loaded only for --audio sdl).
  melody  the kernel's melody (no arguments) into a WAV at pace=fast: every
          note at its pitch within 1 %, in order, the whole in far less than
          its playing time, and the file's comment saying it was not paced.
  sdl     the tone through --audio sdl with SDL_AUDIODRIVER=disk: the module
          and SDL loaded, the raw PCM SDL wrote holds the 5 s of 440 Hz at half
          scale, no underrun, the position at the card's pace within 2 %.
  stall   --audio wav: into a FIFO full from the start, whose reader reads only
          for half a second in the middle: the guest plays on (hbvm never
          blocks on the sink), what the reader gets is the WAV header and whole
          frames of the tone, and SIGTERM while it stalls again ends hbvm within
          1 s (bench-stop measures it against the README's 100 ms).
Exit status 0 when all holds, 1 otherwise."""

import argparse
import math
import os
import re
import shutil
import signal
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


def loaded_files(stderr):
    """The shared objects the dynamic loader reported (LD_DEBUG=files)."""
    return re.findall(r"file=(\S+)\s+\[\d+\];\s+(?:needed|dynamically loaded)", stderr)


def sine_checks(left, frames, what):
    """A steady 440 Hz at half of full scale, `frames` long."""
    crossings = sum(1 for x, y in zip(left, left[1:]) if x < 0 <= y)
    frequency = crossings / (len(left) / 48000)
    expect(f"{what}: its frequency is 440 Hz within 1 Hz", abs(frequency - 440) <= 1, f"{frequency:.2f} Hz")
    peak = max(abs(v) for v in left)
    rms = math.sqrt(sum(v * v for v in left) / len(left))
    expect(f"{what}: its level is half of full scale (peak and RMS within 2 %)",
           abs(peak - 16383) <= 16383 * 0.02 and abs(rms - 16383 / math.sqrt(2)) <= 16383 / math.sqrt(2) * 0.02,
           f"peak {peak}, RMS {rms:.0f}")


def position_checks(stdout, what):
    """The positions the guest read once a second against their times."""
    samples = [(int(p), int(t)) for p, t in re.findall(r"tone: position (\d+) at (\d+) ns", stdout)]
    if len(samples) < 3:
        expect(f"{what}: the guest reported its position once a second", False, stdout[-300:])
        return
    (p0, t0), worst = samples[1], 0.0
    for p, t in samples[2:]:
        expected = (t - t0) / 1e9 * 48000
        allowed = expected * 0.02 + 0.020 * 48000
        worst = max(worst, abs((p - p0) - expected) / max(allowed, 1))
    expect(f"{what}: the position follows the wall clock within 2 % + 20 ms", worst <= 1.0,
           f"{samples}: the worst sample is {worst:.2f} of the allowance")


def play(a, tmp, audio, *arguments, env=None):
    """Runs the tone kernel; returns (the finished process, wall s, CPU s)."""
    start = time.monotonic()
    before = os.times()
    out = subprocess.run([a.hbvm, "run", a.tone, "--accel", a.accel, "--timeout", "60", "--audio", audio,
                          "--", *arguments], capture_output=True, text=True, timeout=90, cwd=tmp,
                         env=dict(os.environ, LD_DEBUG="files", **(env or {})))
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return out, time.monotonic() - start, cpu


def read_wav(path):
    try:
        with wave.open(path) as w:
            shape = (w.getcomptype(), w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes())
            return shape, w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        expect("the WAV file can be read", False, str(e))
        return None, b""


def check_wav(a, tmp):
    path = os.path.join(tmp, "tone.wav")
    out, wall, cpu = play(a, tmp, f"wav:{path}", "seconds=5", "report=1")
    expect("the tone plays every frame with no underrun (exit 0)",
           out.returncode == 0 and "240000 frames of 440 Hz played, 0 underruns" in out.stdout,
           f"status {out.returncode}: {out.stdout[-300:]}{out.stderr[-300:]}")
    expect("hbvm uses under 20 % of a core while the guest plays", cpu / wall < 0.2,
           f"{cpu:.2f} s of CPU in {wall:.2f} s")
    print(f"  hbvm's CPU: {cpu:.3f} s in {wall:.2f} s ({cpu / wall * 100:.1f} % of a core)")
    files = loaded_files(out.stderr)
    sdl = [f for f in files if "hbvm-sdl" in f or "libSDL2" in f]
    expect("hbvm loads neither the sdl module nor SDL for --audio wav: (LD_DEBUG=files)",
           any("libstdc++" in f for f in files) and not sdl, ", ".join(sdl) or f"{len(files)} files reported")
    position_checks(out.stdout, "wav")
    shape, data = read_wav(path)
    if shape is None:
        return
    expect("the WAV file is PCM, 2 channels, 16 bits, 48 kHz, 5 s", shape == ("NONE", 2, 2, 48000, 240000),
           str(shape))
    sine_checks(struct.unpack(f"<{len(data) // 2}h", data)[0::2], 240000, "the WAV file")
    # A second opinion, from the tool a user hears the file with.
    if not shutil.which("sox"):
        expect("sox is installed", False, "run scripts/install-deps (sox)")
        return
    # The left channel alone: stat's rough frequency of two channels is neither's.
    stat = subprocess.run(["sox", path, "-n", "remix", "1", "stat"], capture_output=True, text=True).stderr
    figures = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in stat.splitlines() if ":" in line)}
    try:
        length, rough = float(figures["Length (seconds)"]), float(figures["Rough   frequency"])
        peak = float(figures["Maximum amplitude"])
    except (KeyError, ValueError):
        expect("sox stat reads the WAV file", False, stat[-300:])
        return
    expect("sox stat: 5 s, about 440 Hz (its rough estimate, within 3 %), peak half of full scale (within 2 %)",
           abs(length - 5) < 1e-3 and abs(rough - 440) <= 13.2 and abs(peak - 0.5) <= 0.01,
           f"{length} s, {rough} Hz, peak {peak}")


# The melody of tone.cpp: (Hz, eighths of 8640 frames).
E4, F4, G4, D4, C4 = 329.63, 349.23, 392.00, 293.66, 261.63
MELODY = [(E4, 2), (E4, 2), (F4, 2), (G4, 2), (G4, 2), (F4, 2), (E4, 2), (D4, 2), (C4, 2), (C4, 2), (D4, 2),
          (E4, 2), (E4, 3), (D4, 1), (D4, 4)]
EIGHTH = 8640


def check_melody(a, tmp):
    path = os.path.join(tmp, "tune.wav")
    out, wall, _ = play(a, tmp, f"wav:{path},pace=fast")
    total = sum(e for _, e in MELODY) * EIGHTH
    expect("the melody plays every frame with no underrun (exit 0)",
           out.returncode == 0 and f"{total} frames of the melody played, 0 underruns" in out.stdout,
           f"status {out.returncode}: {out.stdout[-300:]}{out.stderr[-300:]}")
    expect("at pace=fast the melody takes far less than its playing time", wall < total / 48000 / 2,
           f"{wall:.2f} s for {total / 48000:.2f} s of sound")
    with open(path, "rb") as f:
        expect("the file's comment says it was not paced", b"pace=fast" in f.read(4096))
    shape, data = read_wav(path)
    if shape is None:
        return
    expect("the melody's WAV has every frame", shape == ("NONE", 2, 2, 48000, total), str(shape))
    left = struct.unpack(f"<{len(data) // 2}h", data)[0::2]
    at, wrong = 0, []
    for number, (hz, eighths) in enumerate(MELODY):
        note = left[at + 480:at + eighths * EIGHTH - 480]  # away from the fades
        # Rising zero crossings, placed between samples: the first to the last
        # span whole periods (a count alone is off by up to one in 0.3 s).
        rises = [i + x / (x - y) for i, (x, y) in enumerate(zip(note, note[1:])) if x < 0 <= y]
        heard = (len(rises) - 1) / ((rises[-1] - rises[0]) / 48000) if len(rises) > 1 else 0.0
        if abs(heard - hz) > hz * 0.01:
            wrong.append(f"note {number + 1}: {heard:.1f} Hz, not {hz}")
        at += eighths * EIGHTH
    expect("every note of the melody at its pitch within 1 %, in order", not wrong, "; ".join(wrong))


def check_sdl(a, tmp):
    module = os.path.join(os.path.dirname(os.path.dirname(a.hbvm)), "lib", "hyperbios", "modules", "hbvm-sdl.so")
    if not os.path.exists(module):
        expect("the sdl module is built", False, f"{module} is missing: run scripts/install-deps (libsdl2-dev, "
               "libx11-dev) and build again")
        return
    raw = os.path.join(tmp, "sdl.raw")
    out, wall, cpu = play(a, tmp, "sdl", "seconds=5", "report=1",
                          env={"SDL_AUDIODRIVER": "disk", "SDL_DISKAUDIOFILE": raw})
    expect("the tone plays on --audio sdl with no underrun (exit 0)",
           out.returncode == 0 and "240000 frames of 440 Hz played, 0 underruns" in out.stdout,
           f"status {out.returncode}: {out.stdout[-300:]}{out.stderr[-500:]}")
    files = loaded_files(out.stderr)
    expect("hbvm loads the sdl module and SDL for --audio sdl",
           any("hbvm-sdl.so" in f for f in files) and any("libSDL2" in f for f in files), ", ".join(files))
    print(f"  hbvm's CPU with SDL's disk driver: {cpu:.3f} s in {wall:.2f} s ({cpu / wall * 100:.1f} % of a core)")
    # SDL's disk driver sleeps a buffer's time between buffers, in whole
    # milliseconds: its pace is a card's within about 2 %.
    position_checks(out.stdout, "sdl")
    try:
        data = open(raw, "rb").read()
    except OSError as e:
        expect("SDL's disk driver wrote its file", False, str(e))
        return
    left = struct.unpack(f"<{len(data) // 4 * 2}h", data[:len(data) // 4 * 4])[0::2]
    sound = [i for i, v in enumerate(left) if v]
    if not sound:
        expect("SDL's file holds the tone", False, f"{len(left)} frames, all silent")
        return
    tone = left[sound[0]:sound[-1] + 1]
    # The sine's first and last samples may be 0: the span of non-zero samples
    # is the tone within a frame or two.
    expect("SDL's file holds the 240000 frames of the tone, nothing more but silence", abs(len(tone) - 240000) <= 2,
           f"{len(tone)} frames from the first sound to the last")
    sine_checks(tone, 240000, "SDL's file")


def check_stall(a, tmp):
    fifo = os.path.join(tmp, "stalled.fifo")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # held open; read only in the middle
    try:
        # The FIFO full before hbvm starts: not even the WAV header goes at first.
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        junk = 0
        try:
            while True:
                junk += os.write(writer, b"J" * 4096)
        except BlockingIOError:
            pass
        os.close(writer)
        proc = subprocess.Popen([a.hbvm, "run", a.tone, "--accel", a.accel, "--audio", f"wav:{fifo}", "--",
                                 "seconds=60", "report=1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.5)  # past hbvm's second of sound held: it drops the oldest
        got, until = bytearray(), time.monotonic() + 0.5
        while time.monotonic() < until:  # the reader comes back for half a second
            try:
                got += os.read(reader, 1 << 16)
            except BlockingIOError:
                time.sleep(0.005)
        wav = bytes(got[junk:])
        expect("a WAV sink stalled from the start keeps its header: a reader that comes back reads a WAV",
               len(got) > junk and wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and b"data" in wav[:200],
               f"{len(got)} bytes after {junk} of junk; they start {wav[:16]!r}")
        data = wav[wav.find(b"data") + 8:] if b"data" in wav[:200] else b""
        left = struct.unpack(f"<{len(data) // 4 * 2}h", data[:len(data) // 4 * 4])[0::2]
        # Whole frames were dropped: the left channel is still a sine of half scale.
        expect("what it reads is whole frames of the tone (the left channel peaks at half scale)",
               len(left) > 4800 and abs(max(abs(v) for v in left) - 16383) <= 330,
               f"{len(left)} frames, peak {max((abs(v) for v in left), default=0)}")
        time.sleep(1.5)  # stalled again: the FIFO fills within a third of a second
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        took = time.monotonic() - sent
    finally:
        os.close(reader)
    positions = [int(p) for p in re.findall(r"tone: position (\d+) at", stdout)]
    expect("with the sink stalled the guest plays on (its position advances past 4 s)",
           len(positions) >= 5 and positions[-1] >= 4 * 48000 * 0.9, f"positions {positions}")
    expect("SIGTERM ends hbvm within 1 s with the sink stalled", took < 1.0, f"{took * 1000:.0f} ms")
    print(f"  SIGTERM to exit with a stalled sink: {took * 1000:.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--tone", required=True)
    parser.add_argument("--accel", default="soft")
    parser.add_argument("--check", choices=["wav", "melody", "sdl", "stall"], default="wav")
    a = parser.parse_args()
    a.hbvm, a.tone = os.path.abspath(a.hbvm), os.path.abspath(a.tone)  # hbvm runs in the temporary folder
    with tempfile.TemporaryDirectory(prefix="hbvm-tone-") as tmp:
        {"wav": check_wav, "melody": check_melody, "sdl": check_sdl, "stall": check_stall}[a.check](a, tmp)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
