#!/usr/bin/python3
"""Checks that CITATION.cff cites the spec as it is: its `version` and
`date-released`, at the top and in `preferred-citation`, are the version and
date of the spec's version line (hyperbios_spec.parse()'s spec["version"]),
every "HyperBIOS M.N" it gives as an example names that version, the preferred
citation is a `standard` titled as spec/hyperbios.md's first heading, and
`cff-version` is 1.2.0. Nothing here is written down twice: a new spec version
fails this check until CITATION.cff follows.

usage: check_citation.py CITATION_CFF SPEC_DIR
       check_citation.py --self-test CITATION_CFF SPEC_DIR   (each kind of drift is caught)

Standard library only: CITATION.cff is read with the small YAML reader below,
which knows what the file uses (mappings by indentation, plain and quoted
scalars, folded `>-` scalars, sequences, which it skips).
"""

import argparse
import pathlib
import re
import shutil
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import hyperbios_spec  # noqa: E402

KEY = re.compile(r"^( *)([A-Za-z][\w-]*):(?:[ \t]+(.*?))?[ \t]*$")
CITED_VERSION = re.compile(r"HyperBIOS (\d+\.\d+)\b")


def scalar(text):
    text = re.sub(r"\s+#.*$", "", text) if not text.startswith(("'", '"')) else text
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r'\\(["\\])', r"\1", text[1:-1])
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


def read_cff(text):
    """The scalar fields of the file by path: {'version': '0.4', 'preferred-citation.version': '0.4', ...}."""
    fields = {}
    parents = []  # [(indent, key)] of the mappings the line is in
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        while parents and parents[-1][0] >= indent:
            parents.pop()
        if line.lstrip().startswith("- "):  # a sequence item and what is indented under it
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip(" ")) > indent):
                i += 1
            continue
        m = KEY.match(line)
        if not m:
            raise ValueError(f"line {i}: not 'key: value' ({line.strip()})")
        key = ".".join([k for _, k in parents] + [m.group(2)])
        value = m.group(3)
        if not value:
            parents.append((indent, m.group(2)))
        elif value in (">", ">-", "|", "|-"):
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip(" ")) > indent):
                block.append(lines[i].strip())
                i += 1
            fields[key] = (" " if value.startswith(">") else "\n").join(block).strip()
        else:
            fields[key] = scalar(value)
    return fields


