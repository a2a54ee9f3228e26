#!/usr/bin/python3
"""Boots the guest library's test kernels and checks what they print and how
they end:

  day-one.reference-host  printf, arguments, memory map and two __thread
                          variables on hbvm; exit 0
  day-one.qemu            the same on QEMU (no HyperBIOS host: the debug port)
  day-one.qemu-pvh        the same booted through the PVH note (no image path)
  panic, assert, check    hbvm: "panic: FILE:LINE: ..." and exit status 80
  panic.qemu              QEMU: the same on the debug port, status (80 << 1) | 1
  path-with-space         hbvm with the image at a path holding a space
  foreign-script          hbvm: a kernel linked with a minimal foreign linker
                          script (foreign.ld), without TLS (HYPERBIOS_BOOT_NO_TLS)
  own-note.reference-host  a kernel with ELF notes of its own, linked with
  own-note.qemu           multiboot.ld: its notes are in the image and in a
  own-note.qemu-pvh       PT_NOTE segment (readelf -n), the PVH entry is what
                          QEMU and linux-loader find by their own rules, and
                          it boots on hbvm, on QEMU through Multiboot and on
                          QEMU through the PVH note
  default-handler.soft    hbvm: a kernel's own default exception handler
  default-handler.kvm     (interrupts::set_default_handler) takes the vectors
                          without a handler of their own and ends the run with
                          the kernel's exit code 42; on KVM where /dev/kvm opens
  default-handler.built-in  set_default_handler(nullptr) brings back the
                          built-in report and exit code 70
  c-boot-library.soft     hbvm: a C kernel on libhyperbios-boot.a gets its
  c-boot-library.kvm      arguments as one unquoted string and its own #DE and
                          default handlers (boot/hyperbios_boot.h), exit 43
  c-netstack.soft         hbvm: a C kernel on libhyperbios-net.a sends a UDP
                          broadcast on a socket segment; the capture holds it

Exit status 0 when every check holds, 1 otherwise, 77 (skipped) when the host
writes a command line the guest cannot split (see path-with-space) or /dev/kvm
cannot be opened (the KVM cases)."""

import argparse
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "examples"))
from example_tests import kvm_problem  # noqa: E402  (shared with the examples' tests)

SCRIPTS = pathlib.Path(__file__).resolve().parents[3] / "scripts"
PANIC_EXIT_CODE = 80  # hyperbios::panic_exit_code (print.hpp)
SKIPPED = 77


class Checks:
    def __init__(self, output):
        self.output = output
        self.problems = []

    def expect(self, condition, message):
        if not condition:
            self.problems.append(message)

    def line(self, text):
        """The whole line `text` must be in the output."""
        self.expect(text in self.output.splitlines(), f"missing line: {text!r}")

    def lines_in_order(self, texts):
        """Each whole line of `texts` in the output, in that order."""
        lines = self.output.splitlines()
        at = 0
        for text in texts:
            try:
                at = lines.index(text, at) + 1
            except ValueError:
                self.problems.append(f"missing line, or out of order: {text!r}")
                return


