#!/usr/bin/python3
"""The control socket (`hbvm run --control unix:PATH`) and its client hbvm-ctl:
a guest that writes to the console without pause makes no progress while
paused and goes on after resume; quit ends the run with status 0 and the end
report `stopped`; the socket is mode 0600 and a path it cannot use is a usage
error; and no client — one that never reads, floods commands, sends garbage,
nests too deep, or is one too many — keeps hbvm from answering others or from
stopping within the 100 ms every stop keeps (measured with SIGTERM, with a
second of slack for a loaded machine)."""

import argparse
import json
import os
import pathlib
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

failures = []


def report(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)


class host:
    """hbvm with a control socket, its stdout counted as it comes."""

    def __init__(self, hbvm, guest, accel, sock, end, extra=()):
        self.proc = subprocess.Popen([hbvm, "run", guest, "--accel", accel, "--control", f"unix:{sock}",
                                      "--end-report", end, "--timeout", "120", *extra],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.bytes = 0
        self.err = b""
        threading.Thread(target=self._count, daemon=True).start()
        threading.Thread(target=self._keep_err, daemon=True).start()
        deadline = time.monotonic() + 20
        while not os.path.exists(sock) and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.01)

    def _count(self):
        while chunk := self.proc.stdout.read1(65536):
            self.bytes += len(chunk)

    def _keep_err(self):
        self.err = self.proc.stderr.read()

    def stop_time(self, sig=signal.SIGTERM):
        """Seconds from the signal to hbvm's end."""
        start = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        return time.monotonic() - start


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def ctl(hbvm_ctl, sock, *args):
    p = subprocess.run([hbvm_ctl, f"unix:{sock}", *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def raw_client(sock):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(sock))
    return s


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--hbvm-ctl", required=True)
    parser.add_argument("--guests", required=True)
    parser.add_argument("--accel", default="soft", choices=["soft", "kvm"])
    a = parser.parse_args()
    flood = str(pathlib.Path(a.guests) / "console_flood.elf")
    spin = str(pathlib.Path(a.guests) / "spin_forever.elf")

    with tempfile.TemporaryDirectory(prefix="hbvm-control-") as tmp:
        tmp = pathlib.Path(tmp)
        sock, end = tmp / "vm.sock", tmp / "end.txt"

        # Pause, resume, query, quit, with a guest that writes without pause.
        h = host(a.hbvm, flood, a.accel, sock, end)
        mode = stat.S_IMODE(os.stat(sock).st_mode) if sock.exists() else None
        report("the socket is there, mode 0600", mode == 0o600, f"mode {mode}")
        s, out, err = ctl(a.hbvm_ctl, sock, "query-status")
        report("query-status: running", s == 0 and json.loads(out or "{}").get("status") == "running", f"{s} {out} {err}")
        # The guest writes before it is paused: on a KVM that emulates every
        # instruction its boot alone takes seconds.
        wait_for(lambda: h.bytes > 0, 60)
        s, out, err = ctl(a.hbvm_ctl, sock, "stop", "--wait-event", "STOP")
        report("stop, then the event STOP", s == 0 and '"event": "STOP"' in out, f"{s} {out} {err}")
        # What the guest wrote before the pause may still be in the pipe (64 KiB):
        # let the reader drain it — no new byte for 0.2 s — before counting.
        settle_deadline = time.monotonic() + 3
        while time.monotonic() < settle_deadline:
            seen = h.bytes
            time.sleep(0.2)
            if h.bytes == seen:
                break
        before = h.bytes
        time.sleep(0.6)
        after = h.bytes
        report(f"no console output while paused ({before} bytes before, {after} 0.6 s later)",
               before == after and before > 0, f"{after - before} bytes came")
        s, out, err = ctl(a.hbvm_ctl, sock, "query-status")
        report("query-status: paused", s == 0 and json.loads(out or "{}").get("status") == "paused", f"{s} {out} {err}")
        s, out, err = ctl(a.hbvm_ctl, sock, "cont", "--wait-event", "RESUME")
        report("cont, then the event RESUME", s == 0 and '"event": "RESUME"' in out, f"{s} {out} {err}")
        wait_for(lambda: h.bytes > after, 30)
        report(f"the guest goes on after cont ({h.bytes - after} more bytes)", h.bytes > after, "")
        s, out, err = ctl(a.hbvm_ctl, sock, "nope")
        report("an unknown command: exit 1 and CommandNotFound", s == 1 and "CommandNotFound" in err, f"{s} {err}")
        s, out, err = ctl(a.hbvm_ctl, sock, "quit", "--wait-event", "END")
        try:
            status = h.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            h.proc.kill()
            status = None
        report("quit: the event END, hbvm's status 0, end report 'stopped …quit'",
               s == 0 and '"event": "END"' in out and status == 0 and end.read_text().startswith("stopped") and
               "quit" in end.read_text(), f"{s} {out} {err} status {status} {end.read_text()!r}")
        report("the socket file is gone after the run", not sock.exists(), "")
        s, _, err = ctl(a.hbvm_ctl, sock, "query-status")
        report("hbvm-ctl without an hbvm: exit 2 and says so", s == 2 and "cannot connect" in err, f"{s} {err}")

        # Hostile clients; another client is still served, and SIGTERM still ends the run at once.
        h = host(a.hbvm, spin, a.accel, sock, end)
        silent = raw_client(sock)              # connects and never reads
        flooder = raw_client(sock)             # sends commands without reading replies
        command = b'{"execute": "query-status", "id": 1}\n' * 4096
        flooder.setblocking(False)
        sent = 0
        try:
            for _ in range(200):
                sent += flooder.send(command)
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            pass
        garbage = raw_client(sock)
        garbage.sendall(os.urandom(4096).replace(b"\n", b"x") + b"\n" + b"{" * 100000 + b"\n" +
                        b"[" * 5000 + b"\n" + b"x" * (1 << 20) + b"\n" + b'{"execute": 3}\n')
        time.sleep(0.5)
        garbage.settimeout(5)
        answers = b""
        try:
            while answers.count(b"\n") < 6:
                chunk = garbage.recv(65536)
                if not chunk:
                    break
                answers += chunk
        except socket.timeout:
            pass
        lines = answers.decode(errors="replace").splitlines()
        report("garbage, deep nesting and a 1 MiB line get errors, one a line",
               len(lines) >= 6 and "not JSON" in lines[1] and "nested deeper than 32" in answers.decode() and
               "longer than 64 KiB" in answers.decode() and "execute" in lines[-1], "\n".join(lines)[:1000])
        extra = [raw_client(sock) for _ in range(13)]  # sixteen with the three above, the most it serves
        one_too_many = raw_client(sock)
        one_too_many.settimeout(5)
        refused = one_too_many.recv(4096).decode(errors="replace")
        report("a seventeenth client is told 'too many clients' and closed", "too many clients" in refused, refused)
        s, out, err = ctl(a.hbvm_ctl, sock, "query-status")
        report("hbvm-ctl as a seventeenth client says it was refused, and why",
               s == 2 and "hbvm refused the connection: too many clients" in err, f"{s} {out} {err}")
        for c in extra:
            c.close()
        # hbvm frees their places when it sees them close, at its next poll.
        tries = 0
        while tries < 50:
            tries += 1
            s, out, err = ctl(a.hbvm_ctl, sock, "query-status")
            if s == 0 or "too many clients" not in err:
                break
            time.sleep(0.02)
        report(f"another client is still served beside them (the flooder sent {sent >> 10} KiB; "
               f"{tries} connection{'s' if tries > 1 else ''})", s == 0 and "running" in out, f"{s} {out} {err}")
        took = h.stop_time()
        report(f"SIGTERM ends hbvm at once beside a client that never reads ({took * 1000:.0f} ms)"
               if took is not None else "SIGTERM ends hbvm", took is not None and took < 1.0, f"{took}")
        silent.close()
        flooder.close()
        garbage.close()

        # Paused, and stopped: the pause does not hold up a stop.
        h = host(a.hbvm, spin, a.accel, sock, end)
        ctl(a.hbvm_ctl, sock, "stop", "--wait-event", "STOP")
        took = h.stop_time()
        report(f"SIGTERM ends a paused hbvm at once ({took * 1000:.0f} ms, status {h.proc.returncode})"
               if took is not None else "SIGTERM ends a paused hbvm",
               took is not None and took < 1.0 and h.proc.returncode == 143, f"{took} {h.proc.returncode}")

        # Addresses it cannot use: usage errors before anything boots.
        for address, expected in ((f"unix:{tmp / ('x' * 120)}", "a Unix socket's path holds at most 107"),
                                  ("tcp:1234", "expected unix:PATH"),
                                  (f"unix:{end}", "a file that is no socket is in the way")):
            p = subprocess.run([a.hbvm, "run", spin, "--accel", a.accel, "--control", address], capture_output=True,
                               text=True, timeout=30)
            report(f"--control {address[:40]}…: status 64, {expected!r}", p.returncode == 64 and expected in p.stderr,
                   p.stderr)

    print("all passed" if not failures else f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
