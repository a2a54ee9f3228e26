#!/usr/bin/python3
"""host.e2e.display: the DSP and INP services of hbvm with the `none` display and
input driven through the control socket — no X server.

- display_probe draws a known 64x48 picture, presents it in two rectangles and
  scribbles over its framebuffer afterwards: the screenshot (--display
  none,screenshot=) and the control socket's display0-screendump show the
  picture pixel-exact and not the scribble.
- input_probe prints the events it reads: text typed through keyboard0-type
  arrives as evdev key presses and releases with their characters and the
  Shift modifier; pointer moves, a click and the wheel arrive in order; 300 keys
  queued while the machine is paused overflow the 256-event queue into one
  `dropped` marker counting the lost events, after which the guest's state call
  agrees with what was queued; Escape ends the guest.

Exit status 0 when all of that holds, 1 otherwise.
"""

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "conformance"))
import conform  # noqa: E402  (read_png)
from hbvm_process import hbvm_process  # noqa: E402

failures = []


def expect(label, condition, detail=""):
    print(f"{'PASS' if condition else 'FAIL'} {label}" + ("" if condition or not detail else f": {detail}"), flush=True)
    if not condition:
        failures.append(label)
    return condition


def picture_ok(path, width=64, height=48):
    w, h, rows = conform.read_png(path)
    if (w, h) != (width, height):
        return False, f"{w}x{h}"
    bad = [(x, y) for y in range(h) for x in range(w)
           if rows[y][3 * x:3 * x + 3] != bytes([(x * 4) & 0xFF, (y * 5) & 0xFF, (x ^ y) & 0xFF])]
    return not bad, f"{len(bad)} pixels differ, first {bad[:3]}"


def vm(hbvm, guest, accel, sock, *extra):
    """hbvm with a control socket."""
    return hbvm_process([hbvm, "run", guest, "--accel", accel, "--timeout", "60", "--control", f"unix:{sock}", *extra])


