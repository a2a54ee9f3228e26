#!/usr/bin/python3
"""Compares every machine-readable table of the specification with abi.json,
generated from the ABI table in include/hyperbios/abi.hpp. Fails on any difference.

Compared: the version line and interface signature; the ID ranges (1.5); the
register order and the argument and result kinds (2.1); the discovery fields,
their reserved bits and the gates (chapter 3); the status codes (4); the
services, their function listings (name, since, arguments, result, requirement)
and each function's error table; the enumerations (e.g. 8.4 reset reasons); the
implementation IDs (Appendix A).

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


def normal(v):
    return v.lower() if isinstance(v, str) and v.startswith("0x") else v


def compare_table(problems, kind, spec_items, abi_items, key, fields):
    """Appends to `problems` every entry missing on one side and every field that differs."""
    spec_map = {key(i): i for i in spec_items}
    abi_map = {key(i): i for i in abi_items}
    for k in sorted(set(spec_map) | set(abi_map), key=str):
        s, a = spec_map.get(k), abi_map.get(k)
        label = f"{kind} {' '.join(map(str, k)) if isinstance(k, tuple) else k} ('{(s or a).get('name', k)}')"
        if not s:
            problems.append(f"{label} is in the ABI table but not in the spec")
        elif not a:
            problems.append(f"{label} is in the spec ({s['where']}) but not in the ABI table")
        else:
            problems += [f"{label}: {f} '{show(s[f])}' in the spec ({s['where']}), '{show(a[f])}' in the ABI table"
                         for f in fields if normal(s[f]) != normal(a[f])]


def show(v):
    return f"0x{v:x}" if isinstance(v, int) and not isinstance(v, bool) and v > 0xFFFF else v


def kinds_as_spec_writes_them(abi):
    """The ABI table's argument kinds in the spec's terms: numbers, and only the
    fields the kind's class has (a record has a size, an enumeration a name)."""
    out = []
    for k in abi["arg_kinds"]:
        entry = {"name": k["name"], "class": k["class"], "reserved": int(k["reserved"], 16)}
        if k["class"] in ("in_record", "out_record"):
            entry["record_size"] = k["record_size"]
        elif k["class"] == "enumeration":
            entry["enumeration"] = k["enumeration"]
        else:
            entry["min"], entry["max"] = int(k["min"], 16), int(k["max"], 16)
        out.append(entry)
    return out


