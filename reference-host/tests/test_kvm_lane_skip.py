#!/usr/bin/python3
"""Tests how scripts/nested-kvm ends when this machine cannot provide the kernel
for its outer VM, without booting anything:

  - APT cannot reach its mirror, APT is missing, the kernel package named by
    NESTED_KVM_KERNEL does not exist: exit SKIP (77) with one line naming the
    problem and how to pre-fetch the kernel -- and 125 (a failure) under CI=true;
  - --fetch-only never skips: it fails when it cannot fetch;
  - a kernel already in the work folder (build/nested-kvm/kernel), a package
    given with --kernel and an unpacked kernel tree are used with APT unreachable;
  - every ctest test that runs through scripts/nested-kvm has SKIP_RETURN_CODE 77,
    so ctest reports the skip as skipped, not failed.

APT is made unreachable with a private APT_CONFIG whose proxy is a closed local
port; APT is made absent with a PATH that holds stand-ins for everything the
lane checks for except apt-get and apt-cache.

Exit status: 0 when every case passed, 1 otherwise."""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

FAILED = 125  # the script's LANE_FAILED
REMEDY_WORDS = ["--fetch-only", "NESTED_KVM_KERNEL", "--kernel"]
FAKE_VERSION = "9.9.9-lane-test"

failures = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"\n      {detail}" if not ok and detail else ""), flush=True)
    if not ok:
        failures.append(name)


