"""The HyperBIOS conformance driver: runs the conformance images on a host,
collects the checks they report, and writes the results as a terminal summary,
TAP, JUnit XML and a certificate (Markdown and HTML) with the requirement ->
test -> result matrix. Standard library only; run it with /usr/bin/python3.

The images report on the debug port (or COM1), one line per check:
    BOOT                                  printed by every image as it starts
    PASS|FAIL|SKIP HB-AREA-NNN description [(detail or reason)]
    EXPECT-EXIT HB-PWR-001 0              the host's exit status must be this code
    EXPECT-CONSOLE HB-CON-001 text        the console (stdout) must show this text
    EXPECT-CONSOLE-BYTES HB-CON-001 hex   stdout must contain exactly these bytes
    EXPECT-BOOTS HB-PWR-003 2             the image must have started this many times
    EXPECT-UNIQUE HB-RNG-002 value        no other image (another machine) may report this value
    EXPECT-DISK HB-BLK-004 disk0 0x400 hex  after the run, the file of the driver's disk0 must hold
                                          these bytes at this offset
    EXPECT-DISK HB-BLK-010 disk2 unchanged  after the run, disk2's file must hold what the driver put in it
    INFO key value                        the host's identity; INFO services and
                                          INFO gates: what its discovery advertises
    NOTE text
    SUMMARY: N checks, F failed, S skipped

Disks: the driver makes disks for the BLOCK image (every image gets them, each
run its own fresh copies in the run's workdir). `{disk0}`..`{disk3}` in --host
name the files; only those the template uses are made. Byte i of diskN is byte
i % 8 (little-endian) of disk_word(N, i // 8), a xorshift of the 8-byte word's
index (disk_content), so an image can tell the disks apart and check what it
reads. The set is fixed (DISKS):
    disk0  4 MiB            512-byte sectors, writable
    disk1  4 MiB            writable, meant for sector=4096
    disk2  1 MiB            meant read-only
    disk3  1 MiB + 3.5 KiB  writable, 512-byte sectors: 2055 sectors, a capacity
                            that is no power of two
The host template decides how to pass them, e.g.
    --host 'hbvm run {image} --end-report {end} --disk {disk0} --disk {disk1},sector=4096 --disk {disk2},ro --disk {disk3}'
After the run the driver compares the files with the image's EXPECT-DISK lines.

Device places: what an image needs of a host beyond the disks and {end} — a file
the host writes a screenshot or audio into, say. An image declares each place it
needs, with the requirements that cannot be tested without it, as a string in
its file (conformance/guest/image.hpp: HYPERBIOS_CONFORM_NEEDS); the driver
knows each place (PLACES) and gives a fresh one where the host template names
{place}. A template without it still runs the image, but those requirements are
"not tested", never passed. After the run the image's lines
    EXPECT-PLACE HB-AREA-NNN place text TEXT   the place's file must hold TEXT
    EXPECT-PLACE HB-AREA-NNN place hex HEX     ... these bytes
are checked against the file (or by the place's own check).

The verdict is built only from what ran: a requirement passes when a check of it
passed and none failed, and a MUST that no check reached fails. It is not
applicable only where the spec allows a host to leave it out: a service the host
does not advertise (every service but BASE is optional), a SKIP whose reason the
spec allows (ALLOWED_SKIP_REASONS), or a guest-side rule. What a host is known
to lack (--expect) is named in the certificate but is still a failure, and what
cannot be observed (an exit code under --exit-style none) is not a pass.
"""

import array
import concurrent.futures
import datetime
import functools
import os
import signal
import html
import json
import pathlib
import re
import selectors
import shlex
import socket
import threading
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib

HERE = pathlib.Path(__file__).resolve().parent
SPEC_DIR = HERE.parent / "spec"
sys.path.insert(0, str(SPEC_DIR / "tools"))
import hyperbios_spec  # noqa: E402

# What the driver feeds every host's standard input, for the console image to read
# back byte for byte (HB-CON-003): every byte value, NUL and CR included.
CONSOLE_INPUT = b"HyperBIOS console input:" + bytes(range(256))

CHECK = re.compile(r"^(PASS|FAIL|SKIP) (HB-[A-Z]+-\d{3}) (.*)$")
EXPECT = re.compile(r"^EXPECT-(EXIT|CONSOLE|CONSOLE-BYTES|BOOTS|UNIQUE|DISK|INCREASING|END|PLACE) "
                    r"(HB-[A-Z]+-\d{3}) (.*)$")
MEASURE = re.compile(r"^MEASURE-CPU (BEGIN|END) (HB-[A-Z]+-\d{3}) (.+)$")
INFO = re.compile(r"^INFO ([a-z0-9_.-]+) (.*)$")
SUMMARY = re.compile(r"^SUMMARY: (\d+) checks, (\d+) failed, (\d+) skipped$")
NO_HOST_NOTE = "no HyperBIOS host"
# Requirements a guest proves about itself on hosts without HyperBIOS.
DETECTION_REQUIREMENTS = ("HB-DISC-010", "HB-DISC-011")
# A SKIP makes a MUST not applicable only for a reason the spec allows, named by
# the start of the reason: an optional feature the host does not advertise, a
# call the spec lets the host's policy refuse, or a rule about guests that only
# a machine without HyperBIOS can exercise. Any other SKIP of a MUST fails: a
# host cannot make a requirement go away by behaving oddly.
ALLOWED_SKIP_REASONS = ("not advertised", "denied by the host's policy", "a guest-side rule", "the host may")
# A SKIP whose reason starts so could not run with what the host was given (no
# read-only disk, no {end} placeholder): the requirement is "not tested", which
# never counts as a pass, and a MUST not tested keeps the verdict from CONFORMANT.
NOT_TESTED_REASON = "not tested"

# MUSTs that can be observed only in part; a pass says which part was observed.
PARTLY_OBSERVABLE = {
    "HB-BLK-009": ("a crash of the host process (SIGKILL right after an announced flush, then the disk file read)",
                   "a crash of the host machine (power loss): no driver can cause one"),
    "HB-BLK-004": ("writes stored and read back, in the image and in the disk files; writes of 0 bytes",
                   "that a write failing with IO_ERROR leaves every sector whole: no driver can make a host's "
                   "storage fail"),
    "HB-PWR-004": ("0 at power-on and 1 after POWER.reboot, with the boots counted from outside",
                   "2 after a reset the host starts: the driver has no host-neutral way to ask for one"),
    "HB-RNG-001": ("every byte written, nothing else, a monobit count",
                   "whether the generator is cryptographically secure"),
    "HB-RNG-002": ("no repeats between the calls and the machines of this certification",
                   "repeats with machines elsewhere"),
}

# The driver's disks ({disk0}..{disk3} in --host): name -> (size in bytes, what it is meant for).
# Their content is disk_content(); the BLOCK image computes the same function.
DISKS = {
    "disk0": (4 << 20, "512-byte sectors, writable"),
    "disk1": (4 << 20, "writable, meant for sector=4096"),
    "disk2": (1 << 20, "meant read-only"),
    "disk3": ((1 << 20) + 7 * 512, "writable, 512-byte sectors, 2055 of them"),
}
# How the reference host takes the driver's places — its end report ({end}) and
# its disks (hbvm run --end-report FILE --disk PATH[,ro][,sector=4096]) — for the
# commands that certify it (CMake, mutation-test).
HBVM_PLACES = ("--end-report {end} --disk {disk0} --disk {disk1},sector=4096 --disk {disk2},ro --disk {disk3} "
               "--display none,screenshot={screenshot} --input keyboard --input pointer --input-feed {input} "
               "--net socket:{net0} --audio wav:{audio0}")


class Place:
    """A device place ({name} in --host): what the driver gives a host for one
    device of an image, and how it judges what the host left there.

    kind "output": a path in the run's workdir that does not exist before the run;
    the host creates the file and writes what the guest sent to the device.
    kind "input": a FIFO in the workdir that the host reads; the driver writes
    into it what the image asks for in FEED-INPUT lines, while the host runs.
    kind "segment": a folder in the workdir that is an Ethernet segment (the
    segment format, conformance/README.md); the driver is a member of it
    (SegmentPeer) and does what the image asks in NET-PEER lines.
    meaning: what the host must do with it, in the words of the place's spec
    section (shown in "not tested" notes, so without parentheses: the reason of a
    SKIP is its last parenthesis). hbvm: how the reference host takes it.
    check(run, rid, path, arg): a check list for one EXPECT-PLACE line; the default
    compares the file's content (text TEXT / hex HEX)."""

    def __init__(self, kind, meaning, hbvm, check=None):
        if kind not in ("output", "input", "segment"):
            raise ValueError(f"unknown place kind {kind!r}")
        self.kind, self.meaning, self.hbvm = kind, meaning, hbvm
        self.check = check or content_check


# What an image declares, as a NUL-terminated string anywhere in its file
# (HYPERBIOS_CONFORM_NEEDS in conformance/guest/image.hpp). Found loosely and
# parsed strictly: a declaration the driver cannot read is a suite error, never
# a declaration ignored (which would let its requirements pass without the place).
NEEDS = re.compile(rb"HYPERBIOS-CONFORM-NEEDS:([^\x00]{0,4096})\x00")
NEEDS_TEXT = re.compile(r"\{([a-z][a-z0-9_]{0,31})\}:(HB-[A-Z]+-\d{3}(?:,HB-[A-Z]+-\d{3})*)")


def image_needs(image):
    """The places an image declares it needs: {place: [requirement, ...]}."""
    try:
        data = pathlib.Path(image).read_bytes()
    except OSError as e:
        raise SuiteError(f"{image}: cannot read the image ({e.strerror})")
    needs = {}
    for m in NEEDS.finditer(data):
        text = m.group(1).decode(errors="replace")
        parsed = NEEDS_TEXT.fullmatch(text)
        if not parsed:
            raise SuiteError(f"{pathlib.Path(image).name} declares a place the driver cannot read: "
                             f"{text[:80]!r} (expected {{name}}:HB-AREA-NNN[,HB-AREA-NNN...], a lower-case name, "
                             f"no spaces)")
        needs.setdefault(parsed.group(1), []).extend(parsed.group(2).split(","))
    unknown = sorted(set(needs) - set(PLACES))
    if unknown:
        raise SuiteError(f"{pathlib.Path(image).name} needs the place{'s' if len(unknown) > 1 else ''} " +
                         ", ".join("{" + u + "}" for u in unknown) + ", which this driver does not know: the image "
                         "is newer than the driver (use the driver of the image's suite)")
    return needs


def place_missing(name):
    """The reason of a "not tested" for a place the host template does not name."""
    place = PLACES[name]
    return (f"{NOT_TESTED_REASON}: the host command has no {{{name}}} placeholder, where the driver gives "
            f"{place.meaning}; hbvm takes it as {place.hbvm}")


