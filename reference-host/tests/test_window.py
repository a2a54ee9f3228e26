#!/usr/bin/python3
"""host.e2e.window: `--display sdl` in a real window, on an X server of the
test's own (Xvfb, 1920x1080x24, with no window manager), driven the way a
person would drive it: xdotool resizes the window, types and clicks; a
WM_DELETE_WINDOW message (x_close_window) is the close button.

The guest (window_probe) shows a known picture and prints what it hears.
Checked:
- the window opens at the guest's first frame, and a screenshot of the X
  screen (xwd) shows the picture pixel-exact where the window is;
- a resize reaches the guest as size_requested; it sets that mode, and the
  window shows the new picture pixel-exact; unmapping and mapping the window
  are visibility events;
- a guest that keeps its mode is scaled into the window (2x: each pixel twice);
- typed text arrives as evdev keys with their characters and Shift; a click
  arrives as a position and a button;
- with a relative pointer a click grabs the mouse (the title says so), motion
  arrives as relative events, and Ctrl+Alt+G lets go (its G is not the
  guest's);
- the close button asks the guest (which ends), and a guest that does not take
  the request is ended after close-timeout=;
- hbvm with a window has the same signal handlers as without one (SDL installs
  none), and a window on a console-only guest never opens;
- with the X server stopped (SIGSTOP) while the window draws a large frame,
  SIGTERM still ends hbvm at once (within a test's loose 1 s; bench-stop
  measures the 100 ms).

Needs Xvfb, xdotool and xwd (scripts/install-deps); fails, never skips, without
them. Exit status 0 when all holds, 1 otherwise.
"""

import argparse
import os
import pathlib
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from hbvm_process import hbvm_process  # noqa: E402

failures = []


def expect(label, condition, detail=""):
    print(f"{'PASS' if condition else 'FAIL'} {label}" + ("" if condition or not detail else f": {detail}"), flush=True)
    if not condition:
        failures.append(label)
    return condition


def pattern(x, y):
    return ((x * 4) & 0xFF, (y * 5) & 0xFF, (x ^ y) & 0xFF)


def read_xwd(data):
    """An xwd dump of a 24- or 32-bit TrueColor screen: (width, height, pixel(x, y) -> (r, g, b))."""
    fields = struct.unpack(">25I", data[:100])
    header_size, version, _format, _depth, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    red_mask, green_mask, blue_mask = fields[14:17]
    colours = fields[19]
    if version != 7 or bits_per_pixel not in (24, 32):
        raise ValueError(f"xwd version {version} with {bits_per_pixel} bits a pixel: this reader wants 7, 24 or 32")
    start = header_size + colours * 12
    size = bits_per_pixel // 8
    order = "little" if byte_order == 0 else "big"

    def shift(mask):
        return (mask & -mask).bit_length() - 1

    shifts = [shift(m) for m in (red_mask, green_mask, blue_mask)]

    def pixel(x, y):
        at = start + y * bytes_per_line + x * size
        v = int.from_bytes(data[at:at + size], order)
        return tuple((v >> s) & 0xFF for s in shifts)

    return width, height, pixel


class x_server:
    """Xvfb on a free display number (-displayfd), no window manager."""

    def __init__(self):
        read_end, write_end = os.pipe()
        self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24",
                                      "-nolisten", "tcp"], pass_fds=(write_end,),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_end)
        number = b""
        with os.fdopen(read_end, "rb") as r:
            while not number.endswith(b"\n"):
                chunk = r.read(1)
                if not chunk:
                    raise RuntimeError("Xvfb ended before it gave its display number")
                number += chunk
        self.display = ":" + number.decode().strip()

    def env(self):
        return dict(os.environ, DISPLAY=self.display)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def vm(a, env, *args, guest="window_probe.elf"):
    """hbvm with a test guest, on the software engine."""
    return hbvm_process([a.hbvm, "run", pathlib.Path(a.guests) / guest, "--accel", "soft", "--timeout", "120", *args],
                        env=env)