def ctl(hbvm_ctl, sock, command, arguments=None, *extra):
    p = subprocess.run([hbvm_ctl, f"unix:{sock}", command, json.dumps(arguments or {}), *extra],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--hbvm-ctl", required=True)
    parser.add_argument("--guests", required=True)
    parser.add_argument("--accel", default="soft", choices=["soft", "kvm"])
    a = parser.parse_args()
    guests = pathlib.Path(a.guests)

    with tempfile.TemporaryDirectory(prefix="hbvm-display-") as tmp:
        tmp = pathlib.Path(tmp)
        shot = tmp / "shot.png"
        p = subprocess.run([a.hbvm, "run", guests / "display_probe.elf", "--accel", a.accel, "--timeout", "60",
                            "--display", f"none,screenshot={shot}"], capture_output=True, text=True)
        expect("display_probe: set_mode, info, two presents, an old generation refused, a paced presented event",
               p.returncode == 0, p.stderr[-500:])
        ok, why = picture_ok(shot) if shot.exists() else (False, "no screenshot")
        expect("the screenshot shows the presented picture pixel-exact, not what the guest drew after", ok, why)
        shot2 = tmp / "shot2.png"
        p = subprocess.run([a.hbvm, "run", guests / "display_probe.elf", "--accel", a.accel, "--timeout", "60",
                            "--display", "none", "--screenshot", shot2], capture_output=True, text=True)
        ok, why = picture_ok(shot2) if shot2.exists() else (False, "no screenshot")
        expect("--screenshot FILE writes display 0's last frame as --display ...,screenshot= does", ok, why)
        p = subprocess.run([a.hbvm, "run", guests / "display_probe.elf", "--screenshot", shot2, "--display",
                            f"none,screenshot={shot}"], capture_output=True, text=True)
        expect("--screenshot beside a display's own screenshot= is a usage error naming both",
               p.returncode == 64 and "both name display 0's screenshot" in p.stderr, p.stderr[-300:])

        # Input through the control socket.
        sock = tmp / "vm.sock"
        v = vm(a.hbvm, guests / "input_probe.elf", a.accel, sock, "--display", "none,width=640,height=480",
               "--input", "keyboard", "--input", "pointer")
        expect("input_probe listens", v.wait_for(lambda ls: any(l.startswith("READY 2") for l in ls)),
               "\n".join(v.lines[-5:]))
        s, out, err = ctl(a.hbvm_ctl, sock, "keyboard0-type", {"text": "Hi"})
        expect("keyboard0-type answers", s == 0 and '"typed": 2' in out, f"{s} {out} {err}")
        for command, args in (("pointer1-move", {"x": 100, "y": 200}), ("pointer1-move", {"x": 5000, "y": 10}),
                              ("pointer1-button", {"button": 0, "value": 1}),
                              ("pointer1-button", {"button": 0, "value": 0}), ("pointer1-wheel", {"value": -2})):
            s, out, err = ctl(a.hbvm_ctl, sock, command, args)
            expect(f"{command} {json.dumps(args)} answers", s == 0, f"{s} {out} {err}")
        want = [
            "INPUT 0 1 42 1 0 1",      # Left Shift pressed: modifiers shift
            "INPUT 0 1 35 1 72 1",     # H with 'H'
            "INPUT 0 1 35 0 0 1",
            "INPUT 0 1 42 0 0 0",
            "INPUT 0 1 23 1 105 0",    # I with 'i'
            "INPUT 0 1 23 0 0 0",
            "INPUT 1 3 0 100 0 0",     # absolute x, y
            "INPUT 1 3 1 200 0 0",
            "INPUT 1 3 0 639 0 0",     # x clamped to the mode; y changed too
            "INPUT 1 3 1 10 0 0",
            "INPUT 1 2 272 1 0 0",     # BTN_LEFT
            "INPUT 1 2 272 0 0 0",
            "INPUT 1 5 0 -2 0 0",
        ]
        got = lambda ls: [l for l in ls if l.startswith("INPUT ")]
        v.wait_for(lambda ls: len(got(ls)) >= len(want), 30)
        expect("the guest reads the typed text, the moves (clamped to the mode), the click and the wheel in order",
               got(v.lines)[:len(want)] == want, "\n".join(got(v.lines)))

        # Overflow: 300 key events queued while the machine is paused.
        s, out, err = ctl(a.hbvm_ctl, sock, "stop", None, "--wait-event", "STOP")
        expect("stop", s == 0, f"{s} {err}")
        s, out, err = ctl(a.hbvm_ctl, sock, "display0-screendump", {"file": str(tmp / "paused.png")})
        expect("display0-screendump writes a PNG of the display while paused",
               s == 0 and conform.read_png(tmp / "paused.png")[:2] == (640, 480), f"{s} {out} {err}")
        before = len(got(v.lines))
        for i in range(150):
            for value in (1, 0):
                s, _, err = ctl(a.hbvm_ctl, sock, "keyboard0-key", {"code": 30, "value": value})
                if s:
                    break
        ctl(a.hbvm_ctl, sock, "keyboard0-key", {"code": 30, "value": 1})  # left down
        s, out, err = ctl(a.hbvm_ctl, sock, "cont", None, "--wait-event", "RESUME")
        v.wait_for(lambda ls: any(l.startswith("STATE 0") for l in ls), 30)
        after = got(v.lines)[before:]
        dropped = [l for l in after if l.startswith("INPUT 0 6 ")]
        state = [l for l in v.lines if l.startswith("STATE 0")]
        expect("301 events into a queue of 256: 255 delivered, then one dropped marker counting 46 lost",
               len(after) == 256 and dropped == ["INPUT 0 6 0 46 0 0"] and after[-1] == dropped[0],
               f"{len(after)} events, last {after[-1:]}")
        expect("after it, the state call says the A key is down (the last event, lost, pressed it)",
               state[:1] == ["STATE 0 1 0 0 0"], str(state))

        ctl(a.hbvm_ctl, sock, "keyboard0-key", {"code": 1, "value": 1})
        ctl(a.hbvm_ctl, sock, "keyboard0-key", {"code": 1, "value": 0})
        status = v.end(seconds=30)
        expect("Escape ends the guest with 0", status == 0, f"{status} {v.lines[-3:]}")

        # What a person at a window asks, with no window: a size, then a close.
        sock2 = tmp / "window.sock"
        v = vm(a.hbvm, guests / "window_probe.elf", a.accel, sock2, "--display", "none")
        expect("window_probe draws its first mode on a `none` display", v.wait_for(lambda ls: "READY 2" in ls))
        s, out, err = ctl(a.hbvm_ctl, sock2, "display0-request-size", {"width": 400, "height": 300})
        expect("display0-request-size reaches the guest as size_requested, which it takes",
               s == 0 and v.wait_for(lambda ls: "DSP 2 2 400 300" in ls and "MODE 400 300 3" in ls), f"{err} {v.lines[-4:]}")
        s, out, err = ctl(a.hbvm_ctl, sock2, "display0-request-size", {"width": 0, "height": 300})
        expect("a size of 0 is refused with a message", s != 0 and "width" in (out + err), out + err)
        s, out, err = ctl(a.hbvm_ctl, sock2, "display0-request-close")
        expect("display0-request-close reaches the guest as close_requested; it ends with 0",
               s == 0 and v.wait_for(lambda ls: "DSP 3 3 0 0" in ls) and v.proc.wait(timeout=30) == 0,
               f"{out} {err} {v.lines[-3:]}")

        # A guest that never takes the close request is ended after close-timeout=.
        sock3 = tmp / "deaf.sock"
        v = vm(a.hbvm, guests / "window_probe.elf", a.accel, sock3, "--display", "none,close-timeout=1", "--", "1")
        v.wait_for(lambda ls: "READY 2" in ls)
        ctl(a.hbvm_ctl, sock3, "display0-request-close")
        asked = time.monotonic()
        status = v.end(seconds=30)
        took = time.monotonic() - asked
        expect(f"a guest deaf to the close request is ended after close-timeout=1 with status 0 ({took:.2f} s)",
               status == 0 and 0.9 < took < 3 and any("did not take the close request" in l for l in v.lines),
               f"{status} {v.lines[-2:]}")

        # A close request lost to a full queue does not end the run: the guest
        # could not have answered it (64 size requests fill the queue first).
        sock5 = tmp / "full.sock"
        v = vm(a.hbvm, guests / "window_probe.elf", a.accel, sock5, "--display", "none,close-timeout=1", "--", "1")
        v.wait_for(lambda ls: "READY 2" in ls)
        for i in range(64):
            ctl(a.hbvm_ctl, sock5, "display0-request-size", {"width": 100 + i, "height": 100})
        ctl(a.hbvm_ctl, sock5, "display0-request-close")
        time.sleep(2.0)
        expect("a close request lost to a full queue does not end the run after close-timeout=1",
               v.proc.poll() is None, f"{v.proc.returncode} {v.lines[-2:]}")
        v.proc.kill()
        v.proc.wait()

        # A relative pointer takes motion, and refuses an absolute move.
        sock4 = tmp / "relative.sock"
        v = vm(a.hbvm, guests / "input_probe.elf", a.accel, sock4, "--display", "none", "--input", "keyboard",
               "--input", "pointer,display=relative")
        v.wait_for(lambda ls: any(l.startswith("READY 2") for l in ls))
        s, out, err = ctl(a.hbvm_ctl, sock4, "pointer1-motion", {"dx": 5, "dy": -3})
        expect("pointer1-motion of a relative pointer queues relative x 5 and y -3",
               s == 0 and v.wait_for(lambda ls: "INPUT 1 4 0 5 0 0" in ls and "INPUT 1 4 1 -3 0 0" in ls),
               f"{err} {v.lines[-3:]}")
        s, out, err = ctl(a.hbvm_ctl, sock4, "pointer1-move", {"x": 1, "y": 1})
        expect("pointer1-move of a relative pointer is refused, naming -motion", s != 0 and "motion" in out + err,
               out + err)
        v.proc.kill()
        v.proc.wait()

        # An input feed whose writer holds the FIFO open and never writes does
        # not hold up a stop (bench-stop measures the 100 ms).
        fifo = tmp / "stalled.fifo"
        os.mkfifo(fifo)
        writer = os.open(fifo, os.O_RDWR)
        try:
            v = vm(a.hbvm, guests / "input_probe.elf", a.accel, tmp / "feed.sock", "--display", "none", "--input",
                   "keyboard", "--input-feed", str(fifo))
            v.wait_for(lambda ls: any(l.startswith("READY") for l in ls))
            sent = time.monotonic()
            v.proc.send_signal(signal.SIGTERM)
            status = v.end(seconds=10)
            took = time.monotonic() - sent
            expect(f"SIGTERM ends hbvm at once while the input feed's writer stalls ({took * 1000:.0f} ms)",
                   status == 143 and took < 1.0, f"status {status}")
        finally:
            os.close(writer)

    print("all passed" if not failures else f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
