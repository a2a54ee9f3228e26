#!/usr/bin/python3
"""Runs the reference host's end-to-end tests on one accelerator and prints each
result and a summary: the command-line, robustness, event, control-socket and
high-memory tests, displays and input (no X server here: its root is read-only),
hello, ticker, the C kernel, the conformance suite and its mutation test.
The nested-KVM lane runs this inside its VM with --accel kvm; the expectations
are the ones the software engine meets.

Exit status: 0 when every test passed, 1 otherwise."""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "conformance"))
import conform  # noqa: E402  (HBVM_PLACES)
# Faults whose effect goes through the accelerator: registers written back, a
# port exit decoded, guest memory written, interrupts raised (or refused by the
# IDT), timing. Not evt-shadow-ignored: it lives in the software engine alone
# (its description says so, and mutation-test leaves such faults out on KVM).
KVM_FAULTS = ("clobbers-rsi,string-element-is-a-call,stray-write,evt-timer-early,evt-wrong-vector,evt-mask-ignored,"
              "evt-event-error-code-no-ext,evt-spurious-interrupt,evt-vector-zero-ignored")
# The images that catch them (calling: registers and the gate; base: stray
# writes; evt: delivery): booting only these keeps the lane's minutes down.
KVM_FAULT_IMAGES = ("calling", "base", "evt")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", required=True, help="the CMake build folder")
    parser.add_argument("--accel", required=True, choices=["soft", "kvm"])
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    python = sys.executable or "/usr/bin/python3"
    hbvm = build / "bin" / "hbvm"
    results = tempfile.mkdtemp(prefix=f"conformance-{args.accel}-")  # the build tree may be read-only here
    tests = [
        ("host.e2e.cli", [python, ROOT / "reference-host/tests/test_cli.py", "--hbvm", hbvm,
                          "--guests", build / "reference-host/tests/guests",
                          "--hello", build / "examples/hello/hello.elf", "--accel", args.accel]),
        ("host.e2e.robustness", [python, ROOT / "reference-host/tests/test_host_robustness.py", "--hbvm", hbvm,
                                 "--guests", build / "reference-host/tests/guests",
                                 "--hello", build / "examples/hello/hello.elf",
                                 "--conformance-images", build / "conformance/images", "--accel", args.accel]),
        ("host.e2e.fidelity", [python, ROOT / "reference-host/tests/test_engine_fidelity.py", "--hbvm", hbvm,
                               "--guests", build / "reference-host/tests/guests", "--accel", args.accel]),
        ("host.e2e.events", [python, ROOT / "reference-host/tests/test_events.py", "--hbvm", hbvm,
                             "--guests", build / "reference-host/tests/guests", "--accel", args.accel]),
        ("host.e2e.high-memory", [python, ROOT / "reference-host/tests/test_high_memory.py", args.accel,
                                  "--hbvm", hbvm, "--guests", build / "reference-host/tests/guests"]),
        ("host.e2e.control", [python, ROOT / "reference-host/tests/test_control.py", "--hbvm", hbvm,
                              "--hbvm-ctl", build / "bin" / "hbvm-ctl",
                              "--guests", build / "reference-host/tests/guests", "--accel", args.accel]),
        ("host.e2e.display", [python, ROOT / "reference-host/tests/test_display.py", "--hbvm", hbvm,
                              "--hbvm-ctl", build / "bin" / "hbvm-ctl",
                              "--guests", build / "reference-host/tests/guests", "--accel", args.accel]),
        ("host.unit.injection", [build / "reference-host/tests/hbvm_unit_tests",
                                 "--gtest_filter=AcceleratorInjection.*"]),
        ("example.hello.reference-host", [python, ROOT / "examples/hello/test_hello.py", "reference-host",
                                          "--build", build, "--accel", args.accel]),
        ("example.ticker.reference-host", [python, ROOT / "examples/ticker/test_ticker.py", "reference-host",
                                           "--build", build, "--accel", args.accel]),
        ("example.c_kernel.reference-host", [python, ROOT / "examples/c_kernel/test_c_kernel.py", "reference-host",
                                             "--build", build, "--accel", args.accel]),
        ("conformance.reference-host", [python, ROOT / "conformance/hyperbios-conform",
                                        "--images", build / "conformance/images", "--out", results,
                                        "--profile", "full",
                                        "--host", f"{hbvm} run {{image}} --accel {args.accel} --timeout 120 "
                                                  f"{conform.HBVM_PLACES}"]),
        # The restricted built-in profiles, certified against their own claims
        # (reference-host/profiles/README.md): a disk window, a rate limit, a RAM
        # cap, a refused reboot and services left out behave on KVM as on the
        # software engine.
        *[(f"conformance.reference-host.{name}",
           [python, ROOT / "conformance/hyperbios-conform", "--images", build / "conformance/images",
            "--out", pathlib.Path(results) / name, "--profile", name,
            "--host", f"{hbvm} run {{image}} --accel {args.accel} --timeout 120 --profile {name} "
                      f"{conform.HBVM_PLACES}"]) for name in ("ps3", "minimal", "no-reboot")],
        # On KVM only the faults whose effect goes through the accelerator (register
        # and memory writes, port-exit decoding, reboot, interrupt delivery, timing):
        # the rest are host logic the soft run proves, and the whole list under
        # emulated KVM took most of this lane's 14 minutes.
        ("conformance.mutation", [python, ROOT / "conformance/mutation-test", "--hbvm", hbvm,
                                  "--images", build / "conformance/images", "--accel", args.accel, "--timeout", "60",
                                  *(["--faults", KVM_FAULTS, "--no-verdict-holes",
                                     *[f"--only={image}" for image in KVM_FAULT_IMAGES]] if args.accel == "kvm" else [])]),
    ]
    results = []
    for name, command in tests:
        print(f"=== {name} ({args.accel})", flush=True)
        start = time.monotonic()
        env = dict(os.environ, HBVM_TEST_ACCEL=args.accel)  # the accelerator tests take theirs from here
        code = subprocess.run([str(c) for c in command], env=env).returncode
        results.append((name, code, time.monotonic() - start))
        print(f"=== {name} ({args.accel}): {'PASS' if code == 0 else f'FAIL (exit {code})'}", flush=True)
    print(f"=== end-to-end tests on {args.accel}:")
    for name, code, seconds in results:
        print(f"  {'PASS' if code == 0 else 'FAIL'}  {name:34} {seconds:7.1f} s")
    failed = sum(1 for _, code, _ in results if code)
    print(f"E2E SUMMARY ({args.accel}): {len(results) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
