#!/usr/bin/python3
"""The Debian packages, as a user gets them: builds hyperbios_*.deb (and the
window module's hyperbios-module-sdl_*.deb) with CPack, checks them with lintian
(no errors), installs the core with `apt-get install ./...`,
lists what it installed (dpkg -L; the spec's HTML file must be among it),
certifies the installed hbvm with the installed hyperbios-conform, builds
examples/own-kernel/cmake against the system install (no prefix given) and
boots it, reads the man pages, then purges the package and checks that none of
its files is left. The module: the core alone says it is missing; installed
beside the core, the installed hbvm loads it.

Changes the machine (installs and removes a package): runs as root only, and
skips (exit 77) where hyperbios is already installed, so that a user's own
install is never removed. Exit status 0 when all of it works, 1 otherwise."""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "conformance"))
import conform  # noqa: E402  (HBVM_PLACES: how hbvm takes the driver's places)
SKIP = 77
failures = []


def step(name, command, cwd=None, want=None, env=None):
    print(f"+ {' '.join(str(c) for c in command)}", flush=True)
    proc = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, errors="replace",
                          timeout=900, env=env)
    output = proc.stdout + proc.stderr
    ok = proc.returncode == 0 and (want is None or want in output)
    print(f"{'PASS' if ok else 'FAIL'} {name}" + ("" if ok else f" (exit {proc.returncode})"))
    if not ok:
        failures.append(name)
        print("  " + output.strip().replace("\n", "\n  ")[-4000:])
    return proc