def xdo(env, *args):
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, env=env, timeout=30).stdout.strip()


def find_window(env, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = xdo(env, "search", "--name", "^HyperBIOS: display0")
        if found:
            return found.split()[0]
        time.sleep(0.05)
    return None


def geometry(env, window):
    text = xdo(env, "getwindowgeometry", window)
    position = re.search(r"Position: (\d+),(\d+)", text)
    size = re.search(r"Geometry: (\d+)x(\d+)", text)
    if not position or not size:  # the window is gone (SDL replaced it)
        return 0, 0, 0, 0
    return tuple(map(int, position.groups())) + tuple(map(int, size.groups()))


def screen_matches(env, window, width, height, scale=1, seconds=5):
    """Polls the X screen until the window shows the picture of a width x height
    mode at `scale`, pixel-exact; returns (ok, detail)."""
    deadline = time.monotonic() + seconds
    detail = ""
    while True:
        x0, y0, w, h = geometry(env, window)
        if (w, h) == (0, 0):
            window = find_window(env, seconds=1) or window
        dump = subprocess.run(["xwd", "-root", "-silent"], capture_output=True, env=env, timeout=30).stdout
        try:
            _, _, pixel = read_xwd(dump)
            if (w, h) != (width * scale, height * scale):
                detail = f"the window is {w}x{h}, not {width * scale}x{height * scale}"
            else:
                bad = [(x, y) for y in range(0, h, 1 if h * w < 300000 else 3) for x in range(w)
                       if pixel(x0 + x, y0 + y) != pattern(x // scale, y // scale)]
                if not bad:
                    return True, ""
                x, y = bad[0]
                detail = (f"{len(bad)} pixels differ, first ({x}, {y}): {pixel(x0 + x, y0 + y)} "
                          f"for {pattern(x // scale, y // scale)}")
        except (ValueError, struct.error) as e:
            detail = f"xwd: {e}"
        if time.monotonic() > deadline:
            return False, detail
        time.sleep(0.1)


def caught_signals(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigCgt:"):
                return int(line.split()[1], 16)
    return None


def check_window(a, x):
    env = dict(x.env(), SDL_RENDER_DRIVER="software")
    v = vm(a, env, "--display", "sdl")
    expect("the guest draws its first mode", v.has("MODE 320 240 2"), "\n".join(v.lines[-5:]))
    window = find_window(env)
    if not expect("a window named 'HyperBIOS: display0' opens", window is not None):
        v.proc.kill()
        return
    ok, detail = screen_matches(env, window, 320, 240)
    expect("the X screen shows the 320x240 picture pixel-exact in the window", ok, detail)
    window = find_window(env)

    sdl_caught = caught_signals(v.proc.pid)
    plain = vm(a, env, "--display", "none", guest="spin_forever.elf")
    time.sleep(1.0)
    plain_caught = caught_signals(plain.proc.pid)
    plain.proc.kill()
    plain.end()
    expect("SDL installs no signal handler (SigCgt with a window is SigCgt without)",
           sdl_caught is not None and sdl_caught == plain_caught, f"{sdl_caught:#x} vs {plain_caught:#x}")

    xdo(env, "windowsize", window, "400", "300")
    expect("a resize reaches the guest as size_requested 400x300", v.has("DSP 2 2 400 300"), "\n".join(v.lines[-5:]))
    expect("the guest sets the mode asked for", v.has("MODE 400 300 3"))
    ok, detail = screen_matches(env, window, 400, 300)
    expect("the window shows the 400x300 picture pixel-exact", ok, detail)

    xdo(env, "windowunmap", window)
    expect("an unmapped window is a visibility event (hidden)", v.has("DSP 4 3 0 0"))
    xdo(env, "windowmap", window)
    expect("a mapped window is a visibility event (visible)", v.wait_for(lambda ls: ls.count("DSP 4 3 1 0") >= 1))

    xdo(env, "windowfocus", "--sync", window)
    xdo(env, "mousemove", "--window", window, "--sync", "30", "40")
    xdo(env, "click", "1")
    expect("a move into the window arrives as an absolute position (x 30)", v.has("INPUT 1 3 0 30 0 0"),
           "\n".join(v.lines[-8:]))
    expect("... and (y 40)", v.has("INPUT 1 3 1 40 0 0"))
    expect("a click arrives as BTN_LEFT pressed and released",
           v.has("INPUT 1 2 272 1 0 0") and v.has("INPUT 1 2 272 0 0 0"))
    xdo(env, "type", "--delay", "20", "aB")
    expect("a typed 'a' is KEY_A (30) pressed with 'a' (97)", v.has("INPUT 0 1 30 1 97 0"), "\n".join(v.lines[-8:]))
    expect("a typed 'B' is Shift then KEY_B (48) with 'B' (66) and the Shift modifier",
           v.has("INPUT 0 1 42 1 0 1") and v.has("INPUT 0 1 48 1 66 1"))
    subprocess.run([a.x_close_window, window], env=env, timeout=30)
    expect("the close button reaches the guest as close_requested", v.has("DSP 3 3 0 0"))
    expect("the guest that answers ends with status 0", v.end() == 0)


def check_scaling_and_close_timeout(a, x):
    env = dict(x.env(), SDL_RENDER_DRIVER="software")
    # Argument 1: the guest never reads display events (it keeps its mode, and
    # never takes a close request).
    v = vm(a, env, "--display", "sdl,close-timeout=1", "--", "1")
    window = find_window(env)
    if not expect("the window of a guest that keeps its mode opens", window is not None and v.has("MODE 320 240 2")):
        v.proc.kill()
        return
    # As a person would: resize the window once it shows the picture (SDL may
    # still replace the X window it made while it sets its renderer up).
    ok, detail = screen_matches(env, window, 320, 240)
    expect("the deaf guest's window shows its 320x240 picture", ok, detail)
    window = find_window(env)
    xdo(env, "windowsize", window, "640", "480")
    ok, detail = screen_matches(env, window, 320, 240, scale=2)
    expect("a 320x240 mode in a 640x480 window is scaled 2x, pixel-exact", ok, detail)
    subprocess.run([a.x_close_window, window], env=env, timeout=30)
    closed = time.monotonic()
    status = v.end()
    took = time.monotonic() - closed
    expect("hbvm ends the run when the close request is not taken within close-timeout=1 (status 0)",
           status == 0 and 0.9 < took < 3.0, f"status {status} after {took:.2f} s")
    expect("... and says why", any("did not take the close request" in l for l in v.lines), "\n".join(v.lines[-3:]))


def check_relative_grab(a, x):
    env = dict(x.env(), SDL_RENDER_DRIVER="software")
    v = vm(a, env, "--display", "sdl", "--input", "keyboard", "--input", "pointer,display=relative")
    window = find_window(env)
    if not expect("the window of a guest with a relative pointer opens", window is not None and v.has("MODE 320 240 2")):
        v.proc.kill()
        return
    screen_matches(env, window, 320, 240)
    window = find_window(env)
    xdo(env, "windowfocus", "--sync", window)
    xdo(env, "mousemove", "--window", window, "--sync", "50", "50")
    xdo(env, "click", "1")
    grabbed_title = ""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "grabbed" not in grabbed_title:
        grabbed_title = xdo(env, "getwindowname", window)
        time.sleep(0.05)
    expect("a click grabs the mouse for a relative pointer, and the title says how to let go",
           "Ctrl+Alt+G" in grabbed_title, grabbed_title)
    xdo(env, "mousemove_relative", "--", "7", "4")
    expect("motion arrives as relative x 7 and y 4", v.has("INPUT 1 4 0 7 0 0") and v.has("INPUT 1 4 1 4 0 0"),
           "\n".join(v.lines[-6:]))
    expect("the grabbing click is the window's: no button reaches the guest",
           not any(l.startswith("INPUT 1 2 ") for l in v.lines), "\n".join(v.lines[-6:]))
    xdo(env, "key", "ctrl+alt+g")
    time.sleep(0.3)
    title = xdo(env, "getwindowname", window)
    expect("Ctrl+Alt+G lets go of the mouse", "grabbed" not in title, title)
    xdo(env, "key", "Escape")
    v.end()
    expect("the G of Ctrl+Alt+G, pressed or released, is not the guest's",
           not any(l.startswith("INPUT 0 1 34 ") for l in v.lines), "\n".join(v.lines[-8:]))


def check_console_only(a, x):
    env = x.env()
    v = vm(a, env, guest="debug_exit.elf")
    status = v.end()
    expect("a console-only guest under --display auto with $DISPLAY set opens no window",
           status is not None and find_window(env, seconds=0.5) is None and
           not any("SDL window" in l for l in v.lines), "\n".join(v.lines))


def check_stalled_x(a, x):
    """SIGTERM with the X server stopped while the window draws: hbvm must not
    wait for the window's thread, which X has stalled (a join would never end).
    The limit is a test's loose one (1 s): on the loaded CI machine stops took
    315 and 318 ms in two runs, by hand 11-32 ms; the 100 ms promise is measured
    by bench-stop ("SIGTERM, X server stopped while the window draws")."""
    env = dict(x.env(), SDL_RENDER_DRIVER="software")
    sock = f"{a.tmp}/stall.sock"
    v = vm(a, env, "--display", "sdl", "--control", f"unix:{sock}")
    if not expect("the window of the stall test opens", find_window(env) is not None and v.has("MODE 320 240 2"),
                  "\n".join(v.lines[-5:])):
        v.proc.kill()
        return
    os.kill(x.proc.pid, signal.SIGSTOP)
    try:
        # A 1900x1000 frame (7 MiB) cannot fit the X connection's buffers: the
        # window's thread blocks in Xlib.
        subprocess.run([a.hbvm_ctl, f"unix:{sock}", "display0-request-size", '{"width": 1900, "height": 1000}'],
                       capture_output=True, timeout=30)
        expect("the guest draws a large frame while X is stopped", v.has("MODE 1900 1000 3"))
        time.sleep(1.0)
        started = time.monotonic()
        v.proc.send_signal(signal.SIGTERM)
        status = v.end(seconds=5)
        took = (time.monotonic() - started) * 1000
    finally:
        os.kill(x.proc.pid, signal.SIGCONT)
    expect(f"with the X server stopped, SIGTERM ends hbvm at once (status 143; {took:.0f} ms)",
           status == 143 and took < 1000, f"status {status} after {took:.0f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--hbvm-ctl", required=True)
    parser.add_argument("--guests", required=True)
    parser.add_argument("--x-close-window", required=True)
    parser.add_argument("--sanitized", action="store_true",
                        help="hbvm runs under ASan (accepted for the test list's sake; the limits are loose already)")
    a = parser.parse_args()
    missing = [tool for tool in ("Xvfb", "xdotool", "xwd") if not shutil.which(tool)]
    module = pathlib.Path(a.hbvm).resolve().parents[1] / "lib" / "hyperbios" / "modules" / "hbvm-sdl.so"
    if missing or not module.exists() or not pathlib.Path(a.x_close_window).exists():
        print(f"FAIL the window test needs {', '.join(missing) or 'nothing more from Debian'}, {module} and "
              f"{a.x_close_window}: run scripts/install-deps (libsdl2-dev, xvfb, xdotool, x11-apps) and build again")
        return 1
    with tempfile.TemporaryDirectory(prefix="hbvm-window-") as tmp:
        a.tmp = tmp
        for check in (check_window, check_scaling_and_close_timeout, check_relative_grab, check_console_only,
                      check_stalled_x):
            x = x_server()
            try:
                check(a, x)
            finally:
                x.close()
    print("FAILED: " + "; ".join(failures) if failures else "all window checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
