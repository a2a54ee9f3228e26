#!/usr/bin/python3
"""Your own kernel, as a user builds it: installs this build into a temporary
prefix, copies examples/own-kernel/cmake and examples/own-kernel/make (the
files the README shows) into folders outside the source tree, and there

  - builds the CMake project with find_package(hyperbios 0.4) and
    CMAKE_CXX_FLAGS that must not reach the kernel (a define the kernel refuses,
    -fsanitize=address, -fPIE), and checks that its host program got them and
    none of the kernel's flags;
  - builds the Makefile kernel, in C, with pkg-config alone;
  - boots both kernels with the installed hbvm on the software engine and, where
    /dev/kvm can be opened, on KVM;
  - certifies the reference host with the installed hyperbios-conform;
  - checks that find_package refuses a version the install does not meet.

Exit status 0 when all of it works, 1 otherwise."""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "conformance"))
from example_tests import kvm_problem  # noqa: E402
import conform  # noqa: E402  (HBVM_PLACES: how hbvm takes the driver's places)

HERE = pathlib.Path(__file__).resolve().parent
failures = []


def step(name, command, cwd=None, env=None, expect_status=0, want=None):
    print(f"+ {' '.join(str(c) for c in command)}", flush=True)
    proc = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                          errors="replace", timeout=900)
    output = proc.stdout + proc.stderr
    ok = proc.returncode == expect_status and (want is None or want in output)
    print(f"{'PASS' if ok else 'FAIL'} {name}" + ("" if ok else f" (exit {proc.returncode})"))
    if not ok:
        failures.append(name)
        print("  " + output.strip().replace("\n", "\n  ")[-4000:])
    return proc


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", required=True, help="the CMake build folder of HyperBIOS (built)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    # The README shows both files as they are (so that it cannot rot).
    readme = (HERE.parents[1] / "README.md").read_text()
    for shown in (HERE / "cmake" / "CMakeLists.txt", HERE / "make" / "Makefile"):
        present = shown.read_text() in readme
        print(f"{'PASS' if present else 'FAIL'} README.md shows {shown.relative_to(HERE.parents[1])} as it is")
        if not present:
            failures.append(f"README shows {shown.name}")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="hyperbios-own-kernel-"))
    prefix = tmp / "prefix"
    try:
        step("cmake --install into a temporary prefix", ["cmake", "--install", build, "--prefix", prefix])
        hbvm = prefix / "bin" / "hbvm"
        accels = ["soft"] + ([] if kvm_problem() else ["kvm"])
        if "kvm" not in accels:
            print("NOTE /dev/kvm cannot be opened here: the kernels boot on the software engine only")

        # CMake and find_package, with host flags that must stay out of the kernel.
        src = tmp / "cmake-project"
        shutil.copytree(HERE / "cmake", src)
        user_flags = "-DMY_HOST_ONLY_FLAG -fsanitize=address -fPIE"
        step("configure a project with find_package(hyperbios 0.4)",
             ["cmake", "-S", src, "-B", src / "build", f"-DCMAKE_PREFIX_PATH={prefix}",
              f"-DCMAKE_CXX_FLAGS={user_flags}", "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address",
              "-DCMAKE_POSITION_INDEPENDENT_CODE=ON"])
        step("build its kernel and host program", ["cmake", "--build", src / "build"])
        step("its host program got the project's flags and none of the kernel's", [src / "build" / "my_tool"],
             want="a host program with RTTI")
        for accel in accels:
            step(f"boot the CMake kernel with the installed hbvm ({accel})",
                 [hbvm, "run", src / "build" / "my_kernel.elf", "--accel", accel, "--timeout", "60"],
                 want="my_kernel: hello from outside the HyperBIOS tree, spec ")

        # A version the install does not meet is refused.
        too_new = tmp / "too-new"
        too_new.mkdir()
        (too_new / "CMakeLists.txt").write_text(
            "cmake_minimum_required(VERSION 3.20)\nproject(t LANGUAGES CXX)\nfind_package(hyperbios 1.0 REQUIRED)\n")
        step("find_package(hyperbios 1.0) is refused by a 0.x install",
             ["cmake", "-S", too_new, "-B", too_new / "build", f"-DCMAKE_PREFIX_PATH={prefix}"], expect_status=1,
             want="compatible with requested version \"1.0\"")

        # make and pkg-config, nothing else.
        mk = tmp / "make-project"
        shutil.copytree(HERE / "make", mk)
        pc_dirs = [str(p) for p in prefix.rglob("pkgconfig") if (p / "hyperbios.pc").is_file()]
        env = dict(os.environ, PKG_CONFIG_PATH=":".join(pc_dirs))
        step("pkg-config knows hyperbios", ["pkg-config", "--modversion", "hyperbios"], env=env)
        step("build a C kernel with make and pkg-config", ["make", "-C", mk], env=env)
        for accel in accels:
            step(f"boot the make kernel with the installed hbvm ({accel})",
                 [hbvm, "run", mk / "my_kernel.elf", "--accel", accel, "--timeout", "60"],
                 want="my_kernel (make, C): hello from outside the HyperBIOS tree")

        # The installed conformance suite certifies the reference host.
        host = f"{hbvm} run {{image}} --accel soft --timeout 30 {conform.HBVM_PLACES}"
        step("the installed hyperbios-conform certifies the installed hbvm",
             [prefix / "bin" / "hyperbios-conform", "--host", host, "--out", tmp / "certificate", "-q"],
             cwd=tmp, want="verdict: CONFORMANT")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
