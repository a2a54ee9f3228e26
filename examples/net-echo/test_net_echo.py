#!/usr/bin/python3
"""example.net-echo: the net-echo kernel on hbvm, with real peers, all on this
machine:

1. two machines on a socket segment (--net socket:DIR): one serves with a
   static address, the other pings it and has three UDP datagrams echoed; the
   server's capture (pcap=) must hold the ARP exchange, the pings and their
   replies and the datagrams both ways, readable as a pcap file;
2. one machine on the user network (--net user, the module hbvm-slirp.so):
   it takes a DHCP lease from libslirp (10.0.2.15, gateway 10.0.2.2, DNS
   10.0.2.3) and echoes what `nc -u` sends through a forward given on the
   command line (hostfwd=udp::PORT-:7), which once removed through the
   control socket (net0-hostfwd-remove) no longer does; a forward added there
   (net0-hostfwd-add) echoes what socat sends;
3. a segment member that never reads (a stalled peer) while a machine sends to
   it: SIGTERM still ends hbvm at once (the project's loose limit of 1 s;
   bench-stop measures the 100 ms);
4. 63 interfaces on one segment (Solo5's tests attach that many): net-yield
   sends a broadcast from the last and sleeps in net::yield until each other
   interface has received it.

With --namespace instead (root only), in a network namespace the test makes:
a TAP interface 10.9.0.1/24 and the machine on it (--net tap:IFNAME) at
10.9.0.2, which ping and socat from the namespace reach; without CAP_NET_ADMIN
hbvm refuses the TAP interface with a message that says what to do; and DNS
through the user network: the namespace's resolv.conf names a dnsmasq the test
runs on its loopback (never a resolver off this machine), libslirp forwards
the guest's query from 10.0.2.3 to it, and the guest learns the test's name
and hears that an unknown one does not exist.

Exit status 0 when all holds, 1 otherwise, 77 when --namespace cannot run here (not
root, no `ip`, no network namespaces) — except under CI=true, where that is a
failure."""

import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "reference-host" / "tests"))
from hbvm_process import hbvm_process  # noqa: E402

failures = []


def expect(label, condition, detail=""):
    print(f"{'PASS' if condition else 'FAIL'} {label}" + ("" if condition or not detail else f": {detail}"), flush=True)
    if not condition:
        failures.append(label)
    return condition


