#!/usr/bin/python3
"""End-to-end test of the tar example on the reference host.

Makes small text files (one without a final newline, an empty one, one of
several 512-byte blocks, one whose path is long enough for ustar's prefix
field, a directory and a symbolic link), archives them with GNU tar
(--format=ustar), and boots the tar kernel with the archive as a read-only disk,
with 512- and with 4096-byte sectors. The console (stdout) must list every entry
with its size and show every regular file's contents, exactly as the test put
them in. Then the failures: no disk (exit 2) and a damaged header (exit 1).
"""

import argparse
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import time

LONG_DIRECTORY = "deep/" + "directory-with-a-long-name/" * 4
# (path in the archive, contents; None for a directory, "-> target" for a symbolic link)
ENTRIES = [
    ("hello.txt", "Hello from a tar archive!\n"),
    ("notes/", None),
    ("notes/todo.txt", "1. read a disk through BLOCK\n2. list a tar archive\n3. print its files\n"),
    ("notes/no-newline.txt", "this file does not end with a newline"),
    ("empty.txt", ""),
    ("big.txt", "".join(f"line {i:03d}: the quick brown fox jumps over the lazy dog\n" for i in range(80))),
    ("link-to-hello", "-> hello.txt"),
    (LONG_DIRECTORY + "a-file-whose-path-needs-the-ustar-prefix.txt", "found through the prefix field\n"),
]


def make_archive(work):
    source = work / "files"
    for path, contents in ENTRIES:
        target = source / path
        if contents is None:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if contents.startswith("-> "):
            target.symlink_to(contents[3:])
        else:
            target.write_text(contents)
    archive = work / "archive.tar"
    subprocess.run(["tar", "--format=ustar", "--no-recursion", "-cf", str(archive), "-C", str(source)] +
                   [path.rstrip("/") for path, _ in ENTRIES], check=True)
    # Whole 4096-byte sectors (a disk's size is a number of sectors); tar
    # readers stop at the zero blocks, which the padding only adds to.
    data = archive.read_bytes()
    archive.write_bytes(data + bytes(-len(data) % 4096))
    return archive


def expected_console(sector_size, archive_size):
    lines = [f"tar: device 0, {archive_size // sector_size} sectors of {sector_size} bytes\n"]
    files = total = 0
    for path, contents in ENTRIES:
        if contents is None:
            lines.append(f'directory "{path}", 0 bytes\n')
        elif contents.startswith("-> "):
            lines.append(f'symbolic link "{path}", 0 bytes {contents}\n')
        else:
            size = len(contents.encode())
            files, total = files + 1, total + size
            lines.append(f'file "{path}", {size} bytes\n' + contents + ("" if contents.endswith("\n") or not contents
                                                                         else "\n"))
    lines.append(f"tar: {len(ENTRIES)} entries, {files} files, {total} bytes\n")
    return "".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", required=True, help="the CMake build folder")
    parser.add_argument("--accel", default="soft", choices=["soft", "kvm"],
                        help="accelerator of the reference host (default: %(default)s)")
    args = parser.parse_args()
    build = pathlib.Path(args.build)
    hbvm = [str(build / "bin" / "hbvm"), "run", str(build / "examples" / "tar" / "tar.elf"), "--accel", args.accel,
            "--timeout", "60"]
    problems = []

    def run(extra):
        start = time.monotonic()
        p = subprocess.run(hbvm + extra, capture_output=True, stdin=subprocess.DEVNULL)
        return p, time.monotonic() - start

    with tempfile.TemporaryDirectory(prefix="hyperbios-tar-") as tmp:
        work = pathlib.Path(tmp)
        archive = make_archive(work)
        # The archive is what the test meant: ustar, every entry, the long path
        # split into prefix and name (so the kernel's prefix handling is used).
        with tarfile.open(archive) as t:
            names = [m.name + ("/" if m.isdir() else "") for m in t.getmembers()]
        if names != [path for path, _ in ENTRIES]:
            problems.append(f"GNU tar stored {names}, not the entries the test made")
        if archive.read_bytes()[257:263] != b"ustar\0":
            problems.append("the archive is not in ustar format")

        for sector in (512, 4096):
            disk = f"{archive},ro" + (",sector=4096" if sector == 4096 else "")
            p, seconds = run(["--disk", disk])
            out = p.stdout.decode(errors="replace")
            want = expected_console(sector, archive.stat().st_size)
            print(f"tar, {sector}-byte sectors: exit status {p.returncode}, {seconds:.2f} s")
            if p.returncode != 0:
                problems.append(f"{sector}-byte sectors: exit status {p.returncode}, expected 0")
            if out != want:
                got, exp = out.splitlines(True), want.splitlines(True)
                first = next((i for i, (a, b) in enumerate(zip(got, exp)) if a != b), min(len(got), len(exp)))
                problems.append(f"{sector}-byte sectors: the console differs from the archive's contents at line "
                                f"{first + 1}: got {got[first] if first < len(got) else '(nothing)'!r}, expected "
                                f"{exp[first] if first < len(exp) else '(nothing)'!r}\n--- stderr\n" +
                                p.stderr.decode(errors="replace")[-2000:])

        # No disk: the kernel says what to give it, exit 2.
        p, _ = run([])
        out = p.stdout.decode(errors="replace")
        if p.returncode != 2 or "no BLOCK device: give the host the archive" not in out:
            problems.append(f"without a disk: exit status {p.returncode} (expected 2), console {out!r}")

        # A damaged header (a byte of the second entry's name): refused, exit 1,
        # after the first entry was listed.
        damaged = work / "damaged.tar"
        data = bytearray(archive.read_bytes())
        second = 512 + (len(ENTRIES[0][1]) + 511) // 512 * 512
        data[second] ^= 0x20
        damaged.write_bytes(bytes(data))
        p, _ = run(["--disk", f"{damaged},ro"])
        out = p.stdout.decode(errors="replace")
        if p.returncode != 1 or f"a damaged header at byte {second} (bad checksum)" not in out or \
                'file "hello.txt"' not in out:
            problems.append(f"a damaged header: exit status {p.returncode} (expected 1), console {out!r}")

    if problems:
        for problem in problems:
            print("FAIL:", problem)
        return 1
    print(f"PASS: the tar kernel listed {len(ENTRIES)} entries and printed every file exactly, with 512- and "
          f"4096-byte sectors; it refused a missing disk and a damaged header")
    return 0


if __name__ == "__main__":
    sys.exit(main())
