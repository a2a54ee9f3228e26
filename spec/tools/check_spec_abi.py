#!/usr/bin/python3
"""Compares the specification's call tables with abi.json, generated from the ABI
table in include/hyperbios/abi.hpp. Fails on any difference.

usage: check_spec_abi.py SPEC_DIR ABI_JSON
       check_spec_abi.py --self-test SPEC_DIR ABI_JSON
"""

import argparse
import json
import pathlib
import shutil
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import hyperbios_spec  # noqa: E402


def compare_table(problems, kind, spec_items, abi_items, key, fields):
    """Appends to `problems` every entry missing on one side and every field that differs."""
    spec_map = {key(i): i for i in spec_items}
    abi_map = {key(i): i for i in abi_items}
    normal = lambda v: v.lower() if isinstance(v, str) and v.startswith("0x") else v  # noqa: E731
    for k in sorted(set(spec_map) | set(abi_map)):
        s, a = spec_map.get(k), abi_map.get(k)
        label = f"{kind} {' '.join(map(str, k)) if isinstance(k, tuple) else k} ('{(s or a).get('name', k)}')"
        if not s:
            problems.append(f"{label} is in the ABI table but not in the spec")
        elif not a:
            problems.append(f"{label} is in the spec ({s['where']}) but not in the ABI table")
        else:
            problems += [f"{label}: {f} '{s[f]}' in the spec ({s['where']}), '{a[f]}' in the ABI table"
                         for f in fields if normal(s[f]) != normal(a[f])]


def compare(spec_dir, abi_path):
    """Returns a list of differences, empty when the spec and the ABI table agree."""
    try:
        spec = hyperbios_spec.parse(spec_dir)
    except hyperbios_spec.SpecError as e:
        return [str(e)]
    abi = json.loads(pathlib.Path(abi_path).read_text())
    problems = []

    compare_table(problems, "service", spec["services"], abi["services"], lambda x: x["name"], ("id", "version"))
    # Functions are keyed by (service, function ID); names, versions and requirements must agree.
    compare_table(problems, "function", spec["functions"], abi["functions"],
                  lambda x: (x["service"], x["id"].lower()), ("name", "since", "requirement"))
    for f in abi["functions"]:
        if f["requirement"] not in spec["requirements"]:
            problems.append(f"{f['service']}.{f['name']}: requirement {f['requirement']} is not defined in the spec")
    compare_table(problems, "status", spec["statuses"], abi["statuses"], lambda x: x["name"], ("value",))
    return problems


def self_test(spec_dir, abi_path):
    """Proves the check can fail: renames one call on one side only, then the other."""
    failures = []
    if compare(spec_dir, abi_path):
        failures.append("the unmodified spec and ABI table do not agree; fix that first")
    with tempfile.TemporaryDirectory() as tmp:
        spec_copy = pathlib.Path(tmp) / "spec"
        shutil.copytree(spec_dir, spec_copy)
        console = spec_copy / "services" / "console.md"
        text = console.read_text()
        console.write_text(text.replace("| `write` |", "| `write_bytes` |", 1))
        found = compare(spec_copy, abi_path)
        print("spec side renamed (console.write -> write_bytes):")
        for p in found:
            print("  detected:", p)
        if not any("name 'write_bytes'" in p for p in found):
            failures.append("renaming console.write in the spec only was not detected")

        abi = json.loads(pathlib.Path(abi_path).read_text())
        for f in abi["functions"]:
            if (f["service"], f["name"]) == ("time", "monotonic_ns"):
                f["name"] = "monotonic"
        abi_copy = pathlib.Path(tmp) / "abi.json"
        abi_copy.write_text(json.dumps(abi))
        found = compare(spec_dir, abi_copy)
        print("ABI side renamed (time.monotonic_ns -> monotonic):")
        for p in found:
            print("  detected:", p)
        if not any("'monotonic' in the ABI table" in p for p in found):
            failures.append("renaming time.monotonic_ns in the ABI table only was not detected")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--self-test", action="store_true",
                        help="check that a call renamed on one side only is detected")
    parser.add_argument("spec_dir")
    parser.add_argument("abi_json")
    args = parser.parse_args()
    if args.self_test:
        failures = self_test(args.spec_dir, args.abi_json)
        for f in failures:
            print("FAIL:", f)
        print("self-test:", "failed" if failures else "passed")
        return 1 if failures else 0
    problems = compare(args.spec_dir, args.abi_json)
    for p in problems:
        print("MISMATCH:", p)
    spec = hyperbios_spec.parse(args.spec_dir) if not problems else None
    if problems:
        print(f"spec and ABI table disagree in {len(problems)} place(s)")
        return 1
    print(f"spec and ABI table agree: {len(spec['services'])} services, {len(spec['functions'])} functions, "
          f"{len(spec['statuses'])} status codes, {len(spec['requirements'])} requirements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