class machine(hbvm_process):
    """A running hbvm whose stdout and stderr lines (the guest's console among
    them) arrive as they come."""

    def __init__(self, command):
        super().__init__(command, console=True)

    def wait_for(self, text, seconds=30):
        """The first line holding `text`, or None after `seconds` (or once hbvm ended without it)."""
        found = lambda: next((line for line in list(self.lines) if text in line), None)  # noqa: E731
        super().wait_for(lambda _: found() is not None or self.proc.poll() is not None, seconds)
        if found() is None and self.proc.poll() is not None:
            time.sleep(0.1)  # the reader may still hold the last lines
        return found()

    def stop(self):
        """SIGTERM; the seconds hbvm took to end (None: it had to be killed)."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        status = self.end(10)
        return None if status is None else time.monotonic() - start

    def output(self):
        return "\n".join(self.lines[-12:])


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_pcap(path):
    """The frames of a pcap file (little-endian, microseconds, Ethernet)."""
    data = pathlib.Path(path).read_bytes()
    magic, major, minor, _, _, snaplen, linktype = struct.unpack_from("<IHHiIII", data)
    if magic != 0xA1B2C3D4 or (major, minor) != (2, 4) or linktype != 1:
        raise ValueError(f"not an Ethernet pcap file (magic {magic:#x}, version {major}.{minor}, link {linktype})")
    frames, at = [], 24
    while at + 16 <= len(data):
        _, _, included, original = struct.unpack_from("<IIII", data, at)
        frames.append(data[at + 16:at + 16 + included])
        at += 16 + included
    return frames


def describe(frame):
    """'arp request', 'icmp 8', 'udp 40000>7' ... of an Ethernet frame."""
    kind = int.from_bytes(frame[12:14], "big")
    if kind == 0x0806:
        return "arp " + ("request" if frame[21] == 1 else "reply")
    if kind == 0x0800:
        protocol, header = frame[23], (frame[14] & 15) * 4
        body = frame[14 + header:]
        if protocol == 1:
            return f"icmp {body[0]}"
        if protocol == 17:
            return f"udp {int.from_bytes(body[0:2], 'big')}>{int.from_bytes(body[2:4], 'big')}"
    return f"type {kind:#x}"


def segment(a, tmp):
    folder = pathlib.Path(tmp) / "seg"
    folder.mkdir()
    capture = pathlib.Path(tmp) / "server.pcap"
    server = machine([a.hbvm, "run", a.kernel, "--accel", "soft", "--timeout", "60",
                      "--net", f"socket:{folder},mac=52:54:00:00:00:01,pcap={capture}", "--", "ip=10.0.0.1/24"])
    expect("segment: the server says where it serves",
           server.wait_for("net-echo: serving UDP echo on port 7") is not None, server.output())
    client = machine([a.hbvm, "run", a.kernel, "--accel", "soft", "--timeout", "60",
                      "--net", f"socket:{folder},mac=52:54:00:00:00:02", "--",
                      "ip=10.0.0.2/24", "ping=10.0.0.1", "udp=10.0.0.1:7"])
    status = client.end(60)
    expect("segment: the client's three pings are answered",
           sum("reply in" in line for line in client.lines) == 3, client.output())
    expect("segment: the client's three datagrams are echoed",
           sum("': echoed" in line for line in client.lines) == 3, client.output())
    expect("segment: the client ends with exit status 0", status == 0, f"status {status}")
    took = server.stop()
    expect("segment: SIGTERM ends the server at once", took is not None and took < 1, f"{took} s")
    try:
        seen = [describe(f) for f in read_pcap(capture)]
    except (OSError, ValueError) as e:
        seen = [f"unreadable: {e}"]
    want = ["arp request", "arp reply", "icmp 8", "icmp 0", "udp 40000>7", "udp 7>40000"]
    expect("segment: the server's capture holds the ARP exchange, the pings and the datagrams both ways",
           all(w in seen for w in want) and seen.count("icmp 0") == 3 and seen.count("udp 7>40000") == 3,
           f"{seen}")


def many_interfaces(a, tmp):
    folder = pathlib.Path(tmp) / "many"
    folder.mkdir()
    command = [a.hbvm, "run", a.yield_kernel, "--accel", "soft", "--timeout", "60"]
    for _ in range(63):
        command += ["--net", f"socket:{folder}"]
    guest = machine(command)
    status = guest.end(60)
    line = guest.wait_for("net-yield:", 1)
    expect("63 interfaces: net::yield wakes for every one that received the broadcast",
           status == 0 and line is not None and "62 of 62 interfaces" in line, f"status {status}: {guest.output()}")


def udp_echo_with(tool, port, text):
    """What `tool` (nc or socat) gets back from 127.0.0.1:port for `text`."""
    command = ["nc", "-u", "-w1", "127.0.0.1", str(port)] if tool == "nc" else \
        ["socat", "-t1", "-", f"UDP:127.0.0.1:{port}"]
    try:
        return subprocess.run(command, input=text, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"({tool} failed: {e})"


def user_network(a, tmp):
    port, added = free_udp_port(), free_udp_port()
    control = pathlib.Path(tmp) / "ctl.sock"
    guest = machine([a.hbvm, "run", a.kernel, "--accel", "soft", "--timeout", "60", "--control", f"unix:{control}",
                     "--net", f"user,hostfwd=udp::{port}-:7"])
    lease = guest.wait_for("(DHCP,")
    expect("user: the guest takes a DHCP lease from libslirp: 10.0.2.15, gateway 10.0.2.2",
           lease is not None and "address 10.0.2.15, netmask 255.255.255.0, gateway 10.0.2.2" in lease,
           guest.output())
    expect("user: DHCP names the DNS forwarder 10.0.2.3", guest.wait_for("DNS server 10.0.2.3", 5) is not None,
           guest.output())
    guest.wait_for("serving UDP echo")
    echoed = udp_echo_with("nc", port, "hello through the forward\n")
    expect("user: nc's datagram comes back through hostfwd=udp::PORT-:7", echoed == "hello through the forward\n",
           repr(echoed))

    def ctl(command, arguments):
        r = subprocess.run([a.hbvm_ctl, f"unix:{control}", command, json.dumps(arguments)],
                           capture_output=True, text=True, timeout=20)
        return r.returncode, r.stdout + r.stderr

    # libslirp matches a UDP reply by the guest's port alone: with two forwards
    # to port 7 the replies would leave through the first. So the first goes,
    # then another comes.
    code, said = ctl("net0-hostfwd-remove", {"rule": f"udp::{port}"})
    expect("user: net0-hostfwd-remove removes a forward while the machine runs", code == 0, said)
    echoed = udp_echo_with("nc", port, "after removal\n")
    expect("user: nothing comes back through a removed forward", echoed == "", repr(echoed))
    code, said = ctl("net0-hostfwd-add", {"rule": f"udp::{added}-:7"})
    expect("user: net0-hostfwd-add adds one", code == 0, said)
    echoed = udp_echo_with("socat", added, "added at run time\n")
    expect("user: socat's datagram comes back through the added forward", echoed == "added at run time\n",
           f"{echoed!r}; hbvm and the guest said: {guest.output()}")
    code, said = ctl("net0-hostfwd-list", {})
    expect("user: net0-hostfwd-list names the forward added, not the one removed",
           code == 0 and str(added) in said and str(port) not in said, said)
    code, said = ctl("net0-hostfwd-remove", {"rule": f"udp::{port}"})
    expect("user: removing a forward that is not there is refused, saying so", code != 0 and "no forward" in said,
           said)
    code, said = ctl("net0-hostfwd-add", {"rule": "udp::notaport-:7"})
    expect("user: a malformed rule is refused, saying so", code != 0 and "host port" in said, said)
    took = guest.stop()
    expect("user: SIGTERM ends hbvm at once", took is not None and took < 1, f"{took} s")


def stalled_peer(a, tmp):
    folder = pathlib.Path(tmp) / "stalled"
    folder.mkdir()
    deaf = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    deaf.bind(str(folder / "deaf"))  # a member that never reads
    try:
        guest = machine([a.hbvm, "run", a.kernel, "--accel", "soft", "--timeout", "60",
                         "--net", f"socket:{folder}", "--", "ip=10.0.0.2/24", "ping=10.0.0.9", "udp=10.0.0.9:7"])
        guest.wait_for("net-echo: address")
        time.sleep(4)  # ARP broadcasts fill the deaf member's socket, and hbvm waits on it
        took = guest.stop()
        expect("stalled peer: SIGTERM ends hbvm at once while a segment member takes nothing",
               took is not None and took < 1, f"{took} s")
    finally:
        deaf.close()


def run(command, **kw):
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=30, **kw)


def namespace_tests(a):
    """The TAP back end and DNS in a network namespace of the test's own."""
    namespace, interface = f"hbvm-tap-{os.getpid()}", "hbtap0"
    made = run(["ip", "netns", "add", namespace]) if os.geteuid() == 0 else None
    if made is None or made.returncode != 0:
        why = "not root" if made is None else made.stderr.strip()
        if os.environ.get("CI") == "true":
            expect("namespace: a network namespace can be made (CI=true: this must run)", False, why)
            return
        print(f"SKIP namespace: no network namespace ({why})")
        sys.exit(77)
    inside = ["ip", "netns", "exec", namespace]
    try:
        for step in (["ip", "link", "set", "lo", "up"], ["ip", "tuntap", "add", "dev", interface, "mode", "tap"],
                     ["ip", "addr", "add", "10.9.0.1/24", "dev", interface], ["ip", "link", "set", interface, "up"]):
            done = run(inside + step)
            if not expect(f"tap: {' '.join(step)} in the namespace", done.returncode == 0, done.stderr):
                return
        guest = machine(inside + [a.hbvm, "run", a.kernel, "--accel", "soft", "--timeout", "60",
                                  "--net", f"tap:{interface}", "--", "ip=10.9.0.2/24"])
        expect("tap: the machine serves on the TAP interface", guest.wait_for("serving UDP echo") is not None,
               guest.output())
        pinged = run(inside + ["ping", "-c", "3", "-W", "2", "10.9.0.2"])
        expect("tap: ping from the namespace is answered", pinged.returncode == 0, pinged.stdout + pinged.stderr)
        echoed = run(inside + ["socat", "-t1", "-", "UDP:10.9.0.2:7"], input="through the tap\n")
        expect("tap: socat's datagram comes back", echoed.stdout == "through the tap\n", repr(echoed.stdout))
        took = guest.stop()
        expect("tap: SIGTERM ends hbvm at once", took is not None and took < 1, f"{took} s")
        refused = run(inside + ["setpriv", "--bounding-set=-net_admin", a.hbvm, "run", a.kernel, "--accel", "soft",
                                "--timeout", "10", "--net", "tap:hbtap9"])
        expect("tap: without CAP_NET_ADMIN hbvm refuses a TAP interface it cannot make, saying how to get one",
               refused.returncode == 74 and "CAP_NET_ADMIN" in refused.stderr and "ip tuntap add" in refused.stderr,
               f"status {refused.returncode}: {refused.stderr.strip()}")
        dns(a, namespace, inside)
    finally:
        run(["ip", "netns", "delete", namespace])
        shutil.rmtree(f"/etc/netns/{namespace}", ignore_errors=True)


