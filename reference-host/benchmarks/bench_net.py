#!/usr/bin/python3
"""bench-net: what a guest's network costs against the same traffic between
two host processes, measured side by side in one run.

In interleaved rounds (--rounds, default 3):
  - UDP throughput: bench_net_rounds.elf on `--net user` (libslirp) sends
    --datagrams datagrams of 1024 bytes to the host's 127.0.0.1 (10.0.2.2 to
    the guest), where bench_net_host counts what arrives; and bench_net_host
    sends as many to another bench_net_host over loopback. Megabytes a second
    as the receiver saw them (first to last), and the share that arrived.
  - UDP round trips: the guest through libslirp to a host echo server, and a
    host process to the same server; median and 90th percentile.
  - the socket back end: the guest sends --frames raw frames of 64 and 1514
    bytes to a segment where bench_net_host counts them (frames a second as
    received); and two guests on one segment, one echoing UDP (net-echo), the
    other timing round trips to it.
Prints medians over the rounds, and the ratios guest / host-to-host. Figures,
not a pass/fail.

usage: bench_net.py --hbvm HBVM --image ELF --echo-image NET_ECHO_ELF --host-tool BENCH_NET_HOST"""

import argparse
import pathlib
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def figures(text, kind):
    """The numbers of the line that starts with `kind` (flood, rtt, frames, received)."""
    for line in text.splitlines():
        if line.startswith(kind + " "):
            words = line.split()
            return {words[i]: int(words[i + 1]) for i in range(1, len(words) - 1, 2)}
    return None


