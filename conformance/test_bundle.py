#!/usr/bin/python3
"""Proves that the conformance bundle stands on its own: unpacks the .tar.gz into
a fresh folder outside the source and build trees, checks its layout, and
certifies the reference host from there with nothing but /usr/bin/python3 and
the bundle (no PYTHONPATH, the folder as working directory):

    /usr/bin/python3 <tmp>/conformance/hyperbios-conform --images <tmp>/conformance/images \\
        --host '<hbvm> run {image} --accel soft --timeout 30 --end-report {end} --disk {disk0} ...' --out <tmp>/out

Exit status 0 when the layout is complete and the verdict is CONFORMANT. On
failure the unpacked folder is kept and named, to look at."""

import argparse
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile

PYTHON = "/usr/bin/python3"
# The driver's places as the reference host takes them, from the source tree's
# driver (a user of the bundle writes the same string on their command line).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from conform import HBVM_PLACES  # noqa: E402
# What the bundle must hold besides its images (paths inside the top folder).
REQUIRED_FILES = ("VERSION", "conformance/hyperbios-conform", "conformance/conform.py", "conformance/mutation-test",
                  "conformance/README.md", "spec/hyperbios.md", "spec/tools/hyperbios_spec.py",
                  "profiles/README.md", "profiles/full.toml", "profiles/no-reboot.toml", "profiles/minimal.toml",
                  "profiles/ps3.toml")


def check_layout(top, spec_version):
    # The spec rendered as one HTML file, named after the version the bundle certifies against.
    required = REQUIRED_FILES + (f"spec/hyperbios-spec-{spec_version}.html",)
    problems = [f"{name} is missing" for name in required if not (top / name).is_file()]
    images = top / "conformance" / "images"
    elves = sorted(p.stem for p in images.glob("conformance-*.elf"))
    if not elves:
        problems.append("conformance/images has no conformance-*.elf")
    for suffix in (".elf64", ".iso"):
        others = sorted(p.stem for p in images.glob(f"conformance-*{suffix}"))
        if others != elves:
            problems.append(f"the .elf images {elves} and the {suffix} images {others} differ")
    if not list((top / "spec" / "services").glob("*.md")):
        problems.append("spec/services has no chapters")
    driver = top / "conformance" / "hyperbios-conform"
    if driver.is_file() and not os.access(driver, os.X_OK):
        problems.append("conformance/hyperbios-conform is not executable")
    version = (top / "VERSION").read_text().splitlines() if (top / "VERSION").is_file() else []
    if f"spec: {spec_version}" not in version:
        problems.append(f"VERSION does not say 'spec: {spec_version}': {version}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", required=True, help="hyperbios-conformance-<version>.tar.gz")
    parser.add_argument("--spec-version", required=True, help="the spec version the bundle must carry, e.g. 0.1")
    parser.add_argument("--hbvm", required=True, help="the reference host binary, the host under test")
    args = parser.parse_args()

    expected_top = f"hyperbios-conformance-{args.spec_version}"
    work = pathlib.Path(tempfile.mkdtemp(prefix="hyperbios-bundle-test-"))
    with tarfile.open(args.archive) as archive:
        tops = {pathlib.PurePosixPath(m.name).parts[0] for m in archive.getmembers()}
        if tops != {expected_top}:
            print(f"test_bundle: the archive's top level is {sorted(tops)}, not {expected_top}/", file=sys.stderr)
            return 1
        if hasattr(tarfile, "tar_filter"):  # Python 3.12, and 3.11.4 on: refuse members that escape `work`
            archive.extractall(work, filter="tar")
        else:
            archive.extractall(work)
    top = work / expected_top

    problems = check_layout(top, args.spec_version)
    if problems:
        print(f"test_bundle: the bundle in {top} is incomplete:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1

    # Under the ps3 profile, which the driver reads from the bundle's profiles/
    # (its disk windows, rate limit and display limit are checked from outside).
    command = [PYTHON, str(top / "conformance" / "hyperbios-conform"),
               "--images", str(top / "conformance" / "images"), "--profile", "ps3",
               "--host", f"{shlex.quote(str(pathlib.Path(args.hbvm).resolve()))} run {{image}} --accel soft --timeout 30 "
                         f"--profile ps3 {HBVM_PLACES}",
               "--out", str(top / "out")]
    print("test_bundle: in", top, "\n  " + shlex.join(command), flush=True)
    # Only what a user with nothing but Python would have: no PYTHONPATH, no build tree.
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"}
    # The host under test is ours; a sanitizer build of it needs its settings (the
    # leak suppressions for Unicorn's allocations), which the driver never reads.
    environment.update({k: v for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")})
    run = subprocess.run(command, cwd=top, env=environment, stdin=subprocess.DEVNULL)
    certificate = top / "out" / "certificate.md"
    if run.returncode != 0 or not certificate.is_file():
        print(f"test_bundle: certification from the bundle failed (exit {run.returncode}); "
              f"the unpacked bundle is kept in {top}", file=sys.stderr)
        return 1
    print(f"test_bundle: the bundle certifies the reference host on its own; certificate {certificate}")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