def content_check(run, rid, path, arg):
    """EXPECT-PLACE ... text TEXT | hex HEX: the place's file must hold these bytes."""
    form, _, value = arg.partition(" ")
    try:
        wanted = value.encode() if form == "text" else bytes.fromhex(value) if form == "hex" else None
    except ValueError:
        wanted = None
    if not wanted:
        return ["FAIL", rid, f"the image expects {arg[:60]!r} of a place (malformed: garbled output)"]
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as e:
        return ["FAIL", rid, f"the place's file holds what the image sent (it cannot be read: {e.strerror})"]
    ok = wanted in data
    shown = value if form == "text" else f"{len(wanted)} bytes"
    return ["PASS" if ok else "FAIL", rid, f"the place's file holds {shown[:60]!r}, as the image sent it" +
            ("" if ok else f" (it holds {len(data)} bytes without it)")]


def read_png(path):
    """A PNG file's pixels, for places that hold screenshots: (width, height, rows),
    each row the bytes R, G, B of its pixels. Takes what a host is likely to
    write: 8-bit RGB or RGBA (alpha dropped), not interlaced, any of the five row
    filters. Raises ValueError saying what is wrong (standard library only: zlib)."""
    data = pathlib.Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file (no PNG signature)")
    at, header, packed, ended = 8, None, bytearray(), False
    while at + 12 <= len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        if len(body) != length or at + 12 + length > len(data):
            raise ValueError(f"chunk {kind!r} runs past the end of the file")
        if zlib.crc32(kind + body) != int.from_bytes(data[at + 8 + length:at + 12 + length], "big"):
            raise ValueError(f"chunk {kind!r} has a wrong CRC")
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            packed += body
        elif kind == b"IEND":
            ended = True
            break
        at += 12 + length
    if header is None:
        raise ValueError("no IHDR chunk")
    if len(header) != 13:
        raise ValueError(f"the IHDR chunk holds {len(header)} bytes, not 13")
    if not ended:
        raise ValueError("no IEND chunk: the file is cut short (a screenshot still being written?)")
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour, interlace = header[8], header[9], header[12]
    if depth != 8 or colour not in (2, 6) or interlace != 0 or width == 0 or height == 0:
        raise ValueError(f"a PNG of bit depth {depth}, colour type {colour}, interlace {interlace} "
                         f"({width}x{height}); the driver reads 8-bit RGB or RGBA without interlace")
    channels = 3 if colour == 2 else 4
    row_bytes = width * channels
    expected = height * (row_bytes + 1)
    if expected > 1 << 30:
        raise ValueError(f"a {width}x{height} picture is larger than the driver reads (1 GiB of pixels)")
    try:
        # Never more than the picture needs: a host under test could send a bomb.
        raw = zlib.decompressobj().decompress(bytes(packed), expected + 1)
    except zlib.error as e:
        raise ValueError(f"the image data does not inflate ({e})")
    if len(raw) != expected:
        raise ValueError(f"the image data holds {'more than ' if len(raw) > expected else ''}"
                         f"{min(len(raw), expected)} bytes; a {width}x{height} picture has {expected}")
    rows, previous = [], bytearray(row_bytes)
    for y in range(height):
        kind, line = raw[y * (row_bytes + 1)], bytearray(raw[y * (row_bytes + 1) + 1:(y + 1) * (row_bytes + 1)])
        for i in range(row_bytes if kind else 0):  # filter 0 (none): the bytes as they are
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
            elif kind != 0:
                raise ValueError(f"row {y} has filter type {kind}, which PNG does not define")
        previous = line
        rows.append(bytes(line) if channels == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3))
    return width, height, rows


def place_check(run, rid, arg):
    """EXPECT-PLACE: what the host left in a device place, judged by the place."""
    name, _, rest = arg.partition(" ")
    if name not in PLACES:
        return ["FAIL", rid, f"the image expects {arg[:40]!r} of a place the driver does not know (garbled output)"]
    if name not in run.places:
        return ["SKIP", rid, f"what the host did with {{{name}}} ({place_missing(name)})"]
    return PLACES[name].check(run, rid, run.places[name], rest)


# Every device place the driver knows: name -> Place. The issues that add a
# device class add its place here (display: {screenshot}, input: {input},
# network: {net0}, audio: {audio0}), with its format in the spec.
PLACES = {}


def dsp_pattern(x, y):
    """The DSP image's picture: pixel (x, y) as (R, G, B) (images/dsp.cpp pattern())."""
    return (x * 4) & 0xFF, (y * 5) & 0xFF, (x ^ y) & 0xFF


def screenshot_check(run, rid, path, arg):
    """EXPECT-PLACE ... screenshot pattern W H: the PNG is W x H and shows dsp_pattern."""
    parts = arg.split()
    try:
        if len(parts) != 3 or parts[0] != "pattern":
            raise ValueError
        width, height = int(parts[1]), int(parts[2])
    except ValueError:
        return ["FAIL", rid, f"the image expects {arg[:40]!r} of the screenshot (malformed: garbled output)"]
    try:
        w, h, rows = read_png(path)
    except OSError as e:
        return ["FAIL", rid, f"the screenshot shows the presented picture (no PNG to read: {e.strerror})"]
    except ValueError as e:
        return ["FAIL", rid, f"the screenshot shows the presented picture (the file is no PNG the driver reads: {e})"]
    if (w, h) != (width, height):
        return ["FAIL", rid, f"the screenshot shows the presented picture (it is {w}x{h}, not {width}x{height})"]
    wrong = [(x, y) for y in range(h) for x in range(w) if tuple(rows[y][3 * x:3 * x + 3]) != dsp_pattern(x, y)]
    where = f"{len(wrong)} pixels differ, the first at {wrong[0]}: {tuple(rows[wrong[0][1]][3 * wrong[0][0]:3 * wrong[0][0] + 3])} " \
            f"instead of {dsp_pattern(*wrong[0])}" if wrong else ""
    return ["PASS" if not wrong else "FAIL", rid,
            f"the screenshot shows the presented {width}x{height} picture pixel-exact, not what the guest drew after "
            f"presenting, nor what refused presents held" + (f" ({where})" if wrong else "")]


PLACES["input"] = Place(
    "input", "a FIFO of 16-byte input records the host reads while the machine runs and queues on its INP devices "
    "(u16 device, type, code, reserved; i32 value; u32 unicode, little-endian)",
    "--input keyboard --input pointer --input-feed {input}")

PLACES["screenshot"] = Place(
    "output", "a file the host writes when the machine ends: a PNG of the last frame display 0 showed",
    "--display none,screenshot={screenshot}", screenshot_check)


class SegmentPeer:
    """The driver's station on a {net0} segment (conformance/README.md, "The
    segment format"): a Unix datagram socket in the folder. It answers ARP for
    192.0.2.1 with its MAC 02:48:42:00:00:01, records the test frames the guest
    sends it (EtherType 0x88B5, images/net.cpp test_frame), and does what the
    image asks in NET-PEER lines, in order, on its own thread:
        NET-PEER SEND MAC FIRST COUNT LENGTH   COUNT test frames to MAC
        NET-PEER STALL MS                      read nothing for MS milliseconds
        NET-PEER LINK down|up                  pull or plug the segment's link"""

    MAC = bytes.fromhex("024842000001")
    IP = bytes([192, 0, 2, 1])
    TYPE = 0x88B5
    MAGIC = 0x544E4248
    NAME = "conform-driver"

    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.folder / self.NAME))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.out.settimeout(5)
        self.received = []   # (seq, whole) of every test frame from the guest, in arrival order
        self.other = []      # the first bytes of every other frame the guest sent, as hex
        self.commands = []
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.done = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def command(self, text):
        with self.lock:
            self.commands.append(text.split()[1:])
        self.wake.set()

    def close(self):
        self.done = True
        self.wake.set()
        self.thread.join(10)
        self.sock.close()
        self.out.close()

    def members(self):
        try:
            return [p for p in self.folder.iterdir() if p.name != self.NAME and p.is_socket()]
        except OSError:
            return []

    def send(self, frame):
        for member in self.members():
            try:
                self.out.sendto(frame, str(member))
            except OSError:
                pass  # a member that went or does not read: the segment may lose a frame

    @staticmethod
    def test_frame(to, source, kind, seq, length):
        head = to + source + SegmentPeer.TYPE.to_bytes(2, "big")
        body = SegmentPeer.MAGIC.to_bytes(4, "little") + kind.to_bytes(2, "little") + bytes(2) + \
            seq.to_bytes(4, "little") + length.to_bytes(4, "little")
        frame = bytearray(head + body + bytes(max(0, length - 30)))
        for i in range(30, length):
            frame[i] = (seq * 7 + i) & 0xFF
        return bytes(frame[:length])

    def take(self, frame):
        if len(frame) >= 42 and frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x01" and \
                frame[38:42] == self.IP:
            asker_mac, asker_ip = frame[22:28], frame[28:32]
            reply = asker_mac + self.MAC + b"\x08\x06" + bytes.fromhex("0001080006040002") + self.MAC + self.IP + \
                asker_mac + asker_ip
            self.send(reply)
            return
        if len(frame) >= 30 and frame[:6] == self.MAC and int.from_bytes(frame[12:14], "big") == self.TYPE and \
                int.from_bytes(frame[14:18], "little") == self.MAGIC and frame[18] == 3:
            seq = int.from_bytes(frame[22:26], "little")
            with self.lock:
                self.received.append((seq, frame == self.test_frame(frame[:6], frame[6:12], 3, seq, len(frame))))
            return
        if frame[6:12] != self.MAC:
            with self.lock:
                self.other.append(frame[:32].hex())

    def do(self, command):
        if command[:1] == ["SEND"] and len(command) == 5:
            try:
                to, first, count, length = bytes.fromhex(command[1]), *map(int, command[2:])
            except ValueError:
                return
            for seq in range(first, first + min(count, 100000)):
                self.drain()  # a station that sends also reads: the guest's frames never wait on it
                self.send(self.test_frame(to, self.MAC, 4, seq, max(30, min(length, 65535))))
        elif command[:1] == ["STALL"] and len(command) == 2 and command[1].isdigit():
            time.sleep(min(int(command[1]), 10000) / 1000)
        elif command == ["LINK", "down"]:
            (self.folder / "link-down").touch()
        elif command == ["LINK", "up"]:
            (self.folder / "link-down").unlink(missing_ok=True)

    def drain(self):
        """Takes every frame waiting on the station's socket."""
        while True:
            try:
                frame = self.sock.recv(65536, socket.MSG_DONTWAIT)
            except OSError:
                return
            self.take(frame)

    def run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        while not self.done:
            with self.lock:
                command = self.commands.pop(0) if self.commands else None
            if command:
                self.drain()
                self.do(command)
                continue
            self.wake.clear()
            if sel.select(0.02):
                self.drain()
        self.drain()  # what the host sent before it ended
        sel.close()


