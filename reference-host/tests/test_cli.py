#!/usr/bin/python3
"""End-to-end tests of `hbvm run`: the command line, bad images and misbehaving
guests. Each case checks the exit status and the diagnostic on stderr. The same
cases run on every accelerator (--accel soft here, --accel kvm in the nested lane)."""

import argparse
import errno
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

failures = []


def run(args, timeout=30, signal_after=None, env=None):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if signal_after is not None:
        time.sleep(signal_after)
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, out, err
    return proc.returncode, out, err


def case(name, args, status, stderr_has=(), stdout_has=(), **kw):
    code, out, err = run(args, **kw)
    problems = []
    if code != status:
        problems.append(f"exit status {code}, expected {status}")
    problems += [f"stderr lacks {s!r}" for s in stderr_has if s not in err]
    problems += [f"stdout lacks {s!r}" for s in stdout_has if s not in out]
    if problems:
        failures.append(name)
        print(f"FAIL {name}: " + "; ".join(problems))
        print("  command:", " ".join(map(str, args)))
        print("  stdout:", out.strip().replace("\n", "\n          "))
        print("  stderr:", err.strip().replace("\n", "\n          "))
    else:
        print(f"PASS {name}")


def end_case(name, args, status, report, tmp, **kw):
    """Like case(), with --end-report: the file must hold one line starting `report`."""
    path = pathlib.Path(tmp) / "end-report.txt"
    path.unlink(missing_ok=True)
    code, out, err = run([*args, "--end-report", str(path)], **kw)
    line = path.read_text() if path.exists() else None
    ok = code == status and line is not None and line.startswith(report) and line.endswith("\n") and \
        line.count("\n") == 1
    print(f"{'PASS' if ok else 'FAIL'} {name}: exit status {code}, end report {line!r}")
    if not ok:
        failures.append(name)
        print("  stderr:", err.strip().replace("\n", "\n          "))


