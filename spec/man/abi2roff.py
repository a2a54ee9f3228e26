#!/usr/bin/python3
"""abi2roff: hyperbios(7) from the ABI table and a short prose template.

Reads abi.json (which the build makes from include/hyperbios/abi.hpp) and a roff
template (spec/man/hyperbios.7.in) and writes the page. The template is the prose;
every table of the ABI comes from abi.json, through these placeholders:

  @SPEC_VERSION@ @INTERFACE_VERSION@ @INTERFACE_SIGNATURE@   (in a line)
  @ABI:discovery@ @ABI:gates@ @ABI:registers@ @ABI:statuses@
  @ABI:id_ranges@ @ABI:implementation_id_ranges@ @ABI:services@ @ABI:implementations@  (a line of their own)

Each @ABI:...@ must be used exactly once, so no table is left out and none is
written by hand. Stdlib only. Usage:
  abi2roff.py --abi build/abi.json --template spec/man/hyperbios.7.in
              --source 'HyperBIOS 0.1.0' --output build/man/hyperbios.7
"""

import argparse
import json
import os
import re
import sys
import time


def esc(text):
    text = str(text).replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def table(columns, rows, format_line=None):
    """A tbl(1) table: a bold header row, then the rows; tab-separated."""
    out = [".TS", "tab(\t) nokeep;", " ".join("lb" for _ in columns), (format_line or " ".join("l" for _ in columns)) + "."]
    out.append("\t".join(esc(c) for c in columns))
    out += ["\t".join(esc(c) for c in row) for row in rows]
    out.append(".TE")
    return out


def hexa(value):
    """0x4f494248 -> 0x4F494248, as the specification writes numbers."""
    return "0x" + value[2:].upper()


def leaf(n):
    return "B" if n == 0 else f"B+{n}"


def bit_ranges(mask):
    """0xfffffff8 -> ['31:3']"""
    ranges, bit = [], 0
    while bit < 32:
        if mask >> bit & 1:
            start = bit
            while bit < 32 and mask >> bit & 1:
                bit += 1
            ranges.append(f"{bit - 1}:{start}" if bit - 1 != start else str(start))
        else:
            bit += 1
    return ranges


def discovery(abi):
    rows = []
    reserved = {(r["leaf"], r["register"]): int(r["reserved"], 16) for r in abi["discovery_reserved"]}
    registers = ["EAX", "EBX", "ECX", "EDX"]
    for n in sorted({r["leaf"] for r in abi["discovery_reserved"]} | {f["leaf"] for f in abi["discovery_fields"]}):
        for register in registers:
            entries = [(f["last_bit"], f"{f['last_bit']}:{f['first_bit']}", f["name"])
                       for f in abi["discovery_fields"] if f["leaf"] == n and f["register"] == register]
            entries += [(int(r.split(":")[0]), r, "reserved") for r in bit_ranges(reserved.get((n, register), 0))]
            for _, bits, name in sorted(entries):
                rows.append([leaf(n), register, bits, name])
    return table(["Leaf", "Register", "Bits", "Field"], rows)


def gates(abi):
    return table(["Bit", "Gate", "Offer"],
                 [[g["bit"], g["name"], "mandatory" if g["mandatory"] else "optional"] for g in abi["gates"]])


def registers(abi):
    r = abi["registers"]
    rows = [[r["call_word"], "call word: service ID in bits 31:16, function ID in bits 15:0", "status"]]
    rows += [[reg, f"argument {i}", "preserved"] for i, reg in enumerate(r["arguments"])]
    rows.append([r["value"], "gate-specific (the port, for the port-I/O gate)", "value"])
    out = [".TS", "tab(\t) nokeep;", "lb lb lb", "l lx l.", "Register\tOn entry\tOn return"]
    for reg, entry, result in rows:
        out.append(f"{esc(reg)}\tT{{\n{esc(entry)}\nT}}\t{esc(result)}")
    out.append(".TE")
    return out