def segment_check(run, rid, path, arg):
    """EXPECT-PLACE ... net0 received FIRST COUNT | absent SEQ | clean: what the
    driver's station got from the guest (SegmentPeer)."""
    peer = run.peer
    parts = arg.split()
    if peer is None:
        return ["FAIL", rid, "the driver's station on the segment did not run (a suite error)"]
    with peer.lock:
        received, other = list(peer.received), list(peer.other)
    if len(parts) == 3 and parts[0] == "received" and parts[1].isdigit() and parts[2].isdigit():
        first, count = int(parts[1]), int(parts[2])
        seen = [(seq, whole) for seq, whole in received if first <= seq < first + count]
        order = [seq for seq, _ in seen]
        broken = [seq for seq, whole in seen if not whole]
        ok = order == list(range(first, first + count)) and not broken
        why = "" if ok else (f" ({len(order)} arrived; " + (f"{len(broken)} changed, the first {broken[0]}; "
                                                              if broken else "") +
                             f"the first out of place at {next((i for i, q in enumerate(order) if q != first + i), len(order))})")
        return ["PASS" if ok else "FAIL", rid, f"the driver received the guest's frames {first} to "
                f"{first + count - 1} once each, in order and unchanged" + why]
    if len(parts) == 2 and parts[0] == "absent" and parts[1].isdigit():
        ok = all(seq != int(parts[1]) for seq, _ in received)
        return ["PASS" if ok else "FAIL", rid, f"frame {parts[1]}, refused by the host, never reached the driver"]
    if parts == ["clean"]:
        return ["PASS" if not other else "FAIL", rid, "the guest's interface put nothing on the segment but what "
                "the image's successful sends held" + (f" ({len(other)} other frames, the first {other[0]})"
                                                       if other else "")]
    return ["FAIL", rid, f"the image expects {arg[:40]!r} of the segment (malformed: garbled output)"]


PLACES["net0"] = Place(
    "segment", "a folder that is an Ethernet segment of Unix datagram sockets, one frame per datagram, of which the "
    "driver is a member, and whose file link-down pulls the link",
    "--net socket:{net0}", segment_check)


# How late a paced WAV's data may reach its file (the {audio0} place's format).
AUDIO_LATENCY_S = 0.1


def wav_data(path):
    """(channels, bits, rate, data) of a PCM WAV file; the data chunk may claim
    a size it does not have yet (a file still being written, a streamed one)."""
    data = pathlib.Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    at, fmt = 12, None
    while at + 8 <= len(data):
        kind, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if kind == b"fmt ":
            fmt = data[at + 8:at + 24]
        if kind == b"data":
            if fmt is None or int.from_bytes(fmt[0:2], "little") != 1:
                raise ValueError("no PCM fmt chunk before the data")
            return (int.from_bytes(fmt[2:4], "little"), int.from_bytes(fmt[14:16], "little"),
                    int.from_bytes(fmt[4:8], "little"), data[at + 8:])
        at += 8 + size + (size & 1)
    raise ValueError("no data chunk")