def spec_version():
    text = (pathlib.Path(__file__).resolve().parents[2] / "spec" / "hyperbios.md").read_text()
    return re.search(r"\*\*Version (\d+\.\d+)", text).group(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--guests", required=True, help="folder of the test guests' .elf files")
    parser.add_argument("--hello", required=True, help="hello.elf")
    parser.add_argument("--accel", default="soft", choices=["soft", "kvm"], help="accelerator to test")
    a = parser.parse_args()
    hbvm, hello = a.hbvm, a.hello
    guest = lambda name: str(pathlib.Path(a.guests) / f"{name}.elf")  # noqa: E731
    accel = ["--accel", a.accel]
    accel_line = {"soft": "accelerator: software engine", "kvm": "accelerator: KVM"}[a.accel]

    case("help", [hbvm, "--help"], 0, stdout_has=["Usage:", "--timeout", "Exit status"])
    case("run --help", [hbvm, "run", "--help"], 0, stdout_has=["--accel"])
    case("version", [hbvm, "--version"], 0, stdout_has=[f"HyperBIOS spec {spec_version()}"])
    case("no command", [hbvm], 64, stderr_has=["missing command", "hbvm --help"])
    case("unknown command", [hbvm, "boot"], 64, stderr_has=["unknown command 'boot'"])
    case("run without image", [hbvm, "run"], 64, stderr_has=["which image?"])
    case("unknown option", [hbvm, "run", hello, "--fast"], 64, stderr_has=["unknown option --fast"])
    case("bad --mem", [hbvm, "run", hello, "--mem", "lots"], 64, stderr_has=["--mem lots"])
    case("too little --mem", [hbvm, "run", hello, "--mem", "1M"], 64, stderr_has=["between 2M and 64G"])
    case("bad --accel", [hbvm, "run", hello, "--accel", "fast"], 64, stderr_has=["expected auto, kvm or soft"])
    case("bad --profile", [hbvm, "run", hello, "--profile", "ps9"], 64,
         stderr_has=["--profile ps9: no such profile; expected one of full, no-reboot, minimal"])
    case("bad --timeout", [hbvm, "run", hello, "--timeout", "-1"], 64, stderr_has=["--timeout -1"])
    # Profiles (issue 24): the built-ins, a file's errors by line, the profile winning over the command line.
    case("--list-profiles", [hbvm, "--list-profiles"], 0, stdout_has=["full", "no-reboot", "minimal", "ps3"])
    case("--print-profile ps3", [hbvm, "--print-profile", "ps3"], 0,
         stdout_has=["profile_version = 1", 'name = "ps3"', "first_sector = 2048"])
    case("--mem above the profile's cap", [hbvm, "run", hello, "--profile", "ps3", "--mem", "512M"], 64,
         stderr_has=["--mem 512M: profile ps3 (builtin:ps3:", "caps guest RAM at 208M", "give --mem 208M or less"])
    case("a network back end the profile refuses", [hbvm, "run", hello, "--profile", "ps3", "--net", "tap:tap0"], 64,
         stderr_has=["profile ps3 (builtin:ps3:", "does not allow the network back end 'tap'"])
    case("a display larger than the profile's", [hbvm, "run", hello, "--profile", "ps3", "--display",
                                                 "none,max-width=4096"], 64,
         stderr_has=["max-width=4096 is beyond what profile ps3"])
    case("a disk under a profile without BLOCK is left out, said",
         [hbvm, "run", hello, "--profile", "minimal", "--disk", "/nonexistent.img", *accel], 0,
         stderr_has=["profile minimal (builtin:minimal:7) does not offer block, so --disk /nonexistent.img is left out"])
    case("missing image", [hbvm, "run", "/nonexistent/kernel.elf"], 65,
         stderr_has=["cannot open image '/nonexistent/kernel.elf'", "No such file"])

    with tempfile.TemporaryDirectory() as tmp:
        bad = pathlib.Path(tmp) / "kiosk.toml"
        bad.write_text('profile_version = 1\nservices = "all"\n\ndenied = ["power.rebot"]\n')
        case("a profile file with a mistake names its line", [hbvm, "run", hello, "--profile", str(bad)], 64,
             stderr_has=[f"{bad}:4: denied: no function 'power.rebot'; the functions of power are"])
        bad.write_text('profile_version = 1\nservices = "all"\ndenied = ["power.reboot"]\n')
        case("a profile file's refusal, with --trace naming the rule",
             [hbvm, "run", guest("reboot_once"), "--profile", str(bad), "--trace", *accel], 1,
             stderr_has=[f"DENIED, 0x0 (profile kiosk ({bad}:3) denies power.reboot)", "reboot_once: reboot returned"])
        fifo = pathlib.Path(tmp) / "audit.fifo"
        os.mkfifo(fifo)
        case("--audit to a FIFO is refused at once, not waited on", [hbvm, "run", hello, "--audit", str(fifo)], 64,
             stderr_has=[f"--audit {fifo}: not a regular file"], timeout=10)
        junk = pathlib.Path(tmp) / "junk.elf"
        junk.write_bytes(os.urandom(1000))
        case("not a Multiboot image", [hbvm, "run", str(junk)], 65, stderr_has=["not a Multiboot image"])
        data = pathlib.Path(hello).read_bytes()
        cut = pathlib.Path(tmp) / "cut.elf"
        cut.write_bytes(data[:0x1800])  # the Multiboot header survives, the loaded bytes do not
        case("truncated image", [hbvm, "run", str(cut)], 65, stderr_has=["truncated image"])
        empty = pathlib.Path(tmp) / "empty.elf"
        empty.write_bytes(b"")
        case("empty image", [hbvm, "run", str(empty)], 65, stderr_has=["is empty"])

    # How --accel auto chooses, and what --accel kvm says where it cannot run. KVM is
    # usable when this user can open /dev/kvm read-write, not merely when it exists
    # (a user outside the 'kvm' group sees it but cannot use it).
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        kvm_usable = True
    except OSError as e:
        kvm_usable = False
        kvm_problem = e.errno
    if kvm_usable:
        # Where /dev/kvm works, auto measures which engine is faster and says so.
        code, _, err = run([hbvm, "run", hello])
        line = next((x for x in err.splitlines() if x.startswith("hbvm: accelerator: ")), "")
        ok = code == 0 and "(calibration " in line and (
            line.startswith("hbvm: accelerator: KVM, because it executes guest code here") or
            line.startswith("hbvm: accelerator: software engine (Unicorn), because /dev/kvm "))
        print(("PASS" if ok else "FAIL") + f" auto measures where /dev/kvm works: {line}")
        if not ok:
            failures.append("auto measures where /dev/kvm works")
    elif kvm_problem in (errno.EACCES, errno.EPERM):
        case("auto picks the software engine without permission for /dev/kvm", [hbvm, "run", hello], 0,
             stderr_has=["accelerator: software engine (Unicorn), because no permission to open /dev/kvm"])
        case("--accel kvm without permission for /dev/kvm", [hbvm, "run", hello, "--accel", "kvm"], 74,
             stderr_has=["--accel kvm: no permission to open /dev/kvm", "kvm' group", "use --accel soft"])
    else:
        case("auto picks the software engine without /dev/kvm", [hbvm, "run", hello], 0,
             stderr_has=["accelerator: software engine (Unicorn), because"])
        case("--accel kvm without /dev/kvm", [hbvm, "run", hello, "--accel", "kvm"], 74,
             stderr_has=["--accel kvm: ", "use --accel soft"])
    # Another user, where this test runs as root and can become one: 'nobody',
    # outside the 'kvm' group. The build tree may lie in a folder only root can
    # enter (a clone in /root or in a `mktemp -d` folder, mode 0700), so hbvm and
    # the image are copied to a folder 'nobody' can read first.
    if os.geteuid() == 0:
        with tempfile.TemporaryDirectory(prefix="hbvm-as-nobody-") as shared:
            os.chmod(shared, 0o755)
            nobody_hbvm, nobody_hello = pathlib.Path(shared) / "hbvm", pathlib.Path(shared) / "hello.elf"
            shutil.copy2(hbvm, nobody_hbvm)
            shutil.copy2(hello, nobody_hello)
            nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
            # A sanitizer build reads its suppressions file at start: 'nobody'
            # gets a copy beside the binary, as it gets the binary.
            env = dict(os.environ)
            suppressions = re.search(r"suppressions=([^:]+)", env.get("LSAN_OPTIONS", ""))
            if suppressions and os.path.isfile(suppressions.group(1)):
                copy = pathlib.Path(shared) / "lsan.supp"
                shutil.copy2(suppressions.group(1), copy)
                env["LSAN_OPTIONS"] = env["LSAN_OPTIONS"].replace(suppressions.group(1), str(copy))
            # Whether or not /dev/kvm exists: an unprivileged user runs a guest.
            case("an unprivileged user runs hello on the software engine",
                 [*nobody, nobody_hbvm, "run", nobody_hello, "--accel", "soft"], 0, stdout_has=["Goodbye."], env=env)
            if os.path.exists("/dev/kvm") and not os.stat("/dev/kvm").st_mode & 0o006:
                case("auto without permission for /dev/kvm", [*nobody, nobody_hbvm, "run", nobody_hello], 0,
                     stderr_has=["accelerator: software engine (Unicorn), because no permission to open /dev/kvm"],
                     env=env)
                case("--accel kvm without permission for /dev/kvm",
                     [*nobody, nobody_hbvm, "run", nobody_hello, "--accel", "kvm"], 74,
                     stderr_has=["--accel kvm: no permission to open /dev/kvm", "kvm' group", "use --accel soft"],
                     env=env)
    case("hello", [hbvm, "run", hello, *accel], 0, stderr_has=[accel_line],
         stdout_has=["Hello from a HyperBIOS guest!", "Host: HyperBIOS reference host", "Goodbye."])
    case("hello as ELF64 with address fields", [hbvm, "run", hello + "64", *accel], 0, stdout_has=["Goodbye."])
    case("hello --trace", [hbvm, "run", hello, "--trace", *accel], 0,
         stderr_has=["call 1: console.write(", ": power.shutdown(0x0"])
    case("image too large for --mem", [hbvm, "run", guest("big_bss"), "--mem", "32M", *accel], 65,
         stderr_has=["give it more with --mem"])
    case("image fits larger --mem", [hbvm, "run", guest("big_bss"), "--mem", "64M", *accel], 0)
    case("debug exit port", [hbvm, "run", guest("debug_exit"), *accel], 0x43)
    # The diagnostic names what the accelerator saw: the software engine reports the
    # exception, KVM the triple fault it becomes without a guest IDT.
    case("invalid opcode", [hbvm, "run", guest("crash_invalid_opcode"), *accel], 70,
         stderr_has=["crash_invalid_opcode: executing ud2", "the guest crashed:"])
    case("read outside RAM", [hbvm, "run", guest("crash_unmapped_read"), *accel], 70,
         stderr_has=["read of 8 bytes at 0xc0000000, outside guest RAM", "rax="])
    case("read in the hole below 4 GiB", [hbvm, "run", guest("crash_unmapped_read"), "--mem", "8G", *accel], 70,
         stderr_has=["read of 8 bytes at 0xc0000000, outside guest RAM (8192 MiB: below 0xc0000000 and from "
                     "0x100000000 to 0x240000000)"])
    case("too much --mem", [hbvm, "run", hello, "--mem", "65G"], 64, stderr_has=["between 2M and 64G"])
    case("--mem not a multiple of 4K", [hbvm, "run", hello, "--mem", "8193K"], 64, stderr_has=["multiple of 4K"])
    case("halt forever", [hbvm, "run", guest("halt_forever"), *accel], 71, stderr_has=["with interrupts disabled"])
    case("runaway guest --timeout", [hbvm, "run", guest("spin_forever"), "--timeout", "0.5", *accel], 124,
         stderr_has=["still running after 0.5 s (--timeout)"], timeout=30)
    case("Ctrl-C", [hbvm, "run", guest("spin_forever"), *accel], 130, stderr_has=["stopped by Ctrl-C"],
         timeout=30, signal_after=2)
    case("reboot", [hbvm, "run", guest("reboot_once"), *accel], 7,
         stderr_has=["first boot, rebooting", "guest requested a reboot", "second boot after a reboot"])

    # Disks: as many as a unikernel's test attaches (63), each with a name of up
    # to 32 bytes, the guest sees them all; 257 are more than hbvm takes, and two
    # disks of one name are refused (spec 12.3.1, HB-BLK-011).
    with tempfile.TemporaryDirectory() as tmp:
        disks = []
        for i in range(257):
            path = pathlib.Path(tmp) / f"d{i}.img"
            path.write_bytes(bytes(4096))
            disks += ["--disk", f"{path},name={'n' * 28}{i:04d}"]  # 32 bytes: no room for a NUL
        writer = guest("disk_writer")
        code, out, err = run([hbvm, "run", writer, *accel, *disks[:2 * 63], "--", "5"])
        ok = code == 0 and "count 63" in out.splitlines() and f"device 62 {'n' * 28}0062" in out.splitlines()
        print(f"{'PASS' if ok else 'FAIL'} 63 disks with 32-byte names attach and the guest sees them all")
        if not ok:
            failures.append("63 disks")
            print("  stdout:", out.strip()[-300:], "\n  stderr:", err.strip()[-300:])
        case("257 disks are one too many", [hbvm, "run", writer, *accel, *disks], 64,
             stderr_has=["--disk is given 257 times; hbvm takes at most 256 of them"])
        case("two disks of one name", [hbvm, "run", writer, *accel, "--disk", f"{tmp}/d0.img,name=x", "--disk",
                                       f"{tmp}/d1.img,name=x"], 64,
             stderr_has=["the name 'x' is disk 0's", "give one another name="])
        case("a name of 33 bytes", [hbvm, "run", writer, *accel, "--disk", f"{tmp}/d0.img,name={'n' * 33}"], 64,
             stderr_has=["name= takes 1 to 32 bytes (33 given)"])

    # How the run ended, in a file (spec 8.5): a shutdown with any code told apart
    # from every other end, whatever the exit status.
    with tempfile.TemporaryDirectory() as tmp:
        end_case("end report: shutdown", [hbvm, "run", hello, *accel], 0, "shutdown 0\n", tmp)
        end_case("end report: the debug-exit port", [hbvm, "run", guest("debug_exit"), *accel], 0x43,
                 "shutdown 67\n", tmp)
        end_case("end report: halted for good", [hbvm, "run", guest("halt_forever"), *accel], 71,
                 "halted the guest halted (HLT)", tmp)
        end_case("end report: crashed", [hbvm, "run", guest("crash_invalid_opcode"), *accel], 70, "crashed ", tmp)
        end_case("end report: --timeout", [hbvm, "run", guest("spin_forever"), "--timeout", "0.5", *accel], 124,
                 "stopped ", tmp)
        end_case("end report: Ctrl-C", [hbvm, "run", guest("spin_forever"), *accel], 130, "stopped ", tmp,
                 signal_after=2)
        end_case("end report: a machine that could not start", [hbvm, "run", "/nonexistent/kernel.elf"], 65,
                 "failed hbvm could not run the machine", tmp)
        case("end report in a folder that does not exist",
             [hbvm, "run", hello, "--end-report", str(pathlib.Path(tmp) / "no" / "end.txt")], 64,
             stderr_has=["--end-report ", "cannot create"])

    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
