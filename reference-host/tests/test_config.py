#!/usr/bin/python3
"""The config file (`hbvm run --config FILE`) and the command line give the
same run: a file that sets every option `hbvm --help` lists, and the command
line that says the same, resolve to the same configuration (`--print-config`)
and make the same run (`--trace` and the console, with times and clock readings
masked). The command line overrides the file; a disk path with a comma works
through the file; mistakes name the file, the line and the problem."""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile

failures = []


def report(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"))
    if not ok:
        failures.append(name)


def run(args, cwd=None):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


def help_options(hbvm):
    """The long options `hbvm --help` lists under "Options of run:"."""
    text = run([hbvm, "--help"])[1]
    section = text.split("Options of run:", 1)[1].split("\n\n", 1)[0]
    return sorted(set(re.findall(r"^  --([a-z-]+)", section, re.M)))


def masked(text):
    """A run's output without what differs between two identical runs: times,
    clock readings, the accelerator's calibration, addresses of the host."""
    text = re.sub(r"trace \+[0-9.]+ ms", "trace +T ms", text)
    text = re.sub(r"(time\.(monotonic|wallclock)_ns\([^)]*\) -> SUCCESS, )0x[0-9a-f]+", r"\1CLOCK", text)
    text = re.sub(r"(Wall clock: ).*", r"\1WALL", text)
    text = re.sub(r"(Monotonic clock: )\d+", r"\1MONO", text)
    text = re.sub(r"calibration [0-9.]+ ms[^)]*", "calibration", text)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hbvm", required=True)
    parser.add_argument("--hello", required=True, help="hello.elf")
    a = parser.parse_args()
    hbvm = str(pathlib.Path(a.hbvm).resolve())
    hello = str(pathlib.Path(a.hello).resolve())

    with tempfile.TemporaryDirectory(prefix="hbvm-config-") as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "feed.bin").write_bytes(b"")  # an input feed with no records
        (tmp / "seg").mkdir()  # a network segment nobody else is on
        for name in ("a.img", "b.img", "c,d.img"):
            (tmp / name).write_bytes(bytes(64 << 10))
        # Every option of --help, in the file and on the command line.
        options = {
            "mem": ("64M", ["--mem", "64M"]),
            "accel": ("soft", ["--accel", "soft"]),
            "timeout": ("30", ["--timeout", "30"]),
            "trace": (True, ["--trace"]),
            "stats": (True, ["--stats"]),
            "end-report": ("end.txt", ["--end-report", "end.txt"]),
            "screenshot": ("shot.png", ["--screenshot", "shot.png"]),
            "profile": ("no-reboot", ["--profile", "no-reboot"]),
            "inject-fault": ("console-write-short", ["--inject-fault", "console-write-short"]),
            "control": ("unix:ctl.sock", ["--control", "unix:ctl.sock"]),
            "audit": ("audit.log", ["--audit", "audit.log"]),
        }
        file_only = {"config", "print-config", "help"}
        device_options = {"disk", "display", "input", "input-feed", "net", "audio"}
        listed = set(help_options(hbvm))
        missing = sorted(listed - set(options) - file_only - device_options)
        report("the test sets every option --help lists", not missing and listed,
               f"add {missing} to the test's options (the config file must take them too)")

        lines = [f'image = "{hello}"', 'kernel-arguments = ["x", "two words"]']
        command = [hbvm, "run", hello]
        for key, (value, flags) in options.items():
            lines.append(f"{key} = {'true' if value is True else repr(value).replace(chr(39), chr(34))}")
            command += flags
        lines += ["", "[[disk]]", 'path = "a.img"', "ro = true", 'name = "boot"',
                  "", "[[disk]]", 'path = "b.img"', "sector = 4096",
                  "", "[[display]]", 'backend = "none"', 'width = "640"', 'height = "480"',
                  "", "[[input]]", 'kind = "keyboard"', "", "[[input]]", 'kind = "pointer"',
                  "", "[[input-feed]]", 'path = "feed.bin"',
                  "", "[[net]]", 'backend = "socket:seg"', 'mac = "52:54:00:00:00:0a"', 'pcap = "net.pcap"',
                  "", "[[audio]]", 'backend = "wav:sound.wav"', 'pace = "fast"']
        command += ["--disk", "a.img,ro,name=boot", "--disk", "b.img,sector=4096",
                    "--display", "none,width=640,height=480", "--input", "keyboard", "--input", "pointer",
                    "--input-feed", "feed.bin", "--net", "socket:seg,mac=52:54:00:00:00:0a,pcap=net.pcap",
                    "--audio", "wav:sound.wav,pace=fast"]
        kernel_arguments = ["--", "x", "two words"]
        config = tmp / "vm.toml"
        config.write_text("\n".join(lines) + "\n")

        s1, from_file, e1 = run([hbvm, "run", "--config", config, "--print-config"], cwd=tmp)
        s2, from_line, e2 = run([*command, "--print-config", *kernel_arguments], cwd=tmp)
        report("--print-config is the same from the file and from the command line",
               s1 == 0 and s2 == 0 and from_file == from_line and "[[disk]]" in from_file,
               f"file ({s1}, {e1.strip()}):\n{from_file}\ncommand line ({s2}, {e2.strip()}):\n{from_line}")
        dumped = tmp / "dumped.toml"
        dumped.write_text(from_file)
        s3, again, _ = run([hbvm, "run", "--config", dumped, "--print-config"], cwd=tmp)
        report("the printed configuration read back prints the same", s3 == 0 and again == from_file, again)

        s1, out1, err1 = run([hbvm, "run", "--config", config], cwd=tmp)
        end1 = (tmp / "end.txt").read_text()
        s2, out2, err2 = run([*command, *kernel_arguments], cwd=tmp)
        end2 = (tmp / "end.txt").read_text()
        report("the same run from the file and from the command line (--trace and console, times masked)",
               s1 == s2 == 0 and masked(out1) == masked(out2) and masked(err1) == masked(err2) and end1 == end2
               and "trace +" in err1 and "stats:" in err1,
               f"status {s1}/{s2}\n--- file:\n{masked(err1)}\n--- command line:\n{masked(err2)}")

        # The command line overrides the file.
        s, dump, _ = run([hbvm, "run", "--config", config, "--mem", "32M", "--disk", "b.img", "--print-config"],
                         cwd=tmp)
        report("an option on the command line overrides the file's",
               s == 0 and "mem = 33554432" in dump and "timeout = 30" in dump, dump)
        report("a device option on the command line replaces the file's devices of that kind",
               dump.count("[[disk]]") == 1 and 'path = "b.img"' in dump and 'name = "disk0"' in dump, dump)

        # A comma in a disk path: impossible on the command line, fine in the file.
        comma = tmp / "comma.toml"
        comma.write_text(f'image = "{hello}"\naccel = "soft"\n[[disk]]\npath = "c,d.img"\n')
        s, out, err = run([hbvm, "run", "--config", comma, "--trace"], cwd=tmp)
        report("a disk path with a comma works through the file", s == 0 and "Goodbye." in out, err)
        s, _, err = run([hbvm, "run", hello, "--disk", "c,d.img"], cwd=tmp)
        report("... and the command line says it cannot take one", s == 64 and "cannot contain a comma" in err, err)

        # Mistakes: the file, the line and the problem, status 64.
        for text, expected in (('mem = "lots"\n', "bad.toml:1: mem = lots: expected a number"),
                               ("memory = 1\n", "bad.toml:1: unknown key 'memory'; expected image"),
                               ('\n[[disk]]\npath = "a.img"\nfast = 1\n',
                                "bad.toml:4: [[disk]]: unknown key 'fast'; expected path, ro, name, sector"),
                               ("trace = 3\n", "bad.toml:1: trace = 3: expected true or false"),
                               ("mem = \n", "bad.toml:1:7:"),
                               ('kernel-arguments = "a"\n', "bad.toml:1: kernel-arguments: expected a list"),
                               ('[[disk]]\nro = true\n', "bad.toml:1 [[disk]]: which file?")):
            bad = tmp / "bad.toml"
            bad.write_text(text)
            s, _, err = run([hbvm, "run", hello, "--config", bad], cwd=tmp)
            report(f"a config file with {text.strip()!r}: status 64 and {expected!r}", s == 64 and expected in err, err)
        s, _, err = run([hbvm, "run", "--config", tmp / "nope.toml"], cwd=tmp)
        report("a config file that cannot be read: status 64, named", s == 64 and "nope.toml: cannot read it" in err, err)

    print("all passed" if not failures else f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