def audio_check(run, rid, path, arg):
    """EXPECT-PLACE ... audio0 frames FIRST COUNT: the WAV holds the aud image's
    pattern frames FIRST..FIRST+COUNT-1 in order, unchanged, with nothing but
    silence between them; ... audio0 paced: the file grew at the stream's pace
    between the image's MEASURE-PLACE lines (within 2 % and AUDIO_LATENCY_S)."""
    parts = arg.split()
    try:
        channels, bits, rate, data = wav_data(path)
    except (OSError, ValueError) as e:
        return ["FAIL", rid, f"the WAV file of {{audio0}} can be read ({e})"]
    if (channels, bits, rate) != (2, 16, 48000):
        return ["FAIL", rid, f"the WAV file is 2 channels of 16 bits at 48000 frames a second (it is {channels} x "
                             f"{bits} bits at {rate})"]
    if len(parts) == 3 and parts[0] == "frames" and parts[1].isdigit() and parts[2].isdigit():
        first, count = int(parts[1]), int(parts[2])
        frames = array.array("h", data[:len(data) // 4 * 4])
        got = [frames[i] for i in range(0, len(frames), 2) if frames[i] or frames[i + 1]]
        if count > len(got):  # more than the file holds (or a count wrapped below 0): no list that long
            return ["FAIL", rid, f"the WAV file holds the {count} frames from {first} the image says it played "
                                 f"(it has {len(got)} non-silent frames)"]
        want = [1 + (n % 32767) for n in range(first, first + count)]
        # Where the run starts: the first place the whole run is found (earlier
        # frames may hold the same values).
        at = next((i for i, v in enumerate(got) if v == want[0] and got[i:i + count] == want), -1) if want else -1
        ok = at >= 0 and all(
            frames[2 * i + 1] == -frames[2 * i] for i in range(len(frames) // 2))
        return ["PASS" if ok else "FAIL", rid, f"the WAV file holds frames {first} to {first + count - 1} the image "
                f"wrote, in order, unchanged, only silence between them" +
                ("" if ok else f" ({len(got)} non-silent frames; found at {at})")]
    if parts == ["paced"]:
        m = run.place_measures.get("audio0")
        if not m:
            return ["FAIL", rid, "the image's MEASURE-PLACE lines for {audio0} came (garbled output)"]
        (t0, b0), (t1, b1) = m
        expected = (t1 - t0) * 48000 * 4
        allowed = expected * 0.02 + AUDIO_LATENCY_S * 48000 * 4
        ok = abs((b1 - b0) - expected) <= allowed
        return ["PASS" if ok else "FAIL", rid, f"the WAV file grew at the stream's pace while the image played: "
                f"{(b1 - b0) // 4} frames in {t1 - t0:.3f} s (expected {expected // 4:.0f} within 2 % and "
                f"{AUDIO_LATENCY_S * 1000:.0f} ms)"]
    return ["FAIL", rid, f"the image expects {arg[:40]!r} of {{audio0}} (malformed: garbled output)"]


PLACES["audio0"] = Place(
    "output", "a path where the host writes AUD stream 0 as a PCM WAV file at the pace it plays, its data reaching "
    "the file within 100 ms of leaving the stream",
    "--audio wav:{audio0}", audio_check)


@functools.lru_cache(maxsize=None)
def disk_content(name):
    """The bytes of one of the driver's disks: word w (bytes 8w..8w+7, little-endian)
    is a xorshift of w and the disk's number (the same as disk_word() in
    conformance/images/block.cpp)."""
    number = int(name.removeprefix("disk"))
    mask = (1 << 64) - 1
    seed = ((number + 1) * 0xD1B54A32D192ED03) & mask
    words = array.array("Q", bytes(DISKS[name][0]))
    for w in range(len(words)):
        x = (w * 0x9E3779B97F4A7C15 + seed) & mask
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        words[w] = x
    if sys.byteorder != "little":
        words.byteswap()
    return words.tobytes()


def disks_used(template):
    """The driver's disks a host template names, in the order it names them: the
    host's disks 0, 1, ... (a profile's [[disk]] index)."""
    return sorted((name for name in DISKS if "{" + name + "}" in template),
                  key=lambda name: template.index("{" + name + "}"))


# What the driver puts around a disk's window (a profile's [[disk]]): bytes no
# disk of the driver holds, so that the BLOCK image does not recognise them and
# any change to them shows after the run.
OUTSIDE_WINDOW = b"HyperBIOS: outside the profile's window. "
WINDOW_TAIL = 64 * 4096  # after a window with a length: room for 64 sectors of either size


def sector_size_in(template, name):
    """The sector size a host template gives the driver's disk `name` (hbvm's ,sector=4096)."""
    return 4096 if re.search(r"\{" + name + r"\}[^ ]*sector=4096", template) else 512


def outside_bytes(length):
    return (OUTSIDE_WINDOW * (length // len(OUTSIDE_WINDOW) + 1))[:length]


def make_disks(template, workdir, windows):
    """Fresh files of the disks the template names, in workdir: ({name: path},
    {name: (offset of the window, sector size, read-only)}). The n-th disk the
    template names is the host's disk n; a profile window on it puts the disk's
    content at the window's first sector, with OUTSIDE_WINDOW bytes before it,
    so that the guest sees the driver's disk exactly and the driver sees any
    access outside the window."""
    made, placed = {}, {}
    for index, name in enumerate(disks_used(template)):
        path = pathlib.Path(workdir) / f"{name}.img"
        content = disk_content(name)
        first, sectors, read_only = windows.get(index, (0, None, False))
        sector = sector_size_in(template, name)
        if sectors is not None and sectors * sector != len(content):
            raise SuiteError(f"the profile's window on disk {index} is {sectors} sectors; the driver certifies a "
                             f"window that holds its whole {name} ({len(content) // sector} sectors of {sector} "
                             f"bytes): leave sectors out, or make it {len(content) // sector}")
        # A window of so many sectors ends before the file does: bytes of the
        # driver's own after it show a host that lets the guest past its end.
        tail = outside_bytes(WINDOW_TAIL) if sectors is not None else b""
        path.write_bytes(outside_bytes(first * sector) + content + tail)
        made[name] = path
        if index in windows:
            placed[name] = (first * sector, sector, read_only, len(tail))
    return made, placed


def window_checks(run):
    """After the run: no byte outside a profile's window changed, and a read-only
    window's disk not at all."""
    for name, (offset, sector, read_only, tail) in getattr(run, "windows", {}).items():
        try:
            data = pathlib.Path(run.disks[name]).read_bytes()
        except OSError:
            continue
        size = len(disk_content(name))
        outside_same = (data[:offset] == outside_bytes(offset) and len(data) == offset + size + tail and
                        data[offset + size:] == outside_bytes(tail))
        run.checks.append(["PASS" if outside_same else "FAIL", "HB-GEN-008",
                           f"no byte of {name}'s file outside the profile's window (sectors {offset // sector} to "
                           f"{(offset + size) // sector - 1}) changed"])
        if read_only:
            same = data[offset:offset + size] == disk_content(name)
            run.checks.append(["PASS" if same else "FAIL", "HB-BLK-010",
                               f"{name}, read-only under the profile, is unchanged after the run"])


EXIT_STYLES = {
    "plain": lambda code: code,                        # the host exits with the guest's code (hbvm)
    "qemu-debug-exit": lambda code: (code << 1) | 1,   # QEMU isa-debug-exit
    "none": None,                                      # the host's exit status says nothing (Bochs)
}


class SuiteError(Exception):
    """The suite itself is broken or misused: not a verdict about the host."""


def load_spec():
    try:
        spec = hyperbios_spec.parse(SPEC_DIR)
    except hyperbios_spec.SpecError as e:
        raise SuiteError(f"the spec is malformed:\n{e}")
    return spec


def requirement_service(spec, rid):
    """The service a requirement belongs to (its chapter under spec/services/), or None."""
    where = spec["requirements"][rid]["where"]
    path = pathlib.Path(where.rsplit(":", 1)[0])
    return path.stem if path.parent.name == "services" else None


def unknown_requirements(spec, runs):
    """Check lines naming requirements the spec does not define: a broken suite."""
    named = {}
    for run in runs:
        for _, rid, _ in run.checks:
            if rid not in spec["requirements"]:
                named.setdefault(rid, set()).add(run.name)
    return [f"{', '.join(sorted(images))} reported {rid}, which the spec does not define"
            for rid, images in sorted(named.items())]


# ---------------------------------------------------------------------------
# Running images.
# ---------------------------------------------------------------------------

class ImageRun:
    def __init__(self, image):
        self.image = pathlib.Path(image)
        self.name = self.image.stem.removeprefix("conformance-")
        self.checks = []        # [verdict, requirement, description]
        self.info = {}
        self.notes = []
        self.summary = None
        self.boots = 0          # BOOT lines: how often the image started
        self.reported_since_boot = []  # PASS/FAIL/SKIP of the check lines since the last BOOT
        self.unique = []        # (requirement, value): EXPECT-UNIQUE, compared across runs
        self.increasing = []    # (requirement, value): EXPECT-INCREASING, in the order printed
        self.usage = []         # USAGE lines: the run was set up wrongly (too little RAM, say)
        self.exit_status = None
        self.seconds = 0.0
        self.problem = None     # why the run cannot be trusted (crash, timeout, exit mismatch)
        self.no_host = False    # the image found no HyperBIOS host
        self.stdout_bytes = b""
        self.stdout = ""
        self.stderr = ""
        self.disks = {}         # the driver's disks given to the host: name -> file (during parse_report)
        self.windows = {}       # a profile's windows on them: name -> (byte offset, sector size, read-only)
        self.places = {}        # the device places given to the host: name -> path (during parse_report)
        self.feed_fd = None     # the {input} FIFO, open for writing while the host runs
        self.peer = None        # the driver's station on a {net0} segment, while and after the run
        self.place_measures = {}  # place -> [(time, bytes) at MEASURE-PLACE BEGIN, at END]
        self.needs = {}         # the places the image declares: name -> requirements (image_needs)
        self.end_file = None    # the {end} file, when the host template names it
        self.end_report = None  # its line after the run, or None when the host wrote none
        self.killed = None      # why the driver killed the host on the image's announcement, or None
        self.end_expected = None  # (requirement, end word) of an EXPECT-END announcement
        self.cpu = {}           # (requirement, what) -> CPU seconds per wall second, or None: not measurable


def expand(template, image, workdir, disks=None, places=None):
    values = {"image": str(image), "name": pathlib.Path(image).stem, "workdir": str(workdir),
              "end": str(pathlib.Path(workdir) / END_REPORT)}
    values.update({name: str(path) for name, path in (disks or {}).items()})
    values.update({name: str(path) for name, path in (places or {}).items()})
    try:
        return [part.format(**values) for part in shlex.split(template)]
    except (KeyError, IndexError) as e:
        devices = "".join(f", {{{p}}}" for p in PLACES)
        raise SuiteError(f"--host: unknown placeholder {e}; use {{image}}, {{name}}, {{workdir}}, {{end}}, "
                         f"{{disk0}} .. {{disk3}}{devices}")


def make_places(template, workdir):
    """The device places the template names, in workdir: {name: path}. An output
    place is a path that does not exist yet: the host creates the file. An input
    place is a FIFO, made here."""
    places = {name: pathlib.Path(workdir) / f"place-{name}" for name in PLACES if "{" + name + "}" in template}
    for name, path in places.items():
        if PLACES[name].kind == "input":
            os.mkfifo(path, 0o600)
        elif PLACES[name].kind == "segment":
            os.mkdir(path, 0o700)
    return places


# More output than any image prints: a host that floods stdout or stderr is
# stopped instead of filling the driver's memory.
OUTPUT_LIMIT = 64 << 20

# {end}: the file in which the host writes how the machine ended (spec 8.5), one
# line: "shutdown CODE", or "halted", "crashed", "stopped" or "failed" and a text.
END_REPORT = "end-report.txt"
END_WORDS = ("shutdown", "halted", "crashed", "stopped", "failed")

# HB-EVT-015: a waiting vCPU should cost the host no CPU. What the host's
# processes may spend while the image waits, as a fraction of one CPU: the
# clock ticks in 10 ms steps on Linux, so a 0.5 s window cannot tell less than 2 %.
IDLE_CPU_LIMIT = 0.10


def session_cpu_seconds(session):
    """CPU seconds (user and system, with reaped children) of every process in a
    session, from /proc; None where /proc cannot tell (not Linux)."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        entries = os.listdir("/proc")
    except (OSError, ValueError):
        return None
    total, found = 0, False
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session ...
        if len(fields) < 15 or int(fields[3]) != session:
            continue
        found = True
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / tick if found else None


class LiveRun:
    """What the driver does while a host runs, on lines the image announces:
    KILL-NOW (kill the host now, then look at its disks), EXPECT-END (give the
    host a few seconds to end a machine that cannot wake, then stop it) and
    MEASURE-CPU (the host's CPU time between two lines)."""

    def __init__(self, run, pid):
        self.run, self.pid = run, pid
        self.kill_now = None      # a reason: kill at once
        self.kill_at = None       # (monotonic deadline, reason): kill then if still running
        self.cpu_begin = {}

    def line(self, text):
        text = text.strip()
        if text.startswith("FEED-INPUT "):
            self.feed(text)
        elif text.startswith("MEASURE-PLACE "):
            m = re.fullmatch(r"MEASURE-PLACE (BEGIN|END) ([a-z][a-z0-9_]{0,31})", text)
            path = self.run.places.get(m.group(2)) if m else None
            if path is not None:
                try:
                    size = os.stat(path).st_size
                except OSError:
                    size = 0
                sample = (time.monotonic(), size)
                if m.group(1) == "BEGIN":
                    self.run.place_measures[m.group(2)] = [sample]
                elif m.group(2) in self.run.place_measures:
                    self.run.place_measures[m.group(2)].append(sample)
        elif text.startswith("NET-PEER "):
            if self.run.peer:
                self.run.peer.command(text)
        elif text.startswith("KILL-NOW ") and self.kill_now is None:
            self.kill_now = f"the image asked to be killed ({text}): a crash of the host process"
        elif text.startswith("EXPECT-END "):
            parts = text.split()
            if len(parts) == 4 and re.fullmatch(r"HB-[A-Z]+-\d{3}", parts[1]) and parts[2] in END_WORDS \
                    and re.fullmatch(r"\d{1,2}", parts[3]):
                self.run.end_expected = (parts[1], parts[2])
                self.kill_at = (time.monotonic() + int(parts[3]),
                                f"the host kept the machine running {parts[3]} s after the image halted for good")
        elif text.startswith("MEASURE-CPU "):
            m = re.fullmatch(r"MEASURE-CPU (BEGIN|END) (HB-[A-Z]+-\d{3}) (.+)", text)
            if not m:
                return
            key = (m.group(2), m.group(3))
            now, cpu = time.monotonic(), session_cpu_seconds(self.pid)
            if m.group(1) == "BEGIN":
                self.cpu_begin[key] = (now, cpu)
            elif key in self.cpu_begin:
                then, cpu_then = self.cpu_begin.pop(key)
                usable = cpu is not None and cpu_then is not None and now > then
                self.run.cpu[key] = ((cpu - cpu_then) / (now - then), now - then) if usable else None


    def feed(self, text):
        """FEED-INPUT HEX: the image asks for these input records ({input}); written
        into the FIFO, whose reader is the host (a host command without {input} gets
        nothing, and the image's requirements on it are not tested)."""
        fd = self.run.feed_fd
        try:
            data = bytes.fromhex(text.split(" ", 1)[1])
        except ValueError:
            return
        if fd is None or not data:
            return
        try:
            os.write(fd, data)
        except OSError:
            pass  # the host is gone, or does not read: the image's checks say what arrived


def capture(command, timeout, live=None):
    """Runs the host command in its own session with CONSOLE_INPUT on stdin,
    reading its output as it comes, so that `live` (a function of the run's
    process id returning a LiveRun) can act on announced lines. Returns (exit
    status or None, stdout, stderr, problem or None, why the driver killed it on
    an announcement or None)."""
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as e:
        raise SuiteError(f"cannot start the host command {command[0]!r}: {e}")
    actor = live(proc.pid) if live else None
    try:
        proc.stdin.write(CONSOLE_INPUT)
        proc.stdin.close()  # the end of the console's input (CONSOLE.input_state)
    except OSError:
        pass  # a host that never reads its input
    streams = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    partial = {fd: b"" for fd in streams}
    selector = selectors.DefaultSelector()
    for fd in streams:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    problem = killed = None

    def kill():
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the host and anything it started
        except ProcessLookupError:
            pass

    while selector.get_map() or proc.poll() is None:
        now = time.monotonic()
        if actor and actor.kill_now and not killed:
            killed = actor.kill_now
            kill()
        elif actor and actor.kill_at and now >= actor.kill_at[0] and not killed and proc.poll() is None:
            killed = actor.kill_at[1]
            kill()
        elif now > deadline and not problem and not killed:
            problem = f"still running after {timeout:g} s; stopped"
            kill()
        elif sum(len(b) for b in streams.values()) > OUTPUT_LIMIT and not problem:
            problem = f"printed more than {OUTPUT_LIMIT >> 20} MiB; stopped"
            kill()
        if not selector.get_map():  # the host closed its output but runs on
            time.sleep(0.05)
            continue
        for key, _ in selector.select(timeout=0.05):
            fd = key.fd
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                selector.unregister(fd)
                continue
            if len(streams[fd]) < OUTPUT_LIMIT:
                streams[fd] += chunk
            if actor:
                lines = (partial[fd] + chunk).split(b"\n")
                partial[fd] = lines.pop()[-4096:]
                for raw in lines:
                    actor.line(raw.decode(errors="replace"))
    selector.close()
    status = proc.wait()
    out, err = bytes(streams[proc.stdout.fileno()]), bytes(streams[proc.stderr.fileno()])
    proc.stdout.close()
    proc.stderr.close()
    return (None if problem or killed else status), out[:OUTPUT_LIMIT], err[:OUTPUT_LIMIT], problem, killed


def run_image(image, host_template, timeout, exit_style, windows=None):
    run = ImageRun(image)
    run.needs = image_needs(image)
    with tempfile.TemporaryDirectory(prefix=f"hyperbios-conform-{run.name}-") as workdir:
        run.disks, run.windows = make_disks(host_template, workdir, windows or {})
        run.places = make_places(host_template, workdir)
        # Held open for reading and writing, so that neither the host's open nor
        # the driver's writes wait for the other side (Linux FIFOs allow O_RDWR).
        inputs = [path for name, path in run.places.items() if PLACES[name].kind == "input"]
        if inputs:
            run.feed_fd = os.open(inputs[0], os.O_RDWR | os.O_NONBLOCK)
        segments = [path for name, path in run.places.items() if PLACES[name].kind == "segment"]
        if segments:
            run.peer = SegmentPeer(segments[0])
        if "{end}" in host_template:
            run.end_file = pathlib.Path(workdir) / END_REPORT
        command = expand(host_template, image, workdir, run.disks, run.places)
        start = time.monotonic()
        run.exit_status, out, err, run.problem, run.killed = capture(
            command, timeout, live=lambda pid: LiveRun(run, pid))
        run.seconds = time.monotonic() - start
        if run.feed_fd is not None:
            os.close(run.feed_fd)
            run.feed_fd = None
        if run.peer:
            run.peer.close()
        if run.end_file:
            try:
                run.end_report = run.end_file.read_text(errors="replace").strip() or None
            except OSError:
                run.end_report = None
        run.stdout_bytes = out
        run.stdout = out.decode(errors="replace")
        run.stderr = err.decode(errors="replace")
        parse_report(run, exit_style)  # while the disks are there: EXPECT-DISK reads them
        window_checks(run)
    return run


def outside_check(run, exit_style, kind, rid, arg):
    """Turns an EXPECT line into a check: what only the outside of the machine can see."""
    if kind in ("EXIT", "BOOTS") and not re.fullmatch(r"\d{1,3}", arg):
        return ["FAIL", rid, f"the image's {kind} expectation {arg[:40]!r} is not a number (garbled output)"]
    if kind == "EXIT":
        code = int(arg)
        if exit_style is None:
            return ["FAIL", rid, f"the host's exit status is {code} (cannot be observed: --exit-style none says "
                                 f"this host's exit status carries no code, so this requirement is not shown)"]
        if run.exit_status is None:
            return ["FAIL", rid, f"the host's exit status is {code} (the host did not exit)"]
        ok = run.exit_status == exit_style(code)
        return ["PASS" if ok else "FAIL", rid,
                f"the host's exit status is {code}" + ("" if ok else f" (it was {run.exit_status})")]
    if kind == "CONSOLE":
        # Where the report itself goes to stdout (COM1, or a debug port on stdio),
        # the expectation line must not count as the console showing its text.
        wanted = arg.replace("\\n", "\n")
        console = "\n".join(line for line in run.stdout.split("\n") if not EXPECT.match(line.strip()))
        ok = wanted in console
        return ["PASS" if ok else "FAIL", rid, f"the console shows {arg!r}" + ("" if ok else " (not found on stdout)")]
    if kind == "CONSOLE-BYTES":
        try:
            wanted = bytes.fromhex(arg)
        except ValueError:
            return ["FAIL", rid, f"the console shows the bytes {arg[:32]}… (the image sent malformed hex)"]
        ok = wanted in run.stdout_bytes
        return ["PASS" if ok else "FAIL", rid, f"the console shows {len(wanted)} bytes exactly as written" +
                ("" if ok else " (not found byte for byte on stdout: translated, dropped or reordered)")]
    if kind == "DISK":
        return disk_check(run, rid, arg)
    wanted = int(arg)  # BOOTS
    ok = run.boots == wanted
    return ["PASS" if ok else "FAIL", rid, f"the image started {wanted} times, counted from outside" +
            ("" if ok else f" (it started {run.boots} times)")]


def disk_check(run, rid, arg):
    """EXPECT-DISK: what the image wrote (or left alone) must be in the disk's file."""
    parts = arg.split()
    name = parts[0] if parts else "?"
    if name not in DISKS:
        return ["FAIL", rid, f"the image expects {arg[:40]!r} of a disk (not one of the driver's disks: garbled output)"]
    if name not in run.disks:
        return ["FAIL", rid, f"{name}'s file holds what the image expects (the driver made no {name}: "
                             f"the host template does not name {{{name}}})"]
    try:
        data = pathlib.Path(run.disks[name]).read_bytes()
    except OSError as e:
        return ["FAIL", rid, f"{name}'s file holds what the image expects (it cannot be read: {e.strerror})"]
    window = getattr(run, "windows", {}).get(name)
    if window:  # the guest's view: the profile's window
        data = data[window[0]:window[0] + len(disk_content(name))]
    if parts[1:] == ["unchanged"]:
        original = disk_content(name)
        same = data == original
        where = "" if same else (f"its size is {len(data)}, not {len(original)}" if len(data) != len(original) else
                                 f"byte {next(i for i, (a, b) in enumerate(zip(data, original)) if a != b):#x} changed")
        return ["PASS" if same else "FAIL", rid, f"{name}'s file is unchanged after the run" +
                ("" if same else f" ({where})")]
    try:
        if len(parts) != 3:
            raise ValueError
        offset, wanted = int(parts[1], 0), bytes.fromhex(parts[2])
        if offset < 0 or not wanted:
            raise ValueError
    except ValueError:
        return ["FAIL", rid, f"the image expects {arg[:60]!r} in a disk's file (malformed: garbled output)"]
    got = data[offset:offset + len(wanted)]
    ok = got == wanted
    after = " after the driver killed the host (SIGKILL)" if run.killed and not run.end_expected else ""
    return ["PASS" if ok else "FAIL", rid,
            f"{name}'s file holds the {len(wanted)} bytes the image wrote at {offset:#x}{after}" +
            ("" if ok else f" (it holds {got.hex() or 'nothing there'})")]


def parse_report(run, exit_style):
    # The debug port reaches stdout or stderr depending on the host; read both.
    for raw in (run.stdout + "\n" + run.stderr).splitlines():
        text = raw.strip()
        if text == "BOOT":
            run.boots += 1
            run.reported_since_boot = []
            continue
        m = CHECK.match(text)
        if m:
            run.checks.append(list(m.groups()))
            run.reported_since_boot.append(m.group(1))
            continue
        m = EXPECT.match(text)
        if m and m.group(1) == "UNIQUE":
            run.unique.append((m.group(2), m.group(3).strip()))  # judged across runs: unique_checks
            continue
        if m and m.group(1) == "INCREASING":
            try:
                run.increasing.append((m.group(2), int(m.group(3).strip(), 16)))  # judged after the run
            except ValueError:
                run.checks.append(["FAIL", m.group(2), f"the image sent {m.group(3)[:40]!r} as a clock reading "
                                                       f"(not a hexadecimal number: garbled output)"])
            continue
        if m and m.group(1) == "END":
            continue  # EXPECT-END: acted on while the host ran (LiveRun), judged by end_checks
        if m and m.group(1) == "PLACE":
            run.checks.append(place_check(run, m.group(2), m.group(3).strip()))
            continue
        if m:
            run.checks.append(outside_check(run, exit_style, *m.groups()))
            continue
        m = MEASURE.match(text)
        if m:
            if m.group(1) == "END":
                run.checks.append(cpu_check(run, m.group(2), m.group(3).strip()))
            continue
        if text.startswith("USAGE "):
            run.usage.append(text[6:])
            continue
        m = INFO.match(text)
        if m:
            run.info[m.group(1)] = m.group(2).strip()
            continue
        if text.startswith("NOTE "):
            run.notes.append(text[5:])
            run.no_host = run.no_host or NO_HOST_NOTE in text
            continue
        m = SUMMARY.match(text)
        if m:
            run.summary = tuple(int(g) for g in m.groups())
    increasing_checks(run)
    # A place the image needs and the host command lacks: what depends on it is
    # not tested, whatever the image's own checks of it said.
    for name, requirements in sorted(run.needs.items()):
        if name not in run.places:
            run.checks.extend(["SKIP", rid, f"the image's use of {{{name}}} ({place_missing(name)})"]
                              for rid in requirements)
    if run.problem:
        return
    if run.summary is None:
        run.problem = "no SUMMARY line: the image crashed or the host stopped it"
        return
    end_checks(run)
    # The SUMMARY counts the checks of the last boot; every one of them must have
    # arrived, or lines were lost (or removed) on the way.
    arrived = {v: run.reported_since_boot.count(v) for v in ("PASS", "FAIL", "SKIP")}
    checks, failed, skipped = run.summary
    if (sum(arrived.values()), arrived["FAIL"], arrived["SKIP"]) != (checks, failed, skipped):
        run.problem = (f"the SUMMARY counts {checks} checks, {failed} failed, {skipped} skipped, but "
                       f"{sum(arrived.values())}, {arrived['FAIL']} and {arrived['SKIP']} arrived: report lines were lost")
        return
    if exit_style is not None and run.exit_status is not None and not run.end_expected:
        checks, failed, skipped = run.summary
        code = 1 if failed else (77 if checks == skipped else 0)
        if run.exit_status != exit_style(code):
            run.problem = f"exit status {run.exit_status} does not match the SUMMARY (expected {exit_style(code)})"


def summary_exit_code(run):
    """The exit code the image shuts down with after its SUMMARY (report.hpp exit_code)."""
    checks, failed, skipped = run.summary
    return 1 if failed else (77 if checks == skipped else 0)


def end_checks(run):
    """HB-PWR-005 from the {end} file: the host says how the machine ended, and a
    shutdown with any code is told apart from every other end."""
    if run.killed and not run.end_expected:
        return  # killed on the image's request (KILL-NOW): the host wrote nothing, by design
    if run.end_expected:
        rid, word = run.end_expected
        what = f"the host reports a machine that can never wake as {word}, not as a shutdown"
        if run.killed:
            run.checks.append(["SKIP", rid, f"{what} (the host may keep a machine that cannot wake asleep, "
                                            f"as HB-EVT-012 allows; it was still running 5 s after the image's "
                                            f"last HLT, and the driver stopped it)"])
            return
    else:
        rid, word = "HB-PWR-005", "shutdown"
        what = f"the host reports the end as shutdown {summary_exit_code(run)}"
    if run.end_file is None:
        run.checks.append(["SKIP", rid, f"{what} (not tested: the host command has no {{end}} placeholder, so the "
                                        f"driver cannot tell a shutdown from another end; give the host a place "
                                        f"to write it, e.g. hbvm's --end-report {{end}})"])
        return
    report = run.end_report
    if report is None:
        run.checks.append(["FAIL", rid, f"{what} (the host wrote nothing to the {{end}} file)"])
        return
    first = report.split()[0] if report.split() else ""
    if first not in END_WORDS or (first == "shutdown" and not re.fullmatch(r"shutdown \d{1,3}", report)):
        run.checks.append(["FAIL", rid, f"{what} (the {{end}} file holds {report[:80]!r}, not 'shutdown CODE' or "
                                        f"one of halted, crashed, stopped, failed and a text)"])
        return
    if word == "shutdown":
        ok = report == f"shutdown {summary_exit_code(run)}"
    else:
        ok = first != "shutdown"
    run.checks.append(["PASS" if ok else "FAIL", rid, what + ("" if ok else f" (the {{end}} file says {report[:80]!r})")])


def increasing_checks(run):
    """EXPECT-INCREASING: the values of each requirement, in the order printed
    (across the image's boots), must strictly increase."""
    by_requirement = {}
    for rid, value in run.increasing:
        by_requirement.setdefault(rid, []).append(value)
    for rid, values in by_requirement.items():
        if len(values) < 2:
            continue  # one boot only: the image says why (a reboot refused)
        bad = next((i for i in range(1, len(values)) if values[i] <= values[i - 1]), None)
        run.checks.append(["PASS" if bad is None else "FAIL", rid,
                           f"the readings sent from {len(values)} boots increase, across each reboot" +
                           ("" if bad is None else f" (reading {bad + 1}, {values[bad]:#x}, is not above "
                                                    f"reading {bad}, {values[bad - 1]:#x})")])


def cpu_check(run, rid, what):
    """MEASURE-CPU: what the host's processes spent of the CPU while the image waited."""
    key = (rid, what)
    if key not in run.cpu:
        return ["SKIP", rid, f"the host uses no CPU during: {what} (not tested: the driver saw no BEGIN line "
                             f"before this END line)"]
    measured = run.cpu[key]
    if measured is None:
        return ["SKIP", rid, f"the host uses no CPU during: {what} (not tested: the driver cannot read the host's "
                             f"CPU time here; it reads /proc on Linux)"]
    share, seconds = measured
    ok = share <= IDLE_CPU_LIMIT
    return ["PASS" if ok else "FAIL", rid,
            f"the host used {100 * share:.1f} % of a CPU over {seconds:.2f} s during: {what} "
            f"(at most {100 * IDLE_CPU_LIMIT:.0f} %, measured from outside)"]


def unique_checks(runs):
    """EXPECT-UNIQUE: each value must appear in one run only (each run is a machine
    of its own, so equal values mean output that repeats across machines)."""
    seen = {}
    for run in runs:
        for rid, value in run.unique:
            seen.setdefault((rid, value), []).append(run.name)  # twice from one run (two boots) counts too
    for run in runs:
        for rid, value in run.unique:
            sources = seen[(rid, value)]
            repeated = len(sources) > 1
            run.checks.append(["FAIL" if repeated else "PASS", rid,
                               "this boot's sample differs from every other boot's and machine's" +
                               (f" (the same value {value} came from {', '.join(sorted(sources))})" if repeated
                                else "")])


def run_all(images, host_template, timeout, exit_style, jobs, progress, windows=None):
    runs = [None] * len(images)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_image, image, host_template, timeout, exit_style, windows): i
                   for i, image in enumerate(images)}
        done = 0
        for future in concurrent.futures.as_completed(futures):
            i = futures[future]
            runs[i] = future.result()
            done += 1
            if progress:
                progress(done, len(images), runs[i])
    return runs


# ---------------------------------------------------------------------------
# Verdicts.
# ---------------------------------------------------------------------------

# Where the profiles shipped with the suite are: profiles/ beside conformance/ in
# the bundle and the installed suite, reference-host/profiles/ in the source tree.
PROFILE_DIRS = (HERE.parent / "profiles", HERE.parent / "reference-host" / "profiles")


def builtin_profiles():
    """{name: path} of the profile files shipped with the suite."""
    found = {}
    for folder in PROFILE_DIRS:
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            found.setdefault(path.stem, path)
    return found


def read_profile_file(path, spec):
    """A profile in the TOML form hbvm reads (reference-host/profiles/README.md,
    profile_version = 1): what the driver expects of a host under it. Needs
    Python 3.11's tomllib."""
    try:
        import tomllib
    except ImportError:
        raise SuiteError(f"--profile {path}: reading a profile file needs Python 3.11 or later (tomllib); "
                         f"this is {sys.version.split()[0]}")
    try:
        data = tomllib.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as e:
        raise SuiteError(f"--profile {path}: not a readable TOML profile ({e})")
    if data.get("profile_version") != 1:
        raise SuiteError(f"--profile {path}: profile_version = {data.get('profile_version')!r}; this driver reads "
                         f"profile_version = 1")
    # The keys hbvm reads (policy/profile.cpp): a typo must not certify a host
    # against a profile that says less than its file.
    known = {"profile_version": None, "name": None, "description": None, "services": None, "denied": None,
             "memory": {"max"}, "disk": {"index", "first_sector", "sectors", "read_only"},
             "display": {"max_width", "max_height"}, "network": {"backends"}, "rate": None}
    for key, value in data.items():
        if key not in known:
            raise SuiteError(f"--profile {path}: unknown key {key!r}; expected {', '.join(known)}")
        tables = value if isinstance(value, list) and key == "disk" else [value] if known[key] else []
        for table in tables:
            if not isinstance(table, dict):
                raise SuiteError(f"--profile {path}: {key} must be a table ([{key}] or [[{key}]])")
            extra = set(table) - known[key]
            if extra:
                raise SuiteError(f"--profile {path}: {key}: unknown keys {sorted(extra)}; expected {sorted(known[key])}")
    for w in data.get("disk", []):
        if not isinstance(w.get("index"), int):
            raise SuiteError(f"--profile {path}: a [[disk]] needs index = N (0 for the host's first disk)")
    names = sorted(s["name"] for s in spec["services"])
    services = data.get("services")
    if services == "all":
        services = names
    if not isinstance(services, list) or set(services) - set(names) or "base" not in services:
        raise SuiteError(f"--profile {path}: services must be \"all\" or a list of {', '.join(names)} with base in it")
    functions = {f"{f['service']}.{f['name']}" for f in spec["functions"]}
    denied = data.get("denied", [])
    unknown = [d for d in denied if d not in functions]
    if unknown:
        raise SuiteError(f"--profile {path}: denied names unknown functions {unknown}")
    rates = dict(data.get("rate", {}))
    unknown = [r for r in rates if r not in functions]
    if unknown:
        raise SuiteError(f"--profile {path}: rate names unknown functions {unknown}")
    windows = {}
    for w in data.get("disk", []):
        windows[int(w["index"])] = (int(w.get("first_sector", 0)), w.get("sectors"), bool(w.get("read_only", False)))
    display = data.get("display", {})
    return {"name": data.get("name", pathlib.Path(path).stem), "path": str(path), "services": sorted(services),
            "denied": sorted(denied), "rates": rates, "windows": windows,
            "max_display": (display.get("max_width"), display.get("max_height")),
            "description": data.get("description", "")}


def load_profile(name, spec):
    """What a host claims: 'advertised' (what its discovery advertises: the
    default), 'none' (no HyperBIOS), a profile shipped with the suite by name
    (full, minimal, no-reboot, ps3), or a profile file (TOML, as hbvm reads it).
    A claim is checked against what the host reports (profile_checks)."""
    services = sorted({s["name"] for s in spec["services"]})
    if name == "advertised":
        return {"name": "advertised", "services": None}  # filled in from the host's discovery (judge)
    if name == "none":
        return {"name": "none", "services": []}
    shipped = builtin_profiles()
    path = shipped.get(name) or pathlib.Path(name)
    if name == "full" and "full" not in shipped:
        return {"name": "full", "services": services}
    if str(name).endswith(".json") and pathlib.Path(name).is_file():
        try:
            old = json.loads(pathlib.Path(name).read_text())
        except (OSError, ValueError):
            old = {}
        listed = ", ".join(f'"{s}"' for s in old.get("services", []))
        raise SuiteError(f"--profile {name}: JSON profiles are gone; profiles are TOML files, the form hbvm reads "
                         f"(conformance/README.md, \"Profiles\"). This one becomes a .toml file holding:\n"
                         f"profile_version = 1\nname = \"{old.get('name', pathlib.Path(name).stem)}\"\n"
                         f"services = [{listed}]")
    if not pathlib.Path(path).is_file():
        raise SuiteError(f"--profile {name}: expected advertised, none, a shipped profile "
                         f"({', '.join(sorted(shipped)) or 'none found'}) or a profile file (TOML)")
    return read_profile_file(path, spec)


def load_expectations(path, spec):
    """{requirement: reason} for failures a host is known to have. They are named in the
    certificate as known deviations, and they still fail: an expectation explains a
    failure, it never turns one into a pass or into "not applicable"."""
    if not path:
        return {}
    try:
        data = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as e:
        raise SuiteError(f"--expect {path}: not a readable JSON file ({e})")
    expected = {}
    for rid, e in data.get("expect", {}).items():
        if rid not in spec["requirements"]:
            raise SuiteError(f"{path}: {rid} is not a requirement of the spec")
        if e.get("result") != "fail" or not e.get("reason"):
            raise SuiteError(f"{path}: {rid} needs \"result\": \"fail\" and a \"reason\" (an expectations file "
                             f"explains failures; whether a requirement applies comes from what the host advertises)")
        expected[rid] = e["reason"]
    return expected


def advertised_services(spec, runs):
    """Names of the services the host's discovery advertises (INFO services, a bitmap of IDs 0-31),
    or None when no image could read it."""
    for run in runs:
        value = run.info.get("services")
        if value is None:
            continue
        try:
            bitmap = int(value, 16)
        except ValueError:
            continue
        return {s["name"] for s in spec["services"] if (bitmap >> int(s["id"], 16)) & 1}
    return None


def profile_checks(spec, runs, profile):
    """What a profile file claims, checked against what the host reported, as a
    run of its own named "profile": the services it advertises (HB-BASE-002), the
    functions BASE.permitted_functions permits (HB-BASE-008: every implemented
    function but the profile's denied ones) and the rate limits BASE.rate_limit
    reports (HB-BASE-010). Disk windows are checked on the disks' files
    (window_checks); what the driver does not verify from outside is listed in
    conformance/README.md."""
    if not profile["services"] and profile["name"] == "none":
        return None
    run = ImageRun("profile")
    if "denied" not in profile or not (profile["windows"] or any(profile["max_display"])):
        # Nothing claimed of device limits: a host may have none (9.8).
        run.checks.append(["SKIP", "HB-GEN-008", "a device limited by the host's policy (the host may limit no "
                                                 "device: the profile claims no disk window or display limit)"])
    if "denied" not in profile:
        return run
    info = identity(runs)
    offered = advertised_services(spec, runs)
    if offered is None:
        run.problem = "no image reported the host's services: the profile cannot be compared"
        return run
    name = profile["name"]
    for svc in sorted(x["name"] for x in spec["services"]):
        claimed = svc in profile["services"]
        ok = (svc in offered) == claimed
        run.checks.append(["PASS" if ok else "FAIL", "HB-BASE-002",
                           f"profile {name}: {svc} is {'offered' if claimed else 'not offered'}, as the profile says" +
                           ("" if ok else f" (the host {'does not advertise' if claimed else 'advertises'} it)")])
    def not_tested(rid, what, why):
        run.checks.append(["SKIP", rid, f"profile {name}: {what} ({NOT_TESTED_REASON}: {why})"])

    # A window shows the driver's disk from its first sector exactly when the
    # block image recognised that disk, by content, as the host's device.
    block = next((r for r in runs if r.name == "block"), None)
    used = list(block.disks) if block else []  # the disks the template named, in its order
    for index, (first, _, _) in sorted(profile["windows"].items()):
        what = f"device {index} shows the driver's disk from its window's first sector ({first})"
        if block is None or not block.info:
            not_tested("HB-GEN-008", what, "the block image did not run")
            continue
        if index >= len(used):
            if "block" in profile["services"]:
                not_tested("HB-GEN-008", what, f"the host template names {len(used)} of the driver's disks, "
                                               f"so none is the host's disk {index}")
            continue
        seen = block.info.get(f"block-device-{index}")
        want = list(DISKS).index(used[index])
        ok = seen is not None and int(seen, 16) == want
        run.checks.append(["PASS" if ok else "FAIL", "HB-GEN-008",
                           f"profile {name}: device {index} shows {used[index]} from its window's first sector "
                           f"({first}), recognised by content" +
                           ("" if ok else " (the block image did not recognise it: the window starts elsewhere)")])

    max_width, max_height = profile["max_display"]
    if (max_width or max_height) and "dsp" in profile["services"]:
        dsp = next((r for r in runs if r.name == "dsp"), None)
        limit = f"{max_width or 'any'}x{max_height or 'any'}"
        shown = [(n, dsp.info.get(f"dsp-{n}-max-width"), dsp.info.get(f"dsp-{n}-max-height"))
                 for n in range(4)] if dsp else []
        shown = [(n, int(w, 16), int(h, 16)) for n, w, h in shown if w and h]
        if dsp is None or not dsp.info:
            not_tested("HB-GEN-008", f"the displays' largest modes are within {limit}", "the dsp image did not run")
        for n, w, h in shown:
            ok = (not max_width or w <= max_width) and (not max_height or h <= max_height)
            run.checks.append(["PASS" if ok else "FAIL", "HB-GEN-008",
                               f"profile {name}: display {n}'s info reports a largest mode within {limit}" +
                               ("" if ok else f" (it reports {w}x{h})")])

    version = info.get("spec-version", "0.0")
    try:
        host_version = tuple(int(x) for x in version.split("."))
    except ValueError:
        host_version = (0, 0)
    if host_version < (0, 9):
        if profile["denied"] or profile["rates"]:
            not_tested("HB-BASE-008", "the refused functions and rate limits",
                       f"the host implements {version}, which has no BASE.permitted_functions or rate_limit")
        return run
    base_ran = any(k.startswith("permitted-") for k in info)
    if not base_ran:
        not_tested("HB-BASE-008", "permitted_functions and rate_limit as the profile says", "the base image did not run")
        return run
    for svc in profile["services"]:
        if svc not in offered:
            continue
        want = 0
        for f in spec["functions"]:
            since = tuple(int(x) for x in f["since"].split("."))
            if f["service"] == svc and since <= host_version and f"{svc}.{f['name']}" not in profile["denied"]:
                want |= 1 << int(f["id"], 16)
        got = info.get(f"permitted-{svc}")
        ok = got is not None and int(got, 16) == want
        refused = [d for d in profile["denied"] if d.startswith(svc + ".")]
        run.checks.append(["PASS" if ok else "FAIL", "HB-BASE-008",
                           f"profile {name}: permitted_functions({svc}) is {want:#x}" +
                           (f" (every function but {', '.join(refused)})" if refused else " (every function)") +
                           ("" if ok else f" (the host reports {got or 'nothing'})")])
    for f in spec["functions"]:
        fn = f"{f['service']}.{f['name']}"
        want = int(profile["rates"].get(fn, 0))
        got = int(info.get(f"rate-{fn}", "0"), 16)
        if want or got:
            run.checks.append(["PASS" if want == got else "FAIL", "HB-BASE-010",
                               f"profile {name}: rate_limit({fn}) is {want}" +
                               ("" if want == got else f" (the host reports {got})")])
    return run


def allowed_skip(description):
    reason = re.sub(r"^.*\((.*)\)$", r"\1", description)
    return reason.startswith(ALLOWED_SKIP_REASONS), reason


def judge(spec, runs, profile, expectations):
    """Per requirement: result (pass, fail, not tested, n/a), whether the failure is
    a known deviation, the checks behind it, and a note. Only checks that ran count."""
    offered = advertised_services(spec, runs)
    if profile["services"] is None:  # --profile advertised
        profile["services"] = sorted(offered | {"base"}) if offered is not None else ["base"]
    host_expected = bool(profile["services"])
    unfinished = sorted(f"{r.name}: {r.problem}" for r in runs if r.problem)
    if host_expected:
        unfinished += sorted(f"{r.name}: it found no HyperBIOS host" for r in runs if r.no_host)
    verdicts = {}
    for rid, req in sorted(spec["requirements"].items()):
        checks = [(run.name, v, d) for run in runs for v, r, d in run.checks if r == rid]
        service = requirement_service(spec, rid)
        ran = [v for _, v, _ in checks]
        note = ""
        if not host_expected:
            # A host without HyperBIOS: only the guest's own detection rules apply.
            if rid in DETECTION_REQUIREMENTS and any(v != "SKIP" for v in ran):
                result = "fail" if "FAIL" in ran else "pass"
            elif rid not in DETECTION_REQUIREMENTS and "PASS" in ran:
                result, note = "fail", "the host answers as a HyperBIOS host, but --profile none says it is not one"
            else:
                result = "n/a"
                note = next((d for _, v, d in checks if v == "SKIP"), "no HyperBIOS host (--profile none)")
        elif service and offered is not None and service not in offered and service != "base":
            if service in profile["services"] and profile["name"] != "full":
                result, note = "fail", f"profile {profile['name']} claims {service}, but the host does not advertise it"
            elif service in profile["services"]:
                result, note = "fail", (f"the host does not advertise {service}; --profile full demands every service "
                                        f"(without --profile a host is certified for what it advertises)")
            else:
                result, note = "n/a", (f"the host does not advertise {service} (discovery leaf B+2); "
                                       f"every service but BASE is optional")
        else:
            skips = [allowed_skip(d) for _, v, d in checks if v == "SKIP"]
            untested = sorted({reason for ok, reason in skips if reason.startswith(NOT_TESTED_REASON)})
            disallowed = sorted({reason for ok, reason in skips if not ok and not reason.startswith(NOT_TESTED_REASON)})
            if "FAIL" in ran:
                result = "fail"
            elif disallowed and req["level"] == "MUST":
                # Another check of it passing does not make up for one the host avoided.
                result = "fail"
                note = "skipped for a reason the spec does not allow: " + "; ".join(disallowed)
            elif untested:
                # Part of it could not be tested: a pass of the rest is not a pass of it.
                result, note = "not tested", "; ".join(untested)
            elif "PASS" in ran:
                result = "pass"
                if rid in PARTLY_OBSERVABLE:
                    seen, unseen = PARTLY_OBSERVABLE[rid]
                    note = f"observed: {seen}; not observable: {unseen}"
            elif not checks:
                result = "not tested"
                note = "no check of it ran on this host"
                if unfinished:
                    note += " (images did not finish: " + "; ".join(unfinished) + ")"
            else:
                result, note = "n/a", "; ".join(sorted({reason for _, reason in skips}))
            if rid == "HB-DISC-003" and any(r.no_host for r in runs):
                result, note = "fail", "the host was not detected: no HyperBIOS interface signature in CPUID"
            if result == "fail" and unfinished and not note:
                note = "images did not finish: " + "; ".join(unfinished)
        known = rid in expectations and result == "fail"
        if known:
            note = f"known deviation: {expectations[rid]}" + (f"; {note}" if note else "")
        elif rid in expectations:
            note = f"listed as a known deviation ({expectations[rid]}), but it is {result}: update the expectations"
        verdicts[rid] = {"id": rid, "level": req["level"], "text": req["text"], "result": result, "known": known,
                         "checks": checks, "note": note}
    return verdicts


def overall(verdicts, runs, profile):
    """The verdict and whether it is a pass. A MUST that failed, or that no check
    tested, keeps a host from CONFORMANT, and the verdict says which it was."""
    must_fail = [v for v in verdicts.values() if v["result"] == "fail" and v["level"] == "MUST"]
    must_untested = [v for v in verdicts.values() if v["result"] == "not tested" and v["level"] == "MUST"]
    known = sum(1 for v in must_fail if v["known"])
    unfinished = [r for r in runs if r.problem]
    ok = not must_fail and not must_untested and not unfinished
    if not profile["services"]:
        return ("NO HYPERBIOS HOST (as claimed)" if ok else "FAIL"), ok
    if ok:
        return "CONFORMANT", ok
    reasons = []
    if must_fail:
        reasons.append(f"{len(must_fail)} MUST requirement{'s' if len(must_fail) != 1 else ''} failed" +
                       (f" ({known} known deviation{'s' if known != 1 else ''})" if known else ""))
    if must_untested:
        reasons.append(f"{len(must_untested)} MUST requirement{'s' if len(must_untested) != 1 else ''} not tested")
    if unfinished:
        reasons.append(f"{len(unfinished)} image{'s' if len(unfinished) != 1 else ''} did not finish")
    return "NOT CONFORMANT — " + ", ".join(reasons), ok


def identity(runs):
    info = {}
    for run in runs:
        info.update(run.info)
    return info


# ---------------------------------------------------------------------------
# Outputs.
# ---------------------------------------------------------------------------

def counts(verdicts):
    """Results per kind; "known" counts the failures an expectations file names (also in "fail")."""
    c = {"pass": 0, "fail": 0, "not tested": 0, "n/a": 0, "known": 0}
    for v in verdicts.values():
        c[v["result"]] += 1
        c["known"] += v["known"]
    return c


def shown_result(v):
    return "fail (known)" if v["known"] else v["result"]


def write_tap(path, runs):
    lines, n = [], 0
    for run in runs:
        for verdict, rid, description in run.checks:
            n += 1
            status = "ok" if verdict != "FAIL" else "not ok"
            directive = f" # SKIP {description}" if verdict == "SKIP" else ""
            lines.append(f"{status} {n} - {run.name}: {rid} {description}{directive}")
        if run.problem:
            n += 1
            lines.append(f"not ok {n} - {run.name}: the run itself ({run.problem})")
    pathlib.Path(path).write_text("TAP version 13\n" + f"1..{n}\n" + "\n".join(lines) + "\n")


def write_junit(path, runs):
    suites = ET.Element("testsuites", name="hyperbios-conformance")
    for run in runs:
        failures = sum(1 for c in run.checks if c[0] == "FAIL") + (1 if run.problem else 0)
        skipped = sum(1 for c in run.checks if c[0] == "SKIP")
        suite = ET.SubElement(suites, "testsuite", name=run.name, tests=str(len(run.checks) + (1 if run.problem else 0)),
                              failures=str(failures), skipped=str(skipped), time=f"{run.seconds:.3f}")
        for i, (verdict, rid, description) in enumerate(run.checks):
            case = ET.SubElement(suite, "testcase", classname=f"{run.name}.{rid}", name=f"{i + 1:03d} {description}")
            if verdict == "FAIL":
                ET.SubElement(case, "failure", message=f"{rid}: {description}")
            elif verdict == "SKIP":
                ET.SubElement(case, "skipped", message=description)
        if run.problem:
            case = ET.SubElement(suite, "testcase", classname=run.name, name="run")
            ET.SubElement(case, "failure", message=run.problem).text = (run.stdout + run.stderr)[-4000:]
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def certificate_rows(verdicts):
    for v in verdicts.values():
        tests = {}
        for image, verdict, _ in v["checks"]:
            tests.setdefault(image, []).append(verdict)
        summary = ", ".join(f"{image} ({len(vs)})" for image, vs in sorted(tests.items())) or "—"
        yield v, summary


def certificate_header(meta, verdict_text, c):
    """The certificate's head: the verdict first, then what was certified against
    what (the profile, prominently), then the host's identity."""
    info = meta["identity"]
    return [
        ("Verdict", f"{verdict_text}: {c['pass']} passed, {c['fail']} failed ({c['known']} of them known "
                    f"deviations), {c['not tested']} not tested, {c['n/a']} not applicable; only checks that ran "
                    f"count, and a MUST not tested is not a pass"),
        ("Profile", meta["profile_text"]),
        ("Host", info.get("impl-name", meta.get("host_label") or "unknown (no HyperBIOS host answered)")),
        ("Implementation ID", info.get("impl-id", "—")),
        ("Implementation version", info.get("impl-version", "—")),
        ("Vendor signature", info.get("vendor", "—")),
        ("Host command", meta["host"]),
        ("Specification", f"HyperBIOS {meta['spec_version']} (host reports {info.get('spec-version', '—')})"),
        ("Services advertised", info.get("services-named", "—")),
        ("Date", meta["date"]),
        ("Images", f"{meta['images']} run in {meta['seconds']:.1f} s"),
        ("Not observable", "what no driver can see is named in the notes of the requirements it concerns "
                           "(e.g. HB-BLK-009: durability across a crash of the host machine)"),
    ]


def write_markdown(path, meta, verdicts, verdict_text):
    c = counts(verdicts)
    out = ["# HyperBIOS conformance certificate", ""]
    out += ["| | |", "| --- | --- |"]
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    out += [f"| {k} | {cell(v)} |" for k, v in certificate_header(meta, verdict_text, c)]
    out += ["", "## Requirements", "",
            "| Requirement | Level | Result | Tests (checks) | Note |", "| --- | --- | --- | --- | --- |"]
    for v, tests in certificate_rows(verdicts):
        out.append(f"| {v['id']} | {v['level']} | {shown_result(v)} | {tests} | {cell(v['note'])} |")
    failing = [(image, d, v["id"]) for v in verdicts.values() if v["result"] == "fail"
               for image, verdict, d in v["checks"] if verdict == "FAIL"]
    if failing:
        out += ["", "## Failed checks", ""] + [f"- {rid} ({image}): {d}" for image, d, rid in failing]
    out += ["", "Generated by conformance/hyperbios-conform from the spec's requirement list; "
                "nothing in this table is written by hand.", ""]
    pathlib.Path(path).write_text("\n".join(out))


def write_html(path, meta, verdicts, verdict_text):
    c = counts(verdicts)
    e = html.escape
    colors = {"pass": "#1a7f37", "fail": "#cf222e", "not tested": "#9a6700", "n/a": "#6e7781"}
    rows = "\n".join(
        f"<tr><td><code>{e(v['id'])}</code></td><td>{e(v['level'])}</td>"
        f"<td style='color:{colors[v['result']]};font-weight:bold'>{e(shown_result(v))}</td>"
        f"<td>{e(tests)}</td><td>{e(v['note'])}</td><td class=text>{e(v['text'])}</td></tr>"
        for v, tests in certificate_rows(verdicts))
    header = "\n".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>"
                       for k, v in certificate_header(meta, verdict_text, c))
    pathlib.Path(path).write_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>HyperBIOS conformance certificate</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:80em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;
vertical-align:top}}th{{background:#f6f8fa}}.text{{font-size:.85em;color:#57606a}}</style></head>
<body><h1>HyperBIOS conformance certificate</h1>
<table>{header}</table>
<h2>Requirements</h2>
<table><tr><th>Requirement</th><th>Level</th><th>Result</th><th>Tests (checks)</th><th>Note</th><th>Text</th></tr>
{rows}
</table>
<p>Generated by conformance/hyperbios-conform from the spec's requirement list.</p>
</body></html>
""")


# ---------------------------------------------------------------------------
# The whole run, for the command line and for the mutation test.
# ---------------------------------------------------------------------------

def default_images():
    """The images beside the driver in a conformance bundle, else those of a build tree."""
    bundled = HERE / "images"
    in_bundle = (HERE.parent / "VERSION").is_file() and any(bundled.glob("conformance-*"))
    return bundled if in_bundle else pathlib.Path("build/conformance/images")


def find_images(folder, suffix, only):
    images = sorted(pathlib.Path(folder).glob(f"conformance-*{suffix}"))
    if only:
        images = [i for i in images if i.stem.removeprefix("conformance-") in only]
    if not images:
        raise SuiteError(f"no conformance-*{suffix} images in {folder}; build them first "
                         f"(cmake --build build), or point --images at them")
    return images


def usage_problems(runs):
    """What images said about how the run was set up (USAGE lines: too little RAM,
    say), as one message; "" when nothing. A usage error of the run, not a verdict."""
    misuse = [f"{r.name}: {text}" for r in runs for text in r.usage]
    if not misuse:
        return ""
    return ("the host was set up wrongly for the conformance images (a usage error of this run, not a verdict "
            "about the host):\n  " + "\n  ".join(misuse))


def profile_text(profile, offered):
    """How the certificate names the profile: which services were demanded, and why."""
    names = ", ".join(profile["services"] or []) or "none"
    if profile["name"] == "advertised":
        return (f"advertised — the services the host advertises in discovery ({names}); the others are not applicable "
                f"(every service but BASE is optional). --profile full demands every service")
    if profile["name"] == "none":
        return "none — the host is not a HyperBIOS host; only a guest's detection rules apply"
    denied = ", ".join(profile.get("denied", [])) or "none"
    rates = ", ".join(f"{k} {v}/s" for k, v in sorted(profile.get("rates", {}).items())) or "none"
    windows = ", ".join(f"disk {i} from sector {w[0]}{' read-only' if w[2] else ''}"
                        for i, w in sorted(profile.get("windows", {}).items())) or "none"
    if profile["name"] == "full" and "denied" not in profile:
        return f"full — every service of the specification is demanded ({names})"
    return (f"{profile['name']} ({profile.get('path', 'a profile file')}) — services demanded: {names}; "
            f"refused (DENIED): {denied}; rate limits: {rates}; disk windows: {windows}")


def image_count(runs):
    """The images that ran: the runs but the driver's own "profile" checks."""
    return sum(1 for run in runs if run.image.name != "profile")


def certify(host, images, profile="advertised", expectations=None, timeout=60, jobs=2, exit_style="plain",
            progress=None, spec=None):
    spec = spec or load_spec()
    if "{image}" not in host:
        raise SuiteError("--host must contain {image}, where the image's path goes")
    prof = load_profile(profile, spec)
    expected = load_expectations(expectations, spec)
    start = time.monotonic()
    runs = run_all(images, host, timeout, EXIT_STYLES[exit_style], jobs, progress, prof.get("windows"))
    misuse = usage_problems(runs)
    if misuse:
        raise SuiteError(misuse)
    unique_checks(runs)
    for run in runs:
        unknown = unknown_requirements(spec, [run])
        if unknown and not run.problem:
            # Garbled output, or images from another version of the suite than the spec beside it.
            run.problem = "; ".join(unknown)
        run.checks = [c for c in run.checks if c[1] in spec["requirements"]]
    claimed = profile_checks(spec, runs, prof)
    if claimed:
        runs.append(claimed)
    verdicts = judge(spec, runs, prof, expected)
    verdict_text, ok = overall(verdicts, runs, prof)
    return {"spec": spec, "runs": runs, "verdicts": verdicts, "verdict": verdict_text, "ok": ok,
            "profile": prof, "seconds": time.monotonic() - start}


def write_outputs(result, out_dir, host, host_label=None):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = identity(result["runs"])
    offered = advertised_services(result["spec"], result["runs"])
    if offered is not None:
        info["services-named"] = ", ".join(s["name"] for s in result["spec"]["services"] if s["name"] in offered)
    meta = {"identity": info, "host": host, "host_label": host_label,
            "spec_version": spec_version(), "profile": result["profile"]["name"],
            "profile_text": profile_text(result["profile"], offered),
            "date": datetime.date.today().isoformat(), "images": image_count(result["runs"]),
            "seconds": result["seconds"]}
    write_tap(out / "results.tap", result["runs"])
    write_junit(out / "results.junit.xml", result["runs"])
    write_markdown(out / "certificate.md", meta, result["verdicts"], result["verdict"])
    write_html(out / "certificate.html", meta, result["verdicts"], result["verdict"])
    (out / "verdicts.json").write_text(json.dumps(
        {"verdict": result["verdict"], "meta": meta,
         "requirements": {k: {"result": v["result"], "known_deviation": v["known"], "note": v["note"]} for k, v in result["verdicts"].items()}},
        indent=1))
    return out


def spec_version():
    text = (SPEC_DIR / "hyperbios.md").read_text()
    m = re.search(r"\*\*Version (\d+\.\d+)", text)
    return m.group(1) if m else "?"
