#!/usr/bin/python3
"""host.e2e.new-device-class: a new device class is the files the device registry
promises, and nothing more (issue 20's Done-when).

In a scratch copy of the source tree this test adds a device class `dummy` — a
back end in a module of its own, as a display or a network back end will be —
by writing only these files:

    reference-host/devices/dummy.cpp          the class entry: option, keys, help, checks
    reference-host/modules/dummy/CMakeLists.txt  the module (hbvm-dummy.so)
    reference-host/modules/dummy/dummy_backend.cpp  the device: port 0x80's bytes to a file
    reference-host/devices/registry.cpp       one line: X(dummy)
    conformance/conform.py                    one line: the place {dummy0} the driver gives
    conformance/images/dummy.cpp              a conformance image that uses it
    conformance/images/CMakeLists.txt         one word: the image in the list

(a class that serves a new service adds its module in services/ and its rows in
the ABI table; the dummy serves the guest's port writes, so it needs neither).
It then builds hbvm, the module and the image in the copy and shows that the
class works: --help documents it, `--dummy path=F` and a `[[dummy]]` table with
a comma in the path make hbvm write the guest's bytes to the file,
--print-config dumps it, its own control-socket command is served, the module is loaded only when the class is chosen and
a missing module is reported clearly, and the conformance driver gives the
image its place {dummy0} where the host command names it and says "not tested"
where it does not.

Exit status 0 when all of that holds, 1 otherwise.
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

failures = []

DEVICE_CLASS = r'''// A made-up device class for host.e2e.new-device-class: the bytes the guest
// writes to a port go to a file. Its back end is a module (modules/dummy/).
#include "core/error.hpp"
#include "devices/module_loader.hpp"

#include <string>

namespace hbvm {

device_class dummy_device_class()
{
    return {"dummy",
            "  --dummy path=FILE[,port=N]\n"
            "                  write the bytes the guest sends to port N (default 0x80) to FILE\n",
            nullptr, {"path", "port"}, {}, 4, false,
            [](std::vector<device_settings>& all) {
                for (device_settings& s : all) {
                    if (!s.get("path"))
                        throw error(exit_status::usage, s.origin + ": a dummy device needs path=FILE");
                    if (!s.get("port"))
                        s.values.emplace_back("port", "0x80");
                }
            },
            create_in_module("dummy", "dummy")};
}

}  // namespace hbvm
'''

MODULE_LIST = "hbvm_add_module(dummy SOURCES dummy_backend.cpp)\n"

MODULE_SOURCE = r'''// The dummy device's back end: appends what the guest writes to its port to a file.
#include "devices/module.hpp"

#include "core/error.hpp"

#include <atomic>
#include <cstdio>
#include <stdexcept>

namespace {

class dummy_device final : public hbvm::device {
public:
    dummy_device(std::FILE* file, uint16_t port) : file_(file), port_(port) {}
    ~dummy_device() override { std::fclose(file_); }

    std::optional<hbvm::io_reply> on_io(const hbvm::io_access& access) override
    {
        if (access.port != port_)
            return std::nullopt;
        if (access.is_write) {
            std::fputc(int(access.value & 0xFF), file_);
            std::fflush(file_);
            ++bytes_;
        }
        return hbvm::io_reply{};
    }

    // A control-socket command of its own, run on the socket's thread; its name
    // holds the port, so that several dummy devices do not clash.
    std::vector<std::pair<std::string, hbvm::control_command>> control_commands() override
    {
        return {{"dummy" + std::to_string(port_) + "-bytes", {"how many bytes the guest sent to the dummy device",
                                 [this](const hbvm::json::object&) {
                                     return hbvm::json::value(hbvm::json::object{{"bytes", uint64_t(bytes_.load())}});
                                 }}}};
    }

private:
    std::FILE* file_;
    uint16_t port_;
    std::atomic<uint64_t> bytes_{0};
};

std::vector<std::unique_ptr<hbvm::device>> create(const std::string& device_class,
                                                  const std::vector<hbvm::device_settings>& settings,
                                                  const hbvm::device_host&)
{
    if (device_class != "dummy")
        throw std::logic_error("the dummy module makes no '" + device_class + "' devices");
    std::vector<std::unique_ptr<hbvm::device>> made;
    for (const hbvm::device_settings& s : settings) {
        const std::string path = s.get("path").value_or("");
        std::FILE* file = std::fopen(path.c_str(), "wb");
        if (!file)
            throw hbvm::error(hbvm::exit_status::host_failure, s.origin + ": cannot create " + path);
        made.push_back(std::make_unique<dummy_device>(file, uint16_t(std::stoul(s.get("port").value(), nullptr, 0))));
    }
    return made;
}

}  // namespace

HBVM_MODULE_ENTRY
{
    static const hbvm::module_entry entry{hbvm::module_interface_version, HBVM_VERSION_STRING, "dummy", &create,
                                          nullptr};
    return &entry;
}
'''

IMAGE = r'''// Uses the dummy device: sends a text to port 0x80 and asks the driver to find
// it in the place {dummy0}.
#include "image.hpp"

HYPERBIOS_CONFORM_NEEDS(dummy0, "HB-DUM-001");

namespace conformance {

void run_checks()
{
    for (const char* c = "dummy says hello"; *c; ++c)
        hyperbios::arch::out8(0x80, uint8_t(*c));
    check("HB-DUM-002", true, "the image sent its text to port 0x80");
    emit(line().put("EXPECT-PLACE HB-DUM-001 dummy0 text dummy says hello"));
}

}  // namespace conformance
'''

PLACE_LINE = ('PLACES["dummy0"] = Place("output", "a file the host writes the bytes the guest sends to port 0x80 '
              'into", "--dummy path={dummy0}")\n')


def expect(label, condition, detail=""):
    print(f"{'PASS' if condition else 'FAIL'} {label}" + ("" if condition or not detail else f": {detail}"),
          flush=True)
    if not condition:
        failures.append(label)
    return condition


def run(command, **kw):
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, **kw)


def edit(path, old, new):
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"test_new_device_class: {path} no longer has exactly one {old!r}: update this test")
    path.write_text(text.replace(old, new))


def copy_tree(source, scratch):
    """The source files of the tree, without build folders and fetched dependencies."""
    def ignore(folder, names):
        top = pathlib.Path(folder) == source
        return [n for n in names if n in (".git", "__pycache__") or (top and (n.startswith("build") or n == ".deps"))]
    shutil.copytree(source, scratch, ignore=ignore, symlinks=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="the HyperBIOS source tree")
    parser.add_argument("--unicorn-prefix", required=True, help="HYPERBIOS_UNICORN_PREFIX of the main build")
    parser.add_argument("--hello", required=True, help="the hello example image, a console-only guest")
    parser.add_argument("--spin", required=True, help="the test guest spin_forever.elf, which runs until stopped")
    parser.add_argument("--keep", action="store_true", help="keep the scratch tree and print its path")
    parser.add_argument("--cmake-option", action="append", default=[], metavar="-DOPTION=VALUE",
                        help="one more option for configuring the copy (the sanitizer build passes "
                             "--cmake-option=-DHYPERBIOS_SANITIZE=ON)")
    args = parser.parse_args()
    source = pathlib.Path(args.source).resolve()

    work = pathlib.Path(tempfile.mkdtemp(prefix="hbvm-new-device-class-"))
    try:
        tree = work / "tree"
        copy_tree(source, tree)
        print(f"scratch copy of {source} in {tree}", flush=True)
        rh = tree / "reference-host"
        (rh / "devices" / "dummy.cpp").write_text(DEVICE_CLASS)
        (rh / "modules" / "dummy").mkdir(parents=True)
        (rh / "modules" / "dummy" / "CMakeLists.txt").write_text(MODULE_LIST)
        (rh / "modules" / "dummy" / "dummy_backend.cpp").write_text(MODULE_SOURCE)
        edit(rh / "devices" / "registry.cpp", "#define HBVM_DEVICE_CLASSES(X) \\\n",
             "#define HBVM_DEVICE_CLASSES(X) \\\n    X(dummy)                   \\\n")
        edit(tree / "conformance" / "conform.py", "PLACES = {}\n", "PLACES = {}\n" + PLACE_LINE)
        (tree / "conformance" / "images" / "dummy.cpp").write_text(IMAGE)
        edit(tree / "conformance" / "images" / "CMakeLists.txt", " idle random_calls ", " idle random_calls dummy ")

        # CMake finds devices/*.cpp and modules/*/ by itself: no build file changes.
        build = work / "build"
        print("configuring and building hbvm, hbvm-dummy.so and conformance-dummy in the copy "
              "(Debug, about a minute)", flush=True)
        configure = run(["cmake", "-S", tree, "-B", build, "-DCMAKE_BUILD_TYPE=Debug",
                         f"-DHYPERBIOS_UNICORN_PREFIX={args.unicorn_prefix}", *args.cmake_option])
        if not expect("the copy configures", configure.returncode == 0, configure.stderr[-3000:]):
            return 1
        built = run(["cmake", "--build", build, "-j", str(os.cpu_count() or 2), "--target", "hbvm", "hbvm-ctl",
                     "hbvm-dummy", "conformance-dummy"])
        if not expect("hbvm, the module and the image build with nothing else changed", built.returncode == 0,
                      (built.stdout + built.stderr)[-4000:]):
            return 1
        hbvm = build / "bin" / "hbvm"
        hbvm_ctl = build / "bin" / "hbvm-ctl"
        module = build / "lib" / "hyperbios" / "modules" / "hbvm-dummy.so"
        image = next(build.rglob("conformance-dummy.elf"))
        expect("the module is where hbvm looks for it (lib/hyperbios/modules beside bin/)", module.is_file())

        helped = run([hbvm, "run", "--help"])
        expect("hbvm run --help documents --dummy", "--dummy path=FILE[,port=N]" in helped.stdout, helped.stdout[-800:])

        out = work / "out.bin"
        ran = run([hbvm, "run", image, "--accel", "soft", "--timeout", "30", "--dummy", f"path={out}"],
                  env=dict(os.environ, LD_DEBUG="files"))
        expect("--dummy path=FILE: the guest's bytes reach the file",
               out.exists() and out.read_bytes() == b"dummy says hello", f"status {ran.returncode}, "
               f"file {out.read_bytes() if out.exists() else 'missing'!r}; {ran.stderr[-600:]}")
        expect("the module is loaded when the class is chosen",
               any("calling init:" in l and l.rstrip().endswith("/hbvm-dummy.so") for l in ran.stderr.splitlines()),
               ran.stderr[-600:])

        plain = run([hbvm, "run", args.hello, "--accel", "soft", "--timeout", "30"],
                    env=dict(os.environ, LD_DEBUG="files"))
        expect("a console-only guest runs and loads no module",
               plain.returncode == 0 and "hello" in plain.stdout.lower() and "/modules/" not in plain.stderr,
               f"status {plain.returncode}; " + " ".join(l for l in plain.stderr.splitlines() if "/modules/" in l)[:400])

        comma = work / "a,b.bin"
        config = work / "vm.toml"
        config.write_text(f'image = "{image}"\naccel = "soft"\ntimeout = 30\n\n[[dummy]]\npath = "{comma}"\n')
        ran = run([hbvm, "run", "--config", config])
        expect("a [[dummy]] table in a config file works, a comma in its path too",
               comma.exists() and comma.read_bytes() == b"dummy says hello", ran.stderr[-600:])
        dumped = run([hbvm, "run", "--config", config, "--print-config"])
        expect("--print-config dumps the dummy device",
               "[[dummy]]" in dumped.stdout and str(comma) in dumped.stdout and 'port = "0x80"' in dumped.stdout,
               dumped.stdout[-800:])

        # The device's own control command, beside the machine's.
        sock = work / "vm.sock"
        spinning = subprocess.Popen([str(hbvm), "run", args.spin, "--accel", "soft", "--timeout", "60",
                                     "--control", f"unix:{sock}", "--dummy", f"path={out}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for _ in range(500):
                if sock.exists() or spinning.poll() is not None:
                    break
                time.sleep(0.01)
            listed = run([hbvm_ctl, f"unix:{sock}", "query-commands"])
            asked = run([hbvm_ctl, f"unix:{sock}", "dummy128-bytes"])
            expect("the device's control command is served beside the machine's",
                   "how many bytes the guest sent to the dummy device" in listed.stdout and
                   asked.returncode == 0 and asked.stdout.strip() == '{"bytes": 0}',
                   f"{listed.stdout[:300]} {asked.returncode} {asked.stdout} {asked.stderr}")
            run([hbvm_ctl, f"unix:{sock}", "quit", "--wait-event", "END"])
        finally:
            if spinning.poll() is None:
                spinning.kill()
            spinning.wait()

        refused = run([hbvm, "run", image, "--accel", "soft", "--dummy", "port=0x80"])
        expect("the class's own check refuses bad settings with status 64",
               refused.returncode == 64 and "a dummy device needs path=FILE" in refused.stderr, refused.stderr)

        hidden = module.with_name("hbvm-dummy.so.away")
        module.rename(hidden)
        try:
            missing = run([hbvm, "run", image, "--accel", "soft", "--dummy", f"path={out}"])
        finally:
            hidden.rename(module)
        expect("a missing module is a clear error, naming the option, the file and the fix",
               missing.returncode == 74 and "--dummy path=" in missing.stderr and
               "needs the back-end module hbvm-dummy.so, which is not installed" in missing.stderr, missing.stderr)

        # The conformance driver of the copy: the image declares {dummy0}.
        sys.path.insert(0, str(tree / "conformance"))
        import conform  # noqa: E402  (the copy's, with the dummy's place)
        expect("the driver reads the image's declaration",
               conform.image_needs(image) == {"dummy0": ["HB-DUM-001"]}, str(conform.image_needs(image)))
        given = conform.run_image(image, f"{hbvm} run {{image}} --accel soft --timeout 30 --dummy path={{dummy0}}",
                                  60, conform.EXIT_STYLES["plain"])
        verdicts = {(v, r) for v, r, _ in given.checks}
        expect("with {dummy0} in the host command, the driver gives the place and judges what the host wrote",
               ("PASS", "HB-DUM-001") in verdicts and ("PASS", "HB-DUM-002") in verdicts and given.problem is None,
               f"{given.checks} {given.problem}")
        without = conform.run_image(image, f"{hbvm} run {{image}} --accel soft --timeout 30", 60,
                                    conform.EXIT_STYLES["plain"])
        untested = [d for v, r, d in without.checks if r == "HB-DUM-001"]
        expect("without it, what needs the place is not tested (never a pass), and the reason names it",
               untested and all("not tested: the host command has no {dummy0} placeholder" in d for d in untested)
               and ("PASS", "HB-DUM-001") not in {(v, r) for v, r, _ in without.checks}, str(without.checks))
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"{len(failures)} failed" if failures else "a new device class is the files listed above, and it works")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