def run_script(script, args, env_changes, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NESTED_KVM_KERNEL")}
    env.update(env_changes)
    return subprocess.run([sys.executable, str(script), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def lane_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith("nested-kvm: ")]


def expect_skip(name, result, skip_code, problem_words):
    """Exit skip_code, and exactly one SKIPPED line naming the problem and the remedy."""
    reports = [l for l in lane_lines(result.stderr) if "SKIPPED" in l or "FAILED" in l]
    line = reports[0] if reports else ""
    missing = [w for w in problem_words + REMEDY_WORDS if w not in line]
    check(f"{name}: skipped (exit {skip_code})", result.returncode == skip_code,
          f"exit {result.returncode}; stderr: {result.stderr.strip()}")
    check(f"{name}: one line with the problem and how to pre-fetch the kernel",
          len(reports) == 1 and line.startswith("nested-kvm: SKIPPED: ") and not missing,
          f"missing {missing} in {reports}")


def expect_ci_failure(name, result):
    reports = [l for l in lane_lines(result.stderr) if "SKIPPED" in l or "FAILED" in l]
    check(f"{name} under CI=true: failed (exit {FAILED}), not skipped", result.returncode == FAILED,
          f"exit {result.returncode}; stderr: {result.stderr.strip()}")
    check(f"{name} under CI=true: the line says CI forbids the skip",
          len(reports) == 1 and reports[0].startswith("nested-kvm: FAILED: ") and "CI is set" in reports[0],
          f"{reports}")


def fake_kernel_tree(root):
    """An unpacked kernel as the lane expects one: boot/vmlinuz-V and lib/modules/V (empty)."""
    (root / "boot").mkdir(parents=True)
    (root / "boot" / f"vmlinuz-{FAKE_VERSION}").write_bytes(b"not a kernel")
    (root / "lib" / "modules" / FAKE_VERSION / "kernel").mkdir(parents=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", required=True, help="scripts/nested-kvm")
    parser.add_argument("--build", required=True, help="the CMake build folder, whose ctest tests are checked")
    parser.add_argument("--skip-code", type=int, required=True, help="the SKIP_RETURN_CODE the tests use")
    args = parser.parse_args()
    script = pathlib.Path(args.script).resolve()
    skip = args.skip_code

    with tempfile.TemporaryDirectory(prefix="kvm-lane-skip-") as tmp:
        tmp = pathlib.Path(tmp)
        apt_conf = tmp / "apt-unreachable.conf"
        apt_conf.write_text('Acquire::http::Proxy "http://127.0.0.1:9/";\n'
                            'Acquire::https::Proxy "http://127.0.0.1:9/";\n'
                            'Acquire::Retries "0";\n')
        unreachable = {"APT_CONFIG": str(apt_conf)}
        command = ["--", "true"]

        # No network: APT cannot download the package.
        for ci in ({}, {"CI": "true"}):
            work = tempfile.mkdtemp(dir=tmp)
            r = run_script(script, ["--work", work, *command], {**unreachable, **ci}, tmp)
            if ci:
                expect_ci_failure("mirror unreachable", r)
            else:
                # APT names the package from its local lists, then fails to fetch it; on a machine
                # without lists it cannot even name it. Either way the line says "kernel package".
                expect_skip("mirror unreachable", r, skip, ["kernel package"])
            check(f"mirror unreachable{' (CI)' if ci else ''}: the work folder holds no half-unpacked kernel",
                  not (pathlib.Path(work) / "kernel" / ".unpacked").exists())

        # No APT at all: stand-ins for the tools the lane checks before the kernel.
        bin_dir = tmp / "bin-without-apt"
        bin_dir.mkdir()
        for tool in ("qemu-system-x86_64", "depmod", "cpio", "dpkg-deb"):
            (bin_dir / tool).write_text("#!/bin/sh\nexit 1\n")
            (bin_dir / tool).chmod(0o755)
        for ci in ({}, {"CI": "true"}):
            r = run_script(script, ["--work", tempfile.mkdtemp(dir=tmp), *command], {"PATH": str(bin_dir), **ci}, tmp)
            if ci:
                expect_ci_failure("no APT", r)
            else:
                expect_skip("no APT", r, skip, ["apt-cache not found"])

        # A kernel package that does not exist, named the way the ctest lane is told.
        missing_deb = tmp / "nowhere" / "linux-image-6.1.0-99-amd64_6.1.999-1_amd64.deb"
        for ci in ({}, {"CI": "1"}):
            r = run_script(script, ["--work", tempfile.mkdtemp(dir=tmp), *command],
                           {"NESTED_KVM_KERNEL": str(missing_deb), **unreachable, **ci}, tmp)
            if ci:
                expect_ci_failure("missing kernel package", r)
            else:
                expect_skip("missing kernel package", r, skip, [str(missing_deb), "does not exist"])

        # --fetch-only is asked for explicitly: it fails, never skips.
        r = run_script(script, ["--work", tempfile.mkdtemp(dir=tmp), "--fetch-only"], unreachable, tmp)
        check(f"--fetch-only with the mirror unreachable: failed (exit {FAILED})", r.returncode == FAILED,
              f"exit {r.returncode}; stderr: {r.stderr.strip()}")

        # CI=false is not CI.
        r = run_script(script, ["--work", tempfile.mkdtemp(dir=tmp), *command],
                       {"NESTED_KVM_KERNEL": str(missing_deb), "CI": "false", **unreachable}, tmp)
        check("CI=false: skipped as outside CI", r.returncode == skip, f"exit {r.returncode}")

        # The cache in the work folder serves with APT unreachable.
        cached = tmp / "cached-work"
        fake_kernel_tree(cached / "kernel")
        (cached / "kernel" / "lib" / "modules" / FAKE_VERSION / "modules.dep").write_text("")
        (cached / "kernel" / ".unpacked").write_text(FAKE_VERSION + "\n")
        r = run_script(script, ["--work", str(cached), "--fetch-only"], unreachable, tmp)
        check("a kernel already in the work folder is used offline",
              r.returncode == 0 and f"vmlinuz-{FAKE_VERSION}" in r.stderr and "downloading" not in r.stderr,
              f"exit {r.returncode}; stderr: {r.stderr.strip()}")

        # An unpacked kernel tree given with --kernel is used in place.
        r = run_script(script, ["--work", tempfile.mkdtemp(dir=tmp), "--fetch-only", "--kernel",
                                str(cached / "kernel")], unreachable, tmp)
        check("an unpacked kernel given with --kernel is used offline",
              r.returncode == 0 and str(cached / "kernel" / "boot" / f"vmlinuz-{FAKE_VERSION}") in r.stderr,
              f"exit {r.returncode}; stderr: {r.stderr.strip()}")

        # A package downloaded elsewhere, given with NESTED_KVM_KERNEL, is unpacked and indexed offline.
        if shutil.which("dpkg-deb") and shutil.which("depmod"):
            package = tmp / "package"
            fake_kernel_tree(package)
            (package / "DEBIAN").mkdir()
            (package / "DEBIAN" / "control").write_text(
                f"Package: linux-image-{FAKE_VERSION}\nVersion: 1\nArchitecture: amd64\n"
                "Maintainer: test <test@example.org>\nDescription: a stand-in kernel package\n")
            deb = tmp / f"linux-image-{FAKE_VERSION}_1_amd64.deb"
            subprocess.run(["dpkg-deb", "-b", str(package), str(deb)], check=True, capture_output=True)
            work = pathlib.Path(tempfile.mkdtemp(dir=tmp))
            r = run_script(script, ["--work", str(work), "--fetch-only"],
                           {"NESTED_KVM_KERNEL": str(deb), **unreachable}, tmp)
            unpacked = work / "kernel"
            check("a kernel package given with NESTED_KVM_KERNEL is unpacked offline",
                  r.returncode == 0 and (unpacked / ".unpacked").read_text().strip() == FAKE_VERSION and
                  (unpacked / "lib" / "modules" / FAKE_VERSION / "modules.dep").exists(),
                  f"exit {r.returncode}; stderr: {r.stderr.strip()}")
            not_a_kernel = tmp / "not-a-kernel.deb"
            shutil.rmtree(package / "boot")
            subprocess.run(["dpkg-deb", "-b", str(package), str(not_a_kernel)], check=True, capture_output=True)
            r = run_script(script, ["--work", tempfile.mkdtemp(dir=tmp), *command],
                           {"NESTED_KVM_KERNEL": str(not_a_kernel), **unreachable}, tmp)
            expect_skip("a package without a kernel", r, skip, ["holds no kernel"])
        else:
            print("SKIP  a kernel package given with NESTED_KVM_KERNEL (no dpkg-deb or depmod to build one)")

    # ctest reports the lane's 77 as skipped only where the test says so.
    listing = subprocess.run(["ctest", "--test-dir", args.build, "--show-only=json-v1"], capture_output=True,
                             text=True)
    if listing.returncode != 0:
        check("ctest lists the tests", False, listing.stderr.strip())
    else:
        lane_tests = [t for t in json.loads(listing.stdout)["tests"]
                      if any(str(c).endswith("scripts/nested-kvm") for c in t.get("command", [])[:2])]
        check("ctest has tests that run through scripts/nested-kvm", bool(lane_tests))
        for t in lane_tests:
            props = {p["name"]: p["value"] for p in t.get("properties", [])}
            check(f"ctest {t['name']}: SKIP_RETURN_CODE {skip}", str(props.get("SKIP_RETURN_CODE")) == str(skip),
                  f"properties: {props}")

    print(f"SUMMARY: {'all passed' if not failures else f'{len(failures)} failed: ' + ', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