def installed(package):
    q = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return "install ok installed" in q.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", required=True, help="the CMake build folder of HyperBIOS (built)")
    parser.add_argument("--spec-version", required=True, help="the spec version the package carries, e.g. 0.4")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    if os.geteuid() != 0:
        print("SKIP: installing a package needs root (CI runs as root)")
        return SKIP
    if installed("hyperbios"):
        print("SKIP: a hyperbios package is installed already; this test would remove it")
        return SKIP

    step("cpack builds the .deb", ["cpack", "-G", "DEB", "--config", build / "CPackConfig.cmake"], cwd=build)
    debs = sorted((build / "package").glob("hyperbios_*.deb"))
    if not debs:
        print("FAIL no package was built")
        return 1
    deb = debs[-1]
    print(f"package: {deb.name}, {deb.stat().st_size / 1e6:.1f} MB")
    lint = step("lintian runs", ["lintian", "--tag-display-limit", "0", deb])
    errors = [line for line in lint.stdout.splitlines() if line.startswith("E:")]
    print(f"{'PASS' if not errors else 'FAIL'} lintian reports no errors" + "".join(f"\n  {e}" for e in errors))
    if errors:
        failures.append("lintian errors")

    # The core package must not pull in a desktop: back ends with such libraries
    # are modules (hbvm-<name>.so) that ship apart (issue 20).
    depends = step("dpkg-deb -f DEPENDS", ["dpkg-deb", "-f", deb, "Depends"]).stdout.strip()
    print(f"  Depends: {depends}")
    desktop = re.compile(r"sdl|x11|libx|xcb|wayland|pulse|pipewire|asound|gtk|gl1|egl|drm|png", re.I)
    heavy = [d.strip() for d in depends.split(",") if desktop.search(d)]
    print(f"{'PASS' if not heavy and depends else 'FAIL'} the package's Depends name no SDL, X11, Wayland, "
          f"PulseAudio or other desktop library" + (f": {', '.join(heavy)}" if heavy else ""))
    if heavy or not depends:
        failures.append("desktop libraries in Depends")

    # Each back-end module is a package of its own, depending on its hbvm's
    # version and on its library: the window module on SDL2, the user network's
    # on libslirp.
    module = None
    for name, what, library in (("sdl", "the window module", "libsdl2"), ("slirp", "the user-network module",
                                                                            "libslirp")):
        found = sorted((build / "package").glob(f"hyperbios-module-{name}_*.deb"))
        package = found[-1] if found else None
        if name == "sdl":
            module = package
        print(f"{'PASS' if package else 'FAIL'} {what} is a package of its own: "
              f"{package.name if package else f'no hyperbios-module-{name}_*.deb'}")
        if not package:
            failures.append(f"no {name} module package")
            continue
        lint = step(f"lintian runs on {what}'s package", ["lintian", "--tag-display-limit", "0", package])
        errors = [line for line in lint.stdout.splitlines() if line.startswith("E:")]
        print(f"{'PASS' if not errors else 'FAIL'} lintian reports no errors" + "".join(f"\n  {e}" for e in errors))
        if errors:
            failures.append(f"lintian errors in the {name} module's package")
        module_depends = step(f"dpkg-deb -f DEPENDS ({name} module)", ["dpkg-deb", "-f", package, "Depends"]).stdout.strip()
        print(f"  Depends: {module_depends}")
        want = f"hyperbios (= {deb.name.split('_')[1]})"
        ok = want in module_depends and library in module_depends
        print(f"{'PASS' if ok else 'FAIL'} {what} depends on its own hbvm version ({want}) and on {library}")
        if not ok:
            failures.append(f"{name} module Depends")

    files = []
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="hyperbios-deb-"))
    try:
        step("apt-get install ./hyperbios_*.deb",
             ["apt-get", "install", "-y", "-qq", "--no-install-recommends", deb],
             env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        listing = step("dpkg -L hyperbios", ["dpkg", "-L", "hyperbios"])
        files = [pathlib.Path(p) for p in listing.stdout.splitlines() if p.strip() and pathlib.Path(p).is_file()]
        print(f"  {len(files)} files, e.g. " + ", ".join(str(p) for p in files if p.name in
                                                        ("hbvm", "hyperbios-conform", "hyperbios.pc", "hbvm.1.gz")))
        spec_html = pathlib.Path(f"/usr/share/doc/hyperbios/spec/hyperbios-spec-{args.spec_version}.html")
        print(f"{'PASS' if spec_html in files else 'FAIL'} the package holds the spec as one HTML file, {spec_html}")
        if spec_html not in files:
            failures.append("no spec HTML")
        host = f"/usr/bin/hbvm run {{image}} --accel soft --timeout 30 {conform.HBVM_PLACES}"
        step("the installed hyperbios-conform certifies the installed hbvm",
             ["hyperbios-conform", "--host", host, "--out", tmp / "certificate", "-q"], cwd=tmp,
             want="verdict: CONFORMANT")
        step("man finds hbvm(1), hbvm-ctl(1), hyperbios-conform(1) and hyperbios(7)",
             ["sh", "-c", "man -w hbvm && man -w hbvm-ctl && man -w hyperbios-conform && man -w 7 hyperbios"])
        src = tmp / "cmake-project"
        shutil.copytree(HERE / "cmake", src)
        step("a CMake kernel finds the system's HyperBIOS", ["cmake", "-S", src, "-B", src / "build",
                                                            "-DCMAKE_CXX_FLAGS=-DMY_HOST_ONLY_FLAG"])
        step("and builds", ["cmake", "--build", src / "build"])
        step("and boots on the installed hbvm", ["hbvm", "run", src / "build" / "my_kernel.elf", "--accel", "soft"],
             want="my_kernel: hello from outside the HyperBIOS tree")
        # A display no X server answers: what hbvm says tells whether it found the module.
        no_x = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        no_x["DISPLAY"] = ":2999"
        sdl_run = ["hbvm", "run", src / "build" / "my_kernel.elf", "--accel", "soft", "--display", "sdl"]
        alone = subprocess.run([str(c) for c in sdl_run], capture_output=True, text=True, env=no_x, timeout=60)
        ok = alone.returncode == 74 and "hbvm-sdl.so" in alone.stderr and "not installed" in alone.stderr
        print(f"{'PASS' if ok else 'FAIL'} without the module, --display sdl says hbvm-sdl.so is not installed"
              + ("" if ok else f": {alone.returncode} {alone.stderr.strip()[-500:]}"))
        if not ok:
            failures.append("core without module")
        if module:
            step("apt-get install ./hyperbios-module-sdl_*.deb",
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", module],
                 env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
            listing = step("dpkg -L hyperbios-module-sdl", ["dpkg", "-L", "hyperbios-module-sdl"])
            files += [pathlib.Path(p) for p in listing.stdout.splitlines() if p.strip() and pathlib.Path(p).is_file()]
            loaded = subprocess.run([str(c) for c in sdl_run], capture_output=True, text=True, env=no_x, timeout=60)
            ok = loaded.returncode == 74 and "SDL cannot start its video" in loaded.stderr
            print(f"{'PASS' if ok else 'FAIL'} with the module, the installed hbvm loads it (SDL itself finds no "
                  f"X server at :2999)" + ("" if ok else f": {loaded.returncode} {loaded.stderr.strip()[-500:]}"))
            if not ok:
                failures.append("installed module not loaded")
    finally:
        packages = (["hyperbios-module-sdl"] if installed("hyperbios-module-sdl") else []) + ["hyperbios"]
        step("apt-get purge " + " ".join(packages), ["apt-get", "purge", "-y", "-qq", *packages],
             env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        shutil.rmtree(tmp, ignore_errors=True)
    left = [str(p) for p in files if p.exists()]
    print(f"{'PASS' if not left and files else 'FAIL'} removing it leaves none of its {len(files)} files behind"
          + "".join(f"\n  {p}" for p in left[:20]))
    if left or not files:
        failures.append("files left behind")
    if installed("hyperbios") or installed("hyperbios-module-sdl"):
        failures.append("still installed")
        print("FAIL dpkg still lists hyperbios as installed")
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