def run(command):
    proc = subprocess.run(command, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL,
                          timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def hbvm(build, image, arguments=(), accel="soft"):
    command = [str(build / "bin" / "hbvm"), "run", str(image), "--timeout", "60", "--accel", accel]
    if arguments:
        command += ["--", *arguments]
    return run(command)


def qemu(image, append=""):
    return run([str(SCRIPTS / "run-on-qemu"), str(image), "--timeout", "60", "--append", append])


def check_formats(c):
    c.line("format: [-42] [17] [4000000000] [beef] [BEEF] [k] [text] [%]")
    c.line("format: [     123] [123     ] [-0000123] [abc] [ab    ] [    ab]")
    c.line("format: [-9000000000] [18446744073709551615] [24] [0xfedcba9876543210] [0x100000] [(nil)]")
    c.line("format: snprintf kept [truncat] needed 14")
    c.line("format: long [" + " " * 297 + "end]")


def check_thread_locals(c):
    c.line("tls: initialised 0x5eed0123456789ab zeroed 0")
    c.line("tls: after a write to zeroed: initialised 0x5eed0123456789ab zeroed 0x7")
    c.line("tls: distinct yes, below the thread pointer yes")


def check_memory_map(c, host_present):
    regions = [tuple(int(v, 16) if i < 2 else int(v) for i, v in enumerate(m))
               for m in re.findall(r"^memory: base (0x[0-9a-f]+) length (0x[0-9a-f]+) type (\d+)$", c.output, re.M)]
    count = re.search(r"^memory: (\d+) regions, ram end (0x[0-9a-f]+|0)$", c.output, re.M)
    c.expect(count and int(count.group(1)) == len(regions) > 0, "memory region count missing or wrong")
    c.expect([r[0] for r in regions] == sorted(r[0] for r in regions), "memory map not sorted by base")
    usable = [r for r in regions if r[2] == 1]
    c.expect(any(b <= 0x100000 < b + n for b, n, _ in usable), "no usable region holds 1 MiB, where the kernel is")
    if count and usable:
        c.expect(int(count.group(2), 16) == max(b + n for b, n, _ in usable), "ram end is not the top of usable RAM")
    if host_present:  # hbvm's map, as reference-host/core/multiboot_loader.cpp writes it (128 MiB of RAM)
        c.expect(len(regions) == 5 and regions[-1][0] + regions[-1][1] == 128 << 20,
                 "hbvm's five regions up to 128 MiB not seen")


def check_arguments(c, image_path, arguments, key_value, flag):
    c.line(f"arguments: image path [{image_path}]")
    c.line(f"arguments: count {len(arguments)}")
    for i, a in enumerate(arguments):
        c.line(f"arguments: {i} [{a}]")
    c.line(f"arguments: value of key [{key_value}]")
    c.line(f"arguments: contains flag {'yes' if flag else 'no'}")


def day_one(build, target):
    pvh = target == "qemu-pvh"
    kernel = build / "include" / "hyperbios" / "tests" / ("day_one_kernel_pvh.elf" if pvh else "day_one_kernel.elf")
    # hbvm quotes each argument as GRUB does ("two words" stays one word); QEMU's
    # -append passes the text as it is, so the quotes are written here.
    given = ["alpha", '"two words"', "key=value", "flag", "then=exit"]
    if target == "reference-host":
        status, out = hbvm(build, kernel, ["alpha", "two words", "key=value", "flag", "then=exit"])
    else:
        status, out = qemu(kernel, " ".join(given))
    c = Checks(out)
    present = target == "reference-host"
    c.line(f"day-one: host {'HyperBIOS' if present else 'none'}")
    check_formats(c)
    check_arguments(c, "" if pvh else str(kernel), ["alpha", "two words", "key=value", "flag", "then=exit"], "value",
                    True)
    c.line("arguments: text [" + " ".join(given) + "]")
    # The words without the loader's quoting, one space apart (kernel_arguments::joined).
    c.line("arguments: joined [alpha two words key=value flag then=exit]")
    check_memory_map(c, present)
    check_thread_locals(c)
    c.line("day-one: done")
    expected = 0 if present else (3 << 1) | 1
    c.expect(status == expected, f"exit status {status}, expected {expected}")
    return c


def stop(build, how, target):
    kernel = build / "include" / "hyperbios" / "tests" / "day_one_kernel.elf"
    if target == "reference-host":
        status, out = hbvm(build, kernel, [f"then={how}"])
        expected = PANIC_EXIT_CODE
    else:
        status, out = qemu(kernel, f"then={how}")
        expected = (PANIC_EXIT_CODE << 1) | 1
    c = Checks(out)
    source = r"\S*day_one_kernel\.cpp:\d+"
    message = {
        "panic": r"stopped on request with 3 reasons",
        "assert": r"assertion failed: boot\.arguments\(\)\.size\(\) == 0",
        "check": r"check failed: the memory map is empty",
    }[how]
    c.expect(re.search(rf"^panic: {source}: {message}$", out, re.M), f"no line 'panic: FILE:LINE: {message}'")
    c.expect("day-one: done" not in out, "the kernel went on after the panic")
    c.expect(status == expected, f"exit status {status}, expected {expected} (panic_exit_code)")
    return c


def path_with_space(build):
    kernel = build / "include" / "hyperbios" / "tests" / "day_one_kernel.elf"
    with tempfile.TemporaryDirectory(prefix="hyperbios ") as folder:
        spaced = pathlib.Path(folder) / "kernel with spaces.elf"
        shutil.copyfile(kernel, spaced)
        status, out = hbvm(build, spaced, ["first", "key=value"])
        c = Checks(out)
        raw_path = re.search(r"^arguments: image path \[(.*)\]$", out, re.M)
        if raw_path and raw_path.group(1) != str(spaced) and str(spaced).startswith(raw_path.group(1) + " "):
            # The guest took the path's first word: the host wrote the path bare.
            print(f"SKIP: hbvm wrote the image path {str(spaced)!r} without quotes, so no guest can tell where it "
                  "ends (reference-host/cli/main.cpp joins path and arguments with spaces); quoting it as GRUB "
                  "does makes this test check it")
            return None
        check_arguments(c, str(spaced), ["first", "key=value"], "value", False)
        c.expect(status == 0, f"exit status {status}, expected 0")
        return c


def foreign_script(build):
    kernel = build / "include" / "hyperbios" / "tests" / "foreign_script_kernel.elf"
    status, out = hbvm(build, kernel)
    c = Checks(out)
    c.line("foreign-script: host HyperBIOS, vendor [HyperBIOSRef]")
    for what in ("detect() cached", "library state in .bss", "IDT in .bss", "debug channel chosen"):
        c.line(f"foreign-script: {what} yes")
    c.line("foreign-script: no TLS set up (FS base 0)")
    c.line("foreign-script: debug port works")
    c.line("foreign-script: done")
    c.expect(status == 0, f"exit status {status}, expected 0")
    return c


PT_LOAD, PT_NOTE = 1, 4
XEN_ELFNOTE_PHYS32_ENTRY = 18


def program_headers(image):
    """(type, offset, vaddr, filesz, align) of each program header of an ELF32 or ELF64 file, in order."""
    elf64 = image[4] == 2
    if elf64:
        phoff, = struct.unpack_from("<Q", image, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", image, 0x36)
    else:
        phoff, = struct.unpack_from("<I", image, 0x1C)
        phentsize, phnum = struct.unpack_from("<HH", image, 0x2A)
    headers = []
    for i in range(phnum):
        at = phoff + i * phentsize
        if elf64:
            p_type, _, offset, vaddr, _, filesz, _, align = struct.unpack_from("<IIQQQQQQ", image, at)
        else:
            p_type, offset, vaddr, _, filesz, _, _, align = struct.unpack_from("<IIIIIIII", image, at)
        headers.append((p_type, offset, vaddr, filesz, align))
    return headers


def pvh_entry_as_qemu_finds_it(image):
    """QEMU's load_elf (hw/core/loader.c, include/hw/elf_ops.h): in each PT_NOTE segment the first note
    whose type is 18, whatever its owner, with names and descriptors padded to the segment's p_align;
    the descriptor is 8 bytes in an ELF64 file, 4 in an ELF32 one; a later segment's find replaces an
    earlier one's."""
    found = None
    for p_type, offset, _, filesz, align in program_headers(image):
        if p_type != PT_NOTE or filesz == 0:
            continue
        align = max(align, 1)
        at, end = offset, offset + filesz
        while at + 12 <= end:
            name_size, descriptor_size, note_type = struct.unpack_from("<III", image, at)
            padded_name = (name_size + align - 1) // align * align
            if note_type == XEN_ELFNOTE_PHYS32_ENTRY:
                found = struct.unpack_from("<Q" if image[4] == 2 else "<I", image, at + 12 + padded_name)[0]
                break
            at += 12 + padded_name + (descriptor_size + align - 1) // align * align
    return found


def notes_by_segment(image):
    """[(owner, type, descriptor offset)] of each PT_NOTE segment, in program header order, read
    with 4-byte padding as the ELF specification and linux-loader read notes."""
    segments = []
    for p_type, offset, _, filesz, _ in program_headers(image):
        if p_type != PT_NOTE:
            continue
        notes = []
        at, end = offset, offset + filesz
        while at + 12 <= end:
            name_size, descriptor_size, note_type = struct.unpack_from("<III", image, at)
            owner = image[at + 12:at + 12 + name_size].rstrip(b"\0").decode(errors="replace")
            descriptor = at + 12 + (name_size + 3) // 4 * 4
            notes.append((owner, note_type, descriptor))
            at = descriptor + (descriptor_size + 3) // 4 * 4
        segments.append(notes)
    return segments


def pvh_entry_as_linux_loader_finds_it(image):
    """rust-vmm linux-loader (Firecracker, cloud-hypervisor): each PT_NOTE segment is searched for a
    note of type 18 named "Xen"; the LAST PT_NOTE segment's answer stands, even when it found
    nothing; the low 4 bytes of the descriptor."""
    found = None
    for notes in notes_by_segment(image):
        found = next((struct.unpack_from("<I", image, descriptor)[0] for owner, note_type, descriptor in notes
                      if owner == "Xen" and note_type == XEN_ELFNOTE_PHYS32_ENTRY), None)
    return found


def symbol_address(elf, name):
    nm = subprocess.run(["nm", str(elf)], capture_output=True, text=True, check=True).stdout
    found = re.search(rf"^([0-9a-f]+) \w {re.escape(name)}$", nm, re.M)
    return int(found.group(1), 16) if found else None


def check_own_notes(c, kernel):
    """The notes of own_note_kernel, read from its files as readelf and the loaders read them."""
    entry = symbol_address(kernel.with_suffix(".elf64"), "hyperbios_boot_pvh_entry32")
    for image in (kernel.with_suffix(".elf64"), kernel):
        data = image.read_bytes()
        readelf = subprocess.run(["readelf", "-nW", str(image)], capture_output=True, text=True).stdout
        c.expect(re.search(r"^\s+Example\s+0x00000010\s.*0x3154464d", readelf, re.M),
                 f"{image.name}: readelf -n does not show the manifest note (owner Example, 16 bytes, type 0x3154464d)")
        c.expect(re.search(r"^\s+Example\s+0x00000008\s.*0x00000012", readelf, re.M),
                 f"{image.name}: readelf -n does not show the other Example note (type 18)")
        in_segments = {(owner, note_type) for notes in notes_by_segment(data) for owner, note_type, _ in notes}
        for note in (("Example", 0x3154464D), ("Example", XEN_ELFNOTE_PHYS32_ENTRY), ("Xen", XEN_ELFNOTE_PHYS32_ENTRY)):
            c.expect(note in in_segments, f"{image.name}: no PT_NOTE segment holds the note {note}")
        headers = program_headers(data)
        loads = [(vaddr, vaddr + filesz) for t, _, vaddr, filesz, _ in headers if t == PT_LOAD]
        for t, _, vaddr, filesz, _ in headers:
            if t == PT_NOTE and filesz:
                c.expect(any(start <= vaddr and vaddr + filesz <= end for start, end in loads),
                         f"{image.name}: the PT_NOTE segment at {vaddr:#x} lies outside what the loader loads")
        for loader, find in (("QEMU", pvh_entry_as_qemu_finds_it), ("linux-loader", pvh_entry_as_linux_loader_finds_it)):
            got = find(data)
            c.expect(got == entry, f"{image.name}: {loader} would take {got and hex(got)} for the PVH entry, "
                                   f"not hyperbios_boot_pvh_entry32 at {entry and hex(entry)}")


def own_note(build, target):
    pvh_only = target == "qemu-pvh"
    kernel = build / "include" / "hyperbios" / "tests" / ("own_note_kernel_pvh.elf" if pvh_only else "own_note_kernel.elf")
    if target == "reference-host":
        status, out = hbvm(build, kernel)
    else:
        status, out = qemu(kernel)
    c = Checks(out)
    c.line(f"own-note: booted through {'PVH' if pvh_only else 'Multiboot'}")
    c.line("own-note: manifest in memory: owner [Example] type 0x3154464d, 16 bytes: [disk0] [net0]")
    c.line("own-note: done")
    expected = 0 if target == "reference-host" else (3 << 1) | 1
    c.expect(status == expected, f"exit status {status}, expected {expected}")
    if kernel.exists():
        check_own_notes(c, kernel)
    return c


def default_handler(build, variant):
    kernel = build / "include" / "hyperbios" / "tests" / "default_handler_kernel.elf"
    accel = "kvm" if variant == "kvm" else "soft"
    if accel == "kvm" and kvm_problem():
        print(f"SKIP: {kvm_problem()}")
        return None
    built_in = variant == "built-in"
    status, out = hbvm(build, kernel, ["then=built-in"] if built_in else [], accel)
    c = Checks(out)
    c.lines_in_order([
        "default-handler: the kernel's handler: vector 0 (#DE divide error), error code 0",
        "default-handler: the kernel's handler: vector 14 (#PF page fault), error code 0",
        "default-handler: the kernel's handler: vector 13 (#GP general protection), error code 0",
        "default-handler: vector 6's own handler",
        "default-handler: the kernel's handler: vector 6 (#UD invalid opcode), error code 0",
        "default-handler: resumed after each",
    ])
    if built_in:
        c.line("default-handler: built-in handler restored")
        c.expect(re.search(r"^HyperBIOS boot stub: unhandled CPU exception 6 \(#UD invalid opcode\) at RIP 0x[0-9a-f]+, "
                           r".*shutting down with exit code 70$", out, re.M),
                 "no report from the built-in handler")
        c.expect("shuts down with 42" not in out, "the kernel's handler ran after set_default_handler(nullptr)")
        expected = 70
    else:
        c.line("default-handler: the kernel's handler shuts down with 42")
        c.expect("unhandled CPU exception" not in out, "the built-in handler ran although the kernel replaced it")
        expected = 42
    c.expect("still running" not in out, "the last ud2 did not end the run")
    c.expect(status == expected, f"exit status {status}, expected {expected}")
    return c


def c_boot_library(build, accel):
    if accel == "kvm" and kvm_problem():
        print(f"SKIP: {kvm_problem()}")
        return None
    kernel = build / "include" / "hyperbios" / "tests" / "c_boot_library_kernel.elf"
    status, out = hbvm(build, kernel, ["alpha", "two words", 'say "hi"', "a\\b"], accel)
    c = Checks(out)
    c.lines_in_order([
        'c-boot-library: arguments joined [alpha two words say "hi" a\\b]',
        "c-boot-library: vector 0's own handler: #DE divide error",
        "c-boot-library: resumed after #DE",
        "c-boot-library: the kernel's default handler: #UD invalid opcode; shutting down with 43",
    ])
    c.expect("unhandled CPU exception" not in out, "the built-in handler ran although the kernel replaced it")
    c.expect("still running" not in out, "ud2 did not end the run")
    c.expect(status == 43, f"exit status {status}, expected 43")
    return c


def c_netstack(build):
    """A C kernel on libhyperbios-net.a sends a UDP broadcast on a socket
    segment; the interface's capture must hold it."""
    kernel = build / "include" / "hyperbios" / "tests" / "c_netstack_kernel.elf"
    with tempfile.TemporaryDirectory(prefix="c-netstack-") as tmp:
        capture = pathlib.Path(tmp) / "net0.pcap"
        status, out = run([str(build / "bin" / "hbvm"), "run", str(kernel), "--timeout", "60", "--accel", "soft",
                           "--net", f"socket:{tmp},pcap={capture}"])
        data = capture.read_bytes() if capture.exists() else b""
    c = Checks(out)
    c.line("c-netstack: 10.0.0.2 sent a broadcast")
    c.expect(b"hello from C" in data and b"\xff\xff\xff\xff\xff\xff" in data,
             f"the capture ({len(data)} bytes) holds no broadcast with the datagram")
    c.expect(status == 0, f"exit status {status}, expected 0")
    return c


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=["day-one.reference-host", "day-one.qemu", "day-one.qemu-pvh", "panic",
                                         "assert", "check", "panic.qemu", "path-with-space", "foreign-script",
                                         "default-handler.soft", "default-handler.kvm", "default-handler.built-in",
                                         "own-note.reference-host", "own-note.qemu", "own-note.qemu-pvh",
                                         "c-boot-library.soft", "c-boot-library.kvm", "c-netstack.soft"])
    parser.add_argument("--build", required=True, type=pathlib.Path, help="the CMake build folder")
    args = parser.parse_args()
    if args.case.startswith("day-one."):
        c = day_one(args.build, args.case.split(".", 1)[1])
    elif args.case in ("panic", "assert", "check"):
        c = stop(args.build, args.case, "reference-host")
    elif args.case == "panic.qemu":
        c = stop(args.build, "panic", "qemu")
    elif args.case == "path-with-space":
        c = path_with_space(args.build)
    elif args.case.startswith("own-note."):
        c = own_note(args.build, args.case.split(".", 1)[1])
    elif args.case == "c-netstack.soft":
        c = c_netstack(args.build)
    elif args.case.startswith("c-boot-library."):
        c = c_boot_library(args.build, args.case.split(".", 1)[1])
    elif args.case.startswith("default-handler."):
        c = default_handler(args.build, args.case.split(".", 1)[1])
    else:
        c = foreign_script(args.build)
    if c is None:
        return SKIPPED
    if c.problems:
        for p in c.problems:
            print("FAIL:", p)
        print("--- output\n" + c.output)
        return 1
    print(f"PASS: {args.case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
