#!/usr/bin/python3
"""example.paint: the paint example on hbvm with the `none` display, driven
through the control socket the way a person drives its window — a click on
the palette (green), a stroke, a key (F1: black), a second stroke, a click and
typed text, the pointer moved away, a resize to 800x600 (the window's
size_requested), Escape — then its screenshot must show the scene (sky, sun,
house), both strokes in their colours where they were drawn, the text where
the click was, the cursor where the pointer is, paper where the window grew,
and the palette with black chosen; and it ends with exit code 0.

--picture PATH also writes the screenshot there (the README's picture).
Exit status 0 when all holds, 1 otherwise."""

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "conformance"))
import conform  # noqa: E402  (read_png)

failures = []
PAPER, GREEN, BLACK, BAR = (0xF4, 0xF1, 0xE8), (0x40, 0xC0, 0x40), (0, 0, 0), (0x30, 0x30, 0x30)
WHITE, GROUND, WALL, SUN = (0xFF, 0xFF, 0xFF), (0x60, 0xA0, 0x50), (0xC0, 0x60, 0x40), (0xF8, 0xD0, 0x40)


def expect(label, condition, detail=""):
    print(f"{'PASS' if condition else 'FAIL'} {label}" + ("" if condition or not detail else f": {detail}"), flush=True)
    if not condition:
        failures.append(label)
    return condition


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--hbvm-ctl", required=True)
    parser.add_argument("--paint", required=True)
    parser.add_argument("--picture", help="also write the final screenshot here")
    a = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbvm-paint-") as tmp:
        sock, shot = f"{tmp}/ctl.sock", f"{tmp}/paint.png"
        proc = subprocess.Popen([a.hbvm, "run", a.paint, "--accel", "soft", "--timeout", "60",
                                 "--display", f"none,width=640,height=480,screenshot={shot}",
                                 "--input", "keyboard", "--input", "pointer", "--control", f"unix:{sock}"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        threading.Thread(target=lambda: lines.extend(l.rstrip("\n") for l in proc.stdout), daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(l.startswith("paint: ready") for l in lines):
            time.sleep(0.02)
        if not expect("paint says it is ready at the display's 640x480",
                      any(l.startswith("paint: ready, 640x480") for l in lines), "\n".join(lines)):
            proc.kill()
            print("stderr: " + proc.communicate()[1].strip())
            return 1

        def ctl(command, **arguments):
            p = subprocess.run([a.hbvm_ctl, f"unix:{sock}", command, json.dumps(arguments)], capture_output=True,
                               text=True, timeout=30)
            if p.returncode != 0:
                expect(f"hbvm-ctl {command}", False, p.stderr.strip())

        def click(x, y):
            ctl("pointer1-move", x=x, y=y)
            ctl("pointer1-button", button=0, value=1)
            ctl("pointer1-button", button=0, value=0)

        def drag(points):
            ctl("pointer1-move", x=points[0][0], y=points[0][1])
            ctl("pointer1-button", button=0, value=1)
            for x, y in points[1:]:
                ctl("pointer1-move", x=x, y=y)
            ctl("pointer1-button", button=0, value=0)

        click(4 + 4 * 32 + 10, 14)  # the fifth swatch: green
        drag([(100, 100), (300, 100), (300, 200)])
        ctl("keyboard0-key", code=59, value=1)  # KEY_F1: black
        ctl("keyboard0-key", code=59, value=0)
        drag([(100, 300), (200, 300)])
        click(100, 360)  # the caret
        ctl("pointer1-move", x=600, y=420)  # the cursor out of the text's way
        ctl("keyboard0-type", text="Hi")
        ctl("display0-request-size", width=800, height=600)
        time.sleep(0.5)  # let the guest take the new size before it ends
        ctl("keyboard0-key", code=1, value=1)  # Escape
        try:
            status = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = None
        expect("Escape ends paint with exit code 0", status == 0, f"status {status}; {proc.stderr.read().strip()}")

        try:
            w, h, rows = conform.read_png(shot)
        except (OSError, ValueError) as e:
            expect("hbvm wrote the screenshot", False, str(e))
            return 1

        def at(x, y):
            return tuple(rows[y][3 * x:3 * x + 3])

        expect("the picture has the size the window asked for (800x600)", (w, h) == (800, 600), f"{w}x{h}")
        if (w, h) == (800, 600):
            expect("the green stroke runs from (100, 100) to (300, 100) and down to (300, 200)",
                   all(at(x, 100) == GREEN for x in range(100, 301, 10)) and
                   all(at(300, y) == GREEN for y in range(100, 201, 10)),
                   f"{at(100, 100)} {at(200, 100)} {at(300, 150)}")
            expect("the black stroke runs from (100, 300) to (200, 300)",
                   all(at(x, 300) == BLACK for x in range(100, 201, 10)), f"{at(150, 300)}")
            expect("the scene: a blue sky, the sun, the house's wall, the ground",
                   at(50, 50)[2] > 0xD0 and at(550, 102) == SUN and at(350, 270) == WALL and at(50, 400) == GROUND,
                   f"{at(50, 50)} {at(550, 102)} {at(350, 270)} {at(50, 400)}")
            # 'H' in the 5x7 font, 2x, from (100, 360): its right column (x 108-109)
            # is set on every row, its middle (x 104) only on the crossbar (row 3,
            # y 366-367); 'I' follows 12 pixels on, its middle column at x 116.
            expect("'Hi' typed where the click was, in black (H, then I as a capital)",
                   at(108, 372) == BLACK and at(104, 366) == BLACK and at(104, 372) == GROUND and
                   at(116, 364) == BLACK, f"{at(108, 372)} {at(104, 366)} {at(104, 372)} {at(116, 364)}")
            expect("the cursor where the pointer is (black outline, white inside)",
                   at(600, 420) == BLACK and at(601, 422) == WHITE, f"{at(600, 420)} {at(601, 422)}")
            expect("paper where the window grew", at(700, 550) == PAPER and at(780, 100) == PAPER,
                   f"{at(700, 550)} {at(780, 100)}")
            expect("the palette bar with black chosen (a white frame around the first swatch)",
                   at(700, 10) == BAR and at(3, 3) == WHITE and at(10, 10) == BLACK,
                   f"{at(700, 10)} {at(3, 3)} {at(10, 10)}")
        if a.picture:
            shutil.copyfile(shot, a.picture)
    print("FAILED: " + "; ".join(failures) if failures else "all paint checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