def dns(a, namespace, inside):
    """The guest's DNS query through libslirp reaches a resolver on the
    namespace's loopback: `ip netns exec` puts /etc/netns/NS/resolv.conf in
    place of /etc/resolv.conf, which libslirp reads."""
    config = pathlib.Path(f"/etc/netns/{namespace}")
    config.mkdir(parents=True, exist_ok=True)
    (config / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    resolver = subprocess.Popen(inside + ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                                          "--listen-address=127.0.0.1", "--bind-interfaces", "--port=53",
                                          "--user=root", "--pid-file", "--address=/hyperbios.test/10.1.2.3",
                                          "--log-facility=-"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        if not expect("dns: dnsmasq answers on the namespace's loopback", resolver.poll() is None,
                      resolver.stderr.read() if resolver.poll() is not None else ""):
            return
        asked = run(inside + [a.hbvm, "run", a.kernel, "--accel", "soft", "--timeout", "60", "--net", "user", "--",
                              "resolve=hyperbios.test"])
        expect("dns: the guest learns hyperbios.test's address through 10.0.2.3",
               "net-echo: hyperbios.test is 10.1.2.3" in asked.stdout and asked.returncode == 0,
               f"status {asked.returncode}: {asked.stdout[-400:]}{asked.stderr[-200:]}")
        unknown = run(inside + [a.hbvm, "run", a.kernel, "--accel", "soft", "--timeout", "60", "--net", "user", "--",
                                "resolve=nosuch.hyperbios.invalid"])
        expect("dns: an unknown name is reported as such",
               "no such name" in unknown.stdout and unknown.returncode == 1,
               f"status {unknown.returncode}: {unknown.stdout[-400:]}")
    finally:
        resolver.terminate()
        resolver.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--hbvm-ctl", required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--yield-kernel", help="net-yield.elf, for the 63 interfaces")
    parser.add_argument("--namespace", action="store_true",
                        help="test the TAP back end and DNS in a network namespace (root)")
    a = parser.parse_args()
    if a.namespace:
        namespace_tests(a)
        print(f"{len(failures)} failed" if failures else "all passed")
        return 1 if failures else 0
    with tempfile.TemporaryDirectory(prefix="hbvm-net-echo-") as tmp:
        segment(a, tmp)
        stalled_peer(a, tmp)
        if a.yield_kernel:
            many_interfaces(a, tmp)
        module = pathlib.Path(a.hbvm).resolve().parent.parent / "lib/hyperbios/modules/hbvm-slirp.so"
        if module.exists() or os.environ.get("CI") == "true":
            user_network(a, tmp)
        else:
            print(f"SKIP user network: {module} is not built (install libslirp-dev)")
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