class helper:
    """bench_net_host in the background, once it says ready."""

    def __init__(self, tool, *args):
        self.proc = subprocess.Popen([str(tool), *map(str, args)], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            sys.exit(f"bench-net: bench_net_host {' '.join(map(str, args))} did not start: {line!r}")

    def result(self, kind="received", timeout=60):
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return figures(out, kind)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def guest(a, image, net, *arguments, timeout=120):
    out = subprocess.run([a.hbvm, "run", image, "--accel", a.accel, "--timeout", str(timeout), "--net", net, "--",
                          *arguments], capture_output=True, text=True, timeout=timeout + 30)
    if out.returncode != 0:
        sys.exit(f"bench-net: the guest failed ({out.returncode}): {' '.join(arguments)}\n{out.stdout}{out.stderr}")
    return out.stdout


def throughput(sent, received):
    return received["bytes"] / max(received["first-to-last-ns"], 1) * 1e3, received["bytes"] / sent["bytes"]


def one_round(a, tmp, r):
    n = a.datagrams
    port = free_port()
    sink = helper(a.host_tool, "sink", port)
    sent = figures(guest(a, a.image, "user", "mode=flood", f"to=10.0.2.2:{port}", f"count={n}", "size=1024"), "flood")
    got = sink.result()
    r["slirp MB/s"].append(throughput(sent, got)[0]), r["slirp arrived"].append(throughput(sent, got)[1])
    port = free_port()
    sink = helper(a.host_tool, "sink", port)
    sent = figures(subprocess.run([str(a.host_tool), "flood", str(port), str(n), "1024"], capture_output=True,
                                  text=True).stdout, "flood")
    got = sink.result()
    r["loopback MB/s"].append(throughput(sent, got)[0]), r["loopback arrived"].append(throughput(sent, got)[1])

    port = free_port()
    echo = helper(a.host_tool, "echo", port)
    rtt = figures(guest(a, a.image, "user", "mode=rtt", f"to=10.0.2.2:{port}", f"count={a.round_trips}"), "rtt")
    r["slirp rtt us"].append(rtt["median-ns"] / 1e3), r["slirp rtt p90 us"].append(rtt["p90-ns"] / 1e3)
    rtt = figures(subprocess.run([str(a.host_tool), "rtt", str(port), str(a.round_trips)], capture_output=True,
                                 text=True).stdout, "rtt")
    r["loopback rtt us"].append(rtt["median-ns"] / 1e3), r["loopback rtt p90 us"].append(rtt["p90-ns"] / 1e3)
    echo.stop()

    for size in (64, 1514):
        folder = pathlib.Path(tmp) / f"seg-{size}-{len(r['loopback MB/s'])}"
        folder.mkdir()
        sink = helper(a.host_tool, "frames", folder)
        sent = figures(guest(a, a.image, f"socket:{folder}", "ip=10.0.0.2/24", "mode=frames", f"count={a.frames}",
                             f"size={size}"), "frames")
        got = sink.result()
        r[f"segment {size} B frames/s"].append(got["count"] / max(got["first-to-last-ns"], 1) * 1e9)
        r[f"segment {size} B arrived"].append(got["count"] / sent["count"])

    folder = pathlib.Path(tmp) / f"seg-rtt-{len(r['loopback MB/s'])}"
    folder.mkdir()
    server = subprocess.Popen([a.hbvm, "run", a.echo_image, "--accel", a.accel, "--timeout", "120", "--net",
                               f"socket:{folder},mac=52:54:00:00:00:01", "--", "ip=10.0.0.1/24"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in server.stdout:
        if "serving UDP echo" in line:
            break
    # It prints a line per datagram: read them, or its console would stall on a full pipe.
    threading.Thread(target=lambda: server.stdout.read(), daemon=True).start()
    rtt = figures(guest(a, a.image, f"socket:{folder},mac=52:54:00:00:00:02", "ip=10.0.0.2/24", "mode=rtt",
                        "to=10.0.0.1:7", f"count={a.round_trips}"), "rtt")
    server.terminate()
    server.wait()
    r["segment guest-guest rtt us"].append(rtt["median-ns"] / 1e3)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--echo-image", required=True)
    parser.add_argument("--host-tool", required=True)
    parser.add_argument("--accel", default="soft")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--datagrams", type=int, default=20000)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=20000)
    a = parser.parse_args()
    results = {}
    keys = ["slirp MB/s", "slirp arrived", "loopback MB/s", "loopback arrived", "slirp rtt us", "slirp rtt p90 us",
            "loopback rtt us", "loopback rtt p90 us", "segment 64 B frames/s", "segment 64 B arrived",
            "segment 1514 B frames/s", "segment 1514 B arrived", "segment guest-guest rtt us"]
    for k in keys:
        results[k] = []
    with tempfile.TemporaryDirectory(prefix="bench-net-") as tmp:
        for i in range(a.rounds):
            print(f"bench-net: round {i + 1} of {a.rounds}", flush=True)
            one_round(a, tmp, results)
    m = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nbench-net ({a.accel} engine), medians of {a.rounds} rounds:")
    print(f"  UDP, 1024-byte datagrams, guest -> host through libslirp: {m['slirp MB/s']:8.1f} MB/s "
          f"({m['slirp arrived'] * 100:.0f} % arrived)")
    print(f"  UDP, the same between two host processes over loopback: {m['loopback MB/s']:8.1f} MB/s "
          f"({m['loopback arrived'] * 100:.0f} % arrived)")
    print(f"    ratio guest / host-to-host: {m['slirp MB/s'] / m['loopback MB/s']:.2f}x")
    print(f"  UDP round trip, guest <-> host echo through libslirp: median {m['slirp rtt us']:7.1f} us, "
          f"90 % {m['slirp rtt p90 us']:7.1f} us")
    print(f"  UDP round trip, host process <-> the same echo:        median {m['loopback rtt us']:7.1f} us, "
          f"90 % {m['loopback rtt p90 us']:7.1f} us")
    print(f"    ratio guest / host-to-host: {m['slirp rtt us'] / m['loopback rtt us']:.1f}x")
    for size in (64, 1514):
        print(f"  socket segment, {size}-byte frames from the guest: {m[f'segment {size} B frames/s']:10.0f} frames/s "
              f"({m[f'segment {size} B arrived'] * 100:.0f} % arrived)")
    print(f"  socket segment, UDP round trip between two guests: median {m['segment guest-guest rtt us']:.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