def compare(spec_dir, abi_path):
    """Returns a list of differences, empty when the spec and the ABI table agree."""
    try:
        spec = hyperbios_spec.parse(spec_dir)
    except hyperbios_spec.SpecError as e:
        return [str(e)]
    abi = json.loads(pathlib.Path(abi_path).read_text())
    problems = []

    # The header and the interface signature.
    v = spec["version"]
    if not v:
        problems.append("the spec has no version line")
    else:
        if v["version"] != abi["spec_version"]:
            problems.append(f"version {v['version']} in the spec ({v['where']}), {abi['spec_version']} in the ABI table")
        major, minor = map(int, v["version"].split("."))
        if int(v["value"], 16) != (major << 16 | minor):
            problems.append(f"the spec's version line ({v['where']}) says {v['version']} but gives the value {v['value']}")
        if normal(v["value"]) != normal(abi["interface_version"]):
            problems.append(f"interface version value {v['value']} in the spec ({v['where']}), "
                            f"{abi['interface_version']} in the ABI table")
    sig = spec["interface_signature"]
    if not sig:
        problems.append("the spec's discovery tables give no interface_signature value")
    elif normal(sig["value"]) != normal(abi["interface_signature"]):
        problems.append(f"interface signature {sig['value']} in the spec ({sig['where']}), "
                        f"{abi['interface_signature']} in the ABI table")

    compare_table(problems, "ID range", spec["id_ranges"], abi["id_ranges"],
                  lambda x: (x["name"], x["applies_to"]), ("first", "last"))

    # Register order (2.1).
    regs = spec["registers"]
    spec_args = [regs["arguments"].get(i) for i in range(max(len(regs["arguments"]), len(abi["registers"]["arguments"])))]
    where = regs.get("where", "2.1")
    if spec_args != abi["registers"]["arguments"]:
        problems.append(f"argument registers {spec_args} in the spec ({where}), "
                        f"{abi['registers']['arguments']} in the ABI table")
    for role in ("call_word", "status", "value"):
        if regs.get(role) != abi["registers"][role]:
            problems.append(f"{role} register {regs.get(role)} in the spec ({where}), "
                            f"{abi['registers'][role]} in the ABI table")

    abi_kinds = kinds_as_spec_writes_them(abi)
    for k in spec["arg_kinds"]:  # a spec row with fields its class does not have shows as a difference
        for f in ("min", "max", "record_size", "enumeration"):
            k.setdefault(f, None)
    for k in abi_kinds:
        for f in ("min", "max", "record_size", "enumeration"):
            k.setdefault(f, None)
    compare_table(problems, "argument kind", spec["arg_kinds"], abi_kinds, lambda x: x["name"],
                  ("class", "reserved", "min", "max", "record_size", "enumeration"))
    compare_table(problems, "result kind", spec["result_kinds"], abi["result_kinds"], lambda x: x["name"], ("class",))

    # Discovery (chapter 3): fields, every register's reserved bits, gates.
    compare_table(problems, "discovery field", spec["discovery_fields"], abi["discovery_fields"],
                  lambda x: (f"B+{x['leaf']}", x["register"]), ("name", "last_bit", "first_bit"))
    for r in abi["discovery_reserved"]:
        key = f"{r['leaf']}:{r['register']}"
        in_spec, in_abi = spec["discovery_reserved"].get(key, 0), int(r["reserved"], 16)
        if in_spec != in_abi:
            problems.append(f"discovery leaf B+{r['leaf']} {r['register']}: reserved bits 0x{in_spec:08x} in the spec, "
                            f"0x{in_abi:08x} in the ABI table")
    compare_table(problems, "gate", spec["gates"], abi["gates"], lambda x: x["name"], ("bit", "mandatory"))

    compare_table(problems, "status", spec["statuses"], abi["statuses"], lambda x: x["name"], ("value",))
    compare_table(problems, "enumeration value", spec["enumerations"], abi["enumerations"],
                  lambda x: (x["enumeration"], x["name"]), ("value",))
    compare_table(problems, "implementation ID", spec["implementations"], abi["implementations"],
                  lambda x: x["id"], ("name",))

    # Record layouts, field by field: a renamed, moved or resized field.
    for name in sorted(set(spec["layouts"]) | {l["name"] for l in abi["layouts"]}):
        in_spec = spec["layouts"].get(name)
        in_abi = next((l for l in abi["layouts"] if l["name"] == name), None)
        if not in_spec:
            problems.append(f"layout {name} is in the ABI table but has no layout table in the spec")
        elif not in_abi:
            problems.append(f"layout {name} is in the spec ({in_spec['where']}) but not in the ABI table")
        else:
            shape = lambda fields: [(f["offset"], f["size"], f["name"]) for f in fields]  # noqa: E731
            if shape(in_spec["fields"]) != shape(in_abi["fields"]):
                problems.append(f"layout {name}: fields (offset, size, name) {shape(in_spec['fields'])} in the spec "
                                f"({in_spec['where']}), {shape(in_abi['fields'])} in the ABI table")

    compare_table(problems, "service", spec["services"], abi["services"], lambda x: x["name"], ("id", "version"))
    # Functions are keyed by (service, function ID); everything else must agree.
    abi_functions = [dict(f, args=[a for a in f["args"] if a != "none"]) for f in abi["functions"]]
    compare_table(problems, "function", spec["functions"], abi_functions,
                  lambda x: (x["service"], x["id"].lower()), ("name", "since", "args", "result", "requirement"))
    for f in abi["functions"]:
        if f["requirement"] not in spec["requirements"]:
            problems.append(f"{f['service']}.{f['name']}: requirement {f['requirement']} is not defined in the spec")
        key = f"{f['service']}.{f['id'].lower()}"
        table = spec["function_statuses"].get(key)
        if table is None:
            problems.append(f"{f['service']}.{f['name']}: the spec has no error table (| Status | When |) for it")
            continue
        if table["name"] != f["name"]:
            problems.append(f"{f['service']}.{f['name']}: its section in the spec ({table['where']}) is headed "
                            f"'{table['name']}'")
        if sorted(table["statuses"]) != sorted(f["statuses"]):
            problems.append(f"{f['service']}.{f['name']}: error table {sorted(table['statuses'])} in the spec "
                            f"({table['where']}), {sorted(f['statuses'])} in the ABI table")
    known = {(f["service"], f["id"].lower()) for f in abi["functions"]}
    for key, table in spec["function_statuses"].items():
        service, fid = key.split(".")
        if (service, fid) not in known:
            problems.append(f"{service}.{table['name']}: the spec has an error table ({table['where']}) "
                            "for a function the ABI table lacks")
    return problems