def statuses(abi):
    general = set(abi["general_statuses"])
    return table(["Value", "Name", "Any call"],
                 [[s["value"], s["name"], "yes" if s["name"] in general else ""] for s in abi["statuses"]],
                 "r l l")


def id_ranges(abi):
    return table(["IDs", "First", "Last", "Range"],
                 [[f"{r['applies_to'][:-1]} IDs", hexa(r["first"]), hexa(r["last"]), r["name"]] for r in abi["id_ranges"]
                  if r["applies_to"] != "implementations"])


def implementation_id_ranges(abi):
    return table(["First", "Last", "Range"],
                 [[hexa(r["first"]), hexa(r["last"]), r["name"]] for r in abi["id_ranges"]
                  if r["applies_to"] == "implementations"])


def implementations(abi):
    return table(["ID", "Name", "Implementation"],
                 [[i["id"], i["name"], i["implementation"]] for i in abi["implementations"]])


def services(abi):
    regs = abi["registers"]["arguments"]
    out = []
    for service in abi["services"]:
        name = service["name"].upper()
        out += [f".SS {esc(name)}", f"Service ID {hexa(service['id'])}, version {service['version']}."]
        for f in (f for f in abi["functions"] if f["service"] == service["name"]):
            args = [f"{regs[i]}\\~{esc(kind)}" for i, kind in enumerate(f["args"]) if kind != "none"]
            out += [".TP", f"\\fB{esc(name)}.{esc(f['name'])}\\fR \\(em {hexa(f['call'])}",
                    f"Arguments: {', '.join(args) if args else 'none'}.",
                    f"Result: {esc(f['result'])}.",
                    f"Statuses: {', '.join(esc(s) for s in f['statuses'])}.",
                    f"Since {esc(f['since'])}; {esc(f['requirement'])}."]
    return out


GENERATORS = {"discovery": discovery, "gates": gates, "registers": registers, "statuses": statuses,
              "id_ranges": id_ranges, "implementation_id_ranges": implementation_id_ranges,
              "services": services, "implementations": implementations}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--abi", required=True)
    parser.add_argument("--template", required=True)
    parser.add_argument("--source", default="")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    with open(args.abi, encoding="utf-8") as f:
        abi = json.load(f)
    with open(args.template, encoding="utf-8") as f:
        template = f.read()
    used = set()
    out = []
    for number, line in enumerate(template.split("\n"), 1):
        if line.startswith('.\\"'):
            out.append(line)
            continue
        m = re.fullmatch(r"@ABI:(\w+)@", line.strip())
        if m:
            if m.group(1) not in GENERATORS or m.group(1) in used:
                sys.exit(f"abi2roff: {args.template}:{number}: unknown or repeated {line.strip()}")
            used.add(m.group(1))
            out += GENERATORS[m.group(1)](abi)
            continue
        if "@ABI:" in line:
            sys.exit(f"abi2roff: {args.template}:{number}: @ABI:...@ must be on a line of its own")
        date = ""
        if "SOURCE_DATE_EPOCH" in os.environ:
            date = time.strftime("%Y-%m-%d", time.gmtime(int(os.environ["SOURCE_DATE_EPOCH"])))
        line = (line.replace("@SPEC_VERSION@", abi["spec_version"])
                    .replace("@INTERFACE_VERSION@", hexa(abi["interface_version"]))
                    .replace("@INTERFACE_SIGNATURE@", hexa(abi["interface_signature"]))
                    .replace("@SOURCE@", args.source).replace("@DATE@", date))
        if re.search(r"@[A-Z_]+@", line):
            sys.exit(f"abi2roff: {args.template}:{number}: unknown placeholder in: {line}")
        out.append(line)
    missing = set(GENERATORS) - used
    if missing:
        sys.exit(f"abi2roff: {args.template} leaves out {', '.join('@ABI:' + m + '@' for m in sorted(missing))}")
    with open(args.output + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(out).rstrip("\n") + "\n")
    os.replace(args.output + ".tmp", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