def spec_title(spec_dir):
    for line in (pathlib.Path(spec_dir) / "hyperbios.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def problems(cff_text, spec_dir):
    spec = hyperbios_spec.parse(spec_dir)
    if not spec["version"]:
        return [f"{spec_dir}/hyperbios.md has no version line"]
    version, date, where = spec["version"]["version"], spec["version"]["date"], spec["version"]["where"]
    try:
        fields = read_cff(cff_text)
    except ValueError as e:
        return [f"CITATION.cff: {e}"]
    found = []
    expected = {
        "cff-version": ("1.2.0", "the format this file is written in"),
        "version": (version, f"the spec's version ({where})"),
        "date-released": (date, f"the date of the spec's version line ({where})"),
        "preferred-citation.type": ("standard", "the spec is cited as a standard"),
        "preferred-citation.title": (spec_title(spec_dir), "the first heading of hyperbios.md"),
        "preferred-citation.version": (version, f"the spec's version ({where})"),
        "preferred-citation.date-released": (date, f"the date of the spec's version line ({where})"),
    }
    for key, (want, why) in expected.items():
        if fields.get(key) != want:
            found.append(f"CITATION.cff: {key} is {fields.get(key)!r}, not {want!r}: {why}")
    for m in CITED_VERSION.finditer(cff_text):
        if m.group(1) != version:
            line = cff_text.count("\n", 0, m.start()) + 1
            found.append(f"CITATION.cff:{line}: cites '{m.group()}', but the spec is version {version} ({where})")
    return found


def self_test(cff_path, spec_dir):
    """Changes one thing at a time, in a copy of CITATION.cff or of the spec, and expects a report."""
    original = pathlib.Path(cff_path).read_text(encoding="utf-8")
    failures = []
    if problems(original, spec_dir):
        failures.append("CITATION.cff and the spec do not agree to begin with; fix that first")

    def expect(title, found, wanted):
        print(f"{title}:")
        for p in found:
            print("  detected:", p)
        if not any(wanted in p for p in found):
            failures.append(f"{title}: not detected (expected a report containing '{wanted}')")

    def cff_case(title, old, new, wanted, count=1):
        """Replaces the count-th occurrence of `old` (the second: the one in preferred-citation)."""
        position = -1
        for _ in range(count):
            position = original.find(old, position + 1)
            if position < 0:
                failures.append(f"{title}: '{old}' is not in CITATION.cff {count} times; update the self-test")
                return
        changed = original[:position] + new + original[position + len(old):]
        expect(title, problems(changed, spec_dir), wanted)

    version = hyperbios_spec.parse(spec_dir)["version"]
    quoted_version, quoted_date = f'"{version["version"]}"', f'"{version["date"]}"'
    cff_case("the top-level version differs", f"version: {quoted_version}", 'version: "9.9"', "version is '9.9'")
    cff_case("the preferred citation's version differs", f"version: {quoted_version}", 'version: "9.9"',
             "preferred-citation.version is '9.9'", count=2)
    cff_case("the top-level date differs", f"date-released: {quoted_date}", 'date-released: "1999-01-01"',
             "date-released is '1999-01-01'")
    cff_case("the preferred citation's date differs", f"date-released: {quoted_date}",
             'date-released: "1999-01-01"', "preferred-citation.date-released is '1999-01-01'", count=2)
    cff_case("an example cites another version", f"HyperBIOS {version['version']},", "HyperBIOS 0.1,",
             "cites 'HyperBIOS 0.1'")
    cff_case("the preferred citation is not a standard", "type: standard", "type: generic",
             "preferred-citation.type is 'generic'")
    cff_case("the title differs", 'title: "HyperBIOS Interface Specification"', 'title: "HyperBIOS"',
             "preferred-citation.title is 'HyperBIOS'", count=2)

    # The other side: a spec whose version moved on, with CITATION.cff as it is.
    with tempfile.TemporaryDirectory() as tmp:
        spec_copy = pathlib.Path(tmp) / "spec"
        shutil.copytree(spec_dir, spec_copy, ignore=shutil.ignore_patterns("tools", "man"))
        main = spec_copy / "hyperbios.md"
        text = main.read_text(encoding="utf-8")
        line = f"**Version {version['version']} (draft)** · {version['date']}"
        if line not in text:
            failures.append(f"the spec's version line does not start with '{line}'; update the self-test")
        else:
            main.write_text(text.replace(line, "**Version 9.8 (draft)** · 2031-02-03", 1), encoding="utf-8")
            found = problems(original, spec_copy)
            expect("the spec moved to version 9.8", found, "version is")
            expect("the spec moved to 2031-02-03", found, "'2031-02-03'")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--self-test", action="store_true", help="check that each kind of drift is detected")
    parser.add_argument("citation_cff")
    parser.add_argument("spec_dir")
    args = parser.parse_args()
    if args.self_test:
        failures = self_test(args.citation_cff, args.spec_dir)
        for f in failures:
            print("FAIL:", f)
        print("self-test:", "failed" if failures else "passed")
        return 1 if failures else 0
    found = problems(pathlib.Path(args.citation_cff).read_text(encoding="utf-8"), args.spec_dir)
    for p in found:
        print(p)
    if not found:
        version = hyperbios_spec.parse(args.spec_dir)["version"]
        print(f"CITATION.cff cites HyperBIOS {version['version']} of {version['date']}, as the spec says")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