# ---------------------------------------------------------------------------
# Self-test: each kind of difference, on one side only, must be detected.
# ---------------------------------------------------------------------------

def edit_spec(spec_copy, relative, old, new):
    path = spec_copy / relative
    text = path.read_text()
    if old not in text:
        raise AssertionError(f"self-test: '{old}' not found in {relative}; update the self-test")
    path.write_text(text.replace(old, new, 1))


def self_test(spec_dir, abi_path):
    """Proves the check can fail: makes one change on one side only, for each kind of
    difference, and expects a report that names it."""
    failures = []
    if compare(spec_dir, abi_path):
        failures.append("the unmodified spec and ABI table do not agree; fix that first")
    abi_original = json.loads(pathlib.Path(abi_path).read_text())

    def abi_case(title, change, expect):
        abi = json.loads(json.dumps(abi_original))
        change(abi)
        with tempfile.TemporaryDirectory() as tmp:
            abi_copy = pathlib.Path(tmp) / "abi.json"
            abi_copy.write_text(json.dumps(abi))
            report(title, compare(spec_dir, abi_copy), expect)

    def spec_case(title, relative, old, new, expect):
        """Replaces `old` by `new` in one file of a copy of the spec (lists: several replacements)."""
        with tempfile.TemporaryDirectory() as tmp:
            spec_copy = pathlib.Path(tmp) / "spec"
            shutil.copytree(spec_dir, spec_copy)
            for o, n in zip(old, new) if isinstance(old, list) else [(old, new)]:
                edit_spec(spec_copy, relative, o, n)
            report(title, compare(spec_copy, abi_path), expect)

    def report(title, found, expect):
        print(f"{title}:")
        for p in found:
            print("  detected:", p)
        if not any(expect in p for p in found):
            failures.append(f"{title}: not detected (expected a report containing '{expect}')")

    def function(abi, service, name):
        return next(f for f in abi["functions"] if (f["service"], f["name"]) == (service, name))

    def kind(abi, name):
        return next(k for k in abi["arg_kinds"] if k["name"] == name)

    # Renames (what the check caught first).
    spec_case("spec side renamed (console.write -> write_bytes)", "services/console.md",
              "| `write` |", "| `write_bytes` |", "name 'write_bytes'")
    abi_case("ABI side renamed (time.monotonic_ns -> monotonic)",
             lambda a: function(a, "time", "monotonic_ns").update(name="monotonic"), "'monotonic' in the ABI table")

    # A changed mask, on either side.
    abi_case("ABI side mask changed (service_id reserved bits 63:16 -> 63:8)",
             lambda a: kind(a, "service_id").update(reserved="0xffffffffffffff00"), "argument kind service_id")
    spec_case("spec side mask changed (exit_code reserved bits 63:8 -> 63:9)", "hyperbios.md",
              "| `exit_code` | value | 63:8 |", "| `exit_code` | value | 63:9 |", "argument kind exit_code")
    spec_case("spec side range changed (exit_code 0–255 -> 0–127)", "hyperbios.md",
              "| 63:8 | 0–255 |", "| 63:8 | 0–127 |", "max '127'")

    # A changed error list, on either side.
    spec_case("spec side error list changed (console.write loses INVALID_ADDRESS)", "services/console.md",
              "| `INVALID_ADDRESS` | the buffer is not entirely in guest RAM |\n| `IO_ERROR` | the host could not write",
              "| `IO_ERROR` | the host could not write", "console.write: error table")
    abi_case("ABI side error list changed (power.reboot may also return AGAIN)",
             lambda a: function(a, "power", "reboot")["statuses"].append("AGAIN"), "power.reboot: error table")

    # A changed discovery field, on either side.
    spec_case("spec side discovery field changed (gate_port 15:0 -> 7:0)", "hyperbios.md",
              "| EDX | 15:0 | `gate_port` |", "| EDX | 7:0 | `gate_port` |", "discovery field B+1 EDX")
    abi_case("ABI side gate moved (vmmcall bit 2 -> 3)",
             lambda a: next(g for g in a["gates"] if g["name"] == "vmmcall").update(bit=3), "gate vmmcall")
    abi_case("ABI side reserved bits changed (leaf B+2 EBX no longer reserved)",
             lambda a: next(r for r in a["discovery_reserved"] if (r["leaf"], r["register"]) == (2, "EBX"))
             .update(reserved="0x00000000"), "leaf B+2 EBX: reserved bits")

    # A changed register order, on either side.
    spec_case("spec side register order changed (RSI and RCX swapped)", "hyperbios.md",
              ["| RSI | argument 1 |", "| RCX | argument 2 |"], ["| RSI | argument 2 |", "| RCX | argument 1 |"],
              "argument registers")
    abi_case("ABI side register order changed (R8 and R9 swapped)",
             lambda a: a["registers"].update(arguments=["RDI", "RSI", "RCX", "R9", "R8"]), "argument registers")

    # The rest of what the table carries.
    abi_case("ABI side version changed (one minor version more)",
             lambda a: a.update(spec_version="%d.%d" % (int(a["spec_version"].split(".")[0]), int(a["spec_version"].split(".")[1]) + 1),
                                interface_version="0x%08x" % (int(a["interface_version"], 16) + 1)), "version")
    spec_case("spec side enumeration value changed (guest_reboot 1 -> 2)", "services/power.md",
              "| 1 | `guest_reboot` |", "| 2 | `guest_reboot` |", "enumeration value reset_reason guest_reboot")
    spec_case("spec side implementation ID renamed (hbvm -> hbvm2)", "hyperbios.md",
              "| 1 | `hbvm` |", "| 1 | `hbvm2` |", "implementation ID 1")
    abi_case("ABI side ID range changed (vendor services from 0x9000)",
             lambda a: next(r for r in a["id_ranges"] if r["name"] == "vendor").update(first="0x9000"),
             "ID range vendor")
    # A record layout: a field renamed, moved or resized on one side.
    spec_case("spec side layout field renamed (mem_region.type -> kind)", "services/mem.md",
              "| 16 | 4 | `type` |", "| 16 | 4 | `kind` |", "layout mem_region")
    spec_case("spec side layout field moved (mem_region.length at 12)", "services/mem.md",
              "| 8 | 8 | `length` |", "| 12 | 8 | `length` |", "layout mem_region")
    spec_case("spec side layout field resized (mem_map_header.entry_count 4 -> 2 bytes)", "services/mem.md",
              "| 8 | 4 | `entry_count` |", "| 8 | 2 | `entry_count` |", "layout mem_map_header")
    abi_case("ABI side layout field moved (mem_region.base at 4)",
             lambda a: next(l for l in a["layouts"] if l["name"] == "mem_region")["fields"][0].update(offset=4),
             "layout mem_region")
    abi_case("ABI side argument kind changed (console.read takes an in_buffer)",
             lambda a: function(a, "console", "read")["args"].__setitem__(0, "in_buffer"), "args")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--self-test", action="store_true",
                        help="check that a difference of each kind, on one side only, is detected")
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
    if problems:
        print(f"spec and ABI table disagree in {len(problems)} place(s)")
        return 1
    spec = hyperbios_spec.parse(args.spec_dir)
    print(f"spec and ABI table agree: version {spec['version']['version']}, {len(spec['services'])} services, "
          f"{len(spec['functions'])} functions with their error tables, {len(spec['statuses'])} status codes, "
          f"{len(spec['arg_kinds'])} argument kinds, {len(spec['result_kinds'])} result kinds, "
          f"{len(spec['enumerations'])} enumeration values, {len(spec['discovery_fields'])} discovery fields, "
          f"{len(spec['gates'])} gates, {len(spec['id_ranges'])} ID ranges, "
          f"{len(spec['implementations'])} implementation IDs, {len(spec['requirements'])} requirements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
