"""Reads the HyperBIOS specification (spec/*.md) into data.

The spec's machine-readable parts have fixed shapes, documented in spec/README.md.
Lines outside tables:

- requirements:   ``- **HB-AREA-NNN** (LEVEL): text``; withdrawn ones
                  ``- **HB-AREA-NNN** (withdrawn): why`` (in ``withdrawn``, not ``requirements``)
- the header:     ``**Version 0.2 (draft)** · 2026-11-30 · Interface version value `0x00000002```
- a service head: ``**Service ID:** 0x0001 · **Name:** `console` · **Version:** 1``
- a function section heading: ``## 6.2 write (0x0000)`` (in a service chapter)

Tables are recognised by their header row, and each row of a recognised table
must have the table's shape (a row that does not is an error, so that a typo
cannot hide an entry from the check):

- function listings  ``| Function ID | Name | Since | Arguments | Result | Requirement |``
- error tables       ``| Status | When |`` (under a function section heading)
- status codes       ``| Value | Name | Meaning |``
- enumerations       ``| Value | `reset_reason` | Meaning |`` (the enumeration's name in the header)
- registers          ``| Register | On entry | On return |``
- argument kinds     ``| Kind | Class | Reserved bits | Valid values | Meaning |``
- result kinds       ``| Kind | Class | Value in RDX |``
- discovery leaves   ``| Register | Bits | Field | Content |`` (under a heading ending in ``leaf *B*`` or ``leaf *B* + n``)
- gates              ``| Bit | Gate | Offer |``
- ID ranges          ``| IDs | First | Last | Range | Use |``
- implementation IDs ``| ID | Name | Implementation |``
- record layouts     ``| Offset | Size | Field | Meaning |`` (under a heading ending in ``layout `name```)

Standard library only: the tools run on /usr/bin/python3 without extra modules.
"""

import pathlib
import re

REQUIREMENT = re.compile(r"^- \*\*(HB-[A-Z]+-\d{3})\*\* \((MUST|SHOULD|MAY)\): (.+)$")
# A withdrawn requirement keeps its number and says why (spec 1.1); it binds nobody.
WITHDRAWN = re.compile(r"^- \*\*(HB-[A-Z]+-\d{3})\*\* \(withdrawn\): (.+)$")
VERSION_LINE = re.compile(r"^\*\*Version (\d+)\.(\d+) \(draft\)\*\* · (\d{4}-\d{2}-\d{2}) · "
                          r"Interface version value `(0x[0-9A-Fa-f]{8})`\s*$")
SERVICE_HEAD = re.compile(r"^\*\*Service ID:\*\* (0x[0-9A-Fa-f]{4}) · \*\*Name:\*\* `(\w+)` · \*\*Version:\*\* (\d+)\s*$")
FUNCTION_HEADING = re.compile(r"^##+ [\d.]+ (\w+) \((0x[0-9A-Fa-f]{4})\)\s*$")
LEAF_HEADING = re.compile(r"^##+ .*leaf \*B\*(?: \+ (\d+))?\s*$")
LAYOUT_HEADING = re.compile(r"^##+ .*[Ll]ayout `(\w+)`\s*$")
KEYWORDS = {"MUST": ("MUST", "MUST NOT"), "SHOULD": ("SHOULD", "SHOULD NOT"), "MAY": ("MAY",)}
CODE = re.compile(r"^`(\w+)`$")
NONE_CELLS = ("—", "-", "")
CPUID_REGISTERS = ("EAX", "EBX", "ECX", "EDX")


class SpecError(Exception):
    pass


def spec_files(spec_dir):
    root = pathlib.Path(spec_dir)
    return sorted(p for p in root.rglob("*.md") if p.name != "README.md")


def cells(line):
    """The cells of a table row; `\\|` inside a cell is a literal bar."""
    inner = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def is_separator(line):
    return bool(re.match(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$", line))


def number(text):
    """A decimal or 0x-hexadecimal number; underscores and thin spaces allowed as in the text."""
    t = text.replace(" ", "").replace("\u202f", "").replace("_", "")
    return int(t, 16) if t.lower().startswith("0x") else int(t)


def bit_range(text):
    """'63:16' -> (63, 16); '5' -> (5, 5)."""
    m = re.match(r"^(\d+)(?::(\d+))?$", text)
    if not m:
        raise ValueError(f"'{text}' is not a bit range like 63:16")
    last = int(m.group(1))
    first = int(m.group(2)) if m.group(2) is not None else last
    if first > last:
        raise ValueError(f"bit range '{text}' has its low bit first")
    return last, first


def mask(last, first):
    return ((1 << (last - first + 1)) - 1) << first


def bit_ranges_mask(text):
    """'63:16, 5:0' -> the mask of every range listed."""
    value = 0
    for part in text.split(","):
        value |= mask(*bit_range(part.strip()))
    return value


def code_name(text, what):
    m = CODE.match(text)
    if not m:
        raise ValueError(f"{what} '{text}' is not a name in backticks")
    return m.group(1)


def kind_list(text):
    """'`out_buffer`, `length`' -> ['out_buffer', 'length']; '—' -> []."""
    if text in NONE_CELLS:
        return []
    return [code_name(part.strip(), "argument kind") for part in text.split(",")]


def valid_values(text):
    """Parses the Valid values cell of an argument kind: {'min', 'max'} or {'record_size'} or {'enumeration'}."""
    if text == "any":
        return {"min": 0, "max": (1 << 64) - 1}
    m = re.match(r"^record of (\d+) bytes$", text)
    if m:
        return {"record_size": int(m.group(1))}
    m = re.match(r"^a value of `(\w+)`$", text)
    if m:
        return {"enumeration": m.group(1)}
    m = re.match(r"^([0-9A-Fa-fx]+)–([0-9A-Fa-fx]+)(,.*)?$", text)
    if m:
        return {"min": number(m.group(1)), "max": number(m.group(2))}
    raise ValueError(f"valid values '{text}' are not 'any', 'A–B', 'record of N bytes' or 'a value of `name`'")


def table_kind(header):
    """Which machine-readable table a header row starts, or None."""
    h = tuple(header)
    if h == ("Function ID", "Name", "Since", "Arguments", "Result", "Requirement"):
        return "functions"
    if h == ("Status", "When"):
        return "errors"
    if h == ("Value", "Name", "Meaning"):
        return "statuses"
    if len(h) == 3 and h[0] == "Value" and h[2] == "Meaning" and CODE.match(h[1]):
        return "enumeration"
    if h == ("Register", "On entry", "On return"):
        return "registers"
    if h == ("Kind", "Class", "Reserved bits", "Valid values", "Meaning"):
        return "arg_kinds"
    if h == ("Kind", "Class", "Value in RDX"):
        return "result_kinds"
    if h == ("Register", "Bits", "Field", "Content"):
        return "discovery"
    if h == ("Bit", "Gate", "Offer"):
        return "gates"
    if h == ("IDs", "First", "Last", "Range", "Use"):
        return "id_ranges"
    if h == ("ID", "Name", "Implementation"):
        return "implementations"
    if h == ("Offset", "Size", "Field", "Meaning"):
        return "layout"
    return None


def empty_spec():
    return {"requirements": {}, "withdrawn": {}, "version": None, "services": [], "functions": [], "statuses": [],
            "function_statuses": {}, "enumerations": [], "registers": {"arguments": {}}, "arg_kinds": [],
            "result_kinds": [], "discovery_fields": [], "discovery_reserved": {}, "interface_signature": None,
            "gates": [], "id_ranges": [], "implementations": [], "layouts": {}}


def _row(spec, kind, c, state, where):
    """Reads one row of a table of `kind` into `spec`; raises ValueError when the row has the wrong shape."""
    if kind == "functions":
        if state["service"] is None:
            raise ValueError("function row outside a service chapter")
        if len(c) != 6 or not re.match(r"^0x[0-9A-Fa-f]{4}$", c[0]) or not re.match(r"^\d+\.\d+$", c[2]) \
                or not re.match(r"^HB-[A-Z]+-\d{3}$", c[5]):
            raise ValueError("function row not in the form | 0x0000 | `name` | 0.1 | `kind`, ... | `result` | HB-X-NNN |")
        spec["functions"].append({"service": state["service"], "id": c[0].lower(), "name": code_name(c[1], "name"),
                                  "since": c[2], "args": kind_list(c[3]), "result": code_name(c[4], "result"),
                                  "requirement": c[5], "where": where})
    elif kind == "errors":
        fn = state["function"]
        if fn is None:
            raise ValueError("error table outside a function section ('## N.M name (0x0000)')")
        entry = spec["function_statuses"].setdefault(f"{fn[0]}.{fn[1]}", {"name": fn[2], "statuses": [], "where": where})
        if c[0] == "(none)":
            return  # a function that does not return: no SUCCESS
        entry["statuses"].append(code_name(c[0], "status"))
    elif kind == "statuses":
        spec["statuses"].append({"value": int(c[0]), "name": code_name(c[1], "status"), "where": where})
    elif kind == "enumeration":
        if c[0] == "others":
            return
        spec["enumerations"].append({"enumeration": state["enumeration"], "name": code_name(c[1], "name"),
                                     "value": number(c[0]), "where": where})
    elif kind == "registers":
        reg, entry, ret = c[0], c[1].lower(), c[2].lower()
        if not re.match(r"^R[A-Z0-9]+$", reg):
            return  # "all other general-purpose registers ..."
        m = re.match(r"^argument (\d+)$", entry)
        if m:
            if int(m.group(1)) in spec["registers"]["arguments"]:
                raise ValueError(f"two registers carry argument {m.group(1)}")
            spec["registers"]["arguments"][int(m.group(1))] = reg
        elif entry == "call word":
            spec["registers"]["call_word"] = reg
        if ret.startswith("status"):
            spec["registers"]["status"] = reg
        elif ret == "value":
            spec["registers"]["value"] = reg
        spec["registers"]["where"] = where
    elif kind == "arg_kinds":
        entry = {"name": code_name(c[0], "kind"), "class": c[1], "where": where}
        entry["reserved"] = 0 if c[2] in NONE_CELLS else bit_ranges_mask(c[2])
        entry.update(valid_values(c[3]))
        spec["arg_kinds"].append(entry)
    elif kind == "result_kinds":
        spec["result_kinds"].append({"name": code_name(c[0], "kind"), "class": c[1], "where": where})
    elif kind == "discovery":
        leaf = state["leaf"]
        if leaf is None:
            raise ValueError("discovery table outside a section headed '... leaf *B*' or '... leaf *B* + n'")
        regs = [r.strip() for r in c[0].split(",")]
        if any(r not in CPUID_REGISTERS for r in regs):
            raise ValueError(f"register '{c[0]}' is not EAX, EBX, ECX or EDX")
        last, first = bit_range(c[1])
        for reg in regs:
            if c[2] == "reserved":
                key = f"{leaf}:{reg}"
                spec["discovery_reserved"][key] = spec["discovery_reserved"].get(key, 0) | mask(last, first)
            else:
                name = code_name(c[2], "field")
                spec["discovery_fields"].append({"leaf": leaf, "register": reg, "last_bit": last,
                                                 "first_bit": first, "name": name, "where": where})
                if name == "interface_signature":
                    m = re.search(r"`(0x[0-9A-Fa-f]{8})`", c[3])
                    if not m:
                        raise ValueError("the interface_signature row does not give the value as `0x........`")
                    spec["interface_signature"] = {"value": m.group(1).lower(), "where": where}
    elif kind == "gates":
        if c[2] not in ("mandatory", "optional"):
            raise ValueError(f"gate offer '{c[2]}' is not 'mandatory' or 'optional'")
        spec["gates"].append({"name": code_name(c[1], "gate"), "bit": int(c[0]), "mandatory": c[2] == "mandatory",
                              "where": where})
    elif kind == "id_ranges":
        applies = {"service IDs": "services", "function IDs": "functions",
                   "implementation IDs": "implementations"}.get(c[0])
        if applies is None:
            raise ValueError(f"'{c[0]}' is not 'service IDs', 'function IDs' or 'implementation IDs'")
        spec["id_ranges"].append({"name": code_name(c[3], "range"), "applies_to": applies,
                                  "first": "0x%04x" % number(c[1]), "last": "0x%04x" % number(c[2]), "where": where})
    elif kind == "layout":
        name = state["layout"]
        if name is None:
            raise ValueError("layout table outside a section headed '... layout `name`'")
        if not re.match(r"^\d+$", c[0]) or not re.match(r"^\d+$", c[1]):
            raise ValueError("layout row not in the form | offset | size | `field` | meaning |")
        layout = spec["layouts"].setdefault(name, {"name": name, "fields": [], "where": where})
        layout["fields"].append({"name": code_name(c[2], "field"), "offset": int(c[0]), "size": int(c[1]),
                                 "where": where})
    elif kind == "implementations":
        if c[1] in NONE_CELLS:
            if number(c[0]) != 0:
                raise ValueError("only ID 0 may be listed without a name (reserved)")
            return
        spec["implementations"].append({"id": number(c[0]), "name": code_name(c[1], "name"), "where": where})


def parse(spec_dir):
    """Returns the spec's machine-readable content as a dict (see empty_spec for the keys).

    Raises SpecError for malformed or duplicated entries, naming file and line."""
    spec = empty_spec()
    requirements = spec["requirements"]
    errors = []
    for path in spec_files(spec_dir):
        state = {"service": None, "function": None, "leaf": None, "enumeration": None, "layout": None}
        table = None  # kind of the table being read, or None
        lines = path.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            number_ = index + 1
            where = f"{path}:{number_}"
            if line.startswith("|"):
                if is_separator(line):
                    continue
                if index + 1 < len(lines) and is_separator(lines[index + 1]):
                    header = cells(line)
                    table = table_kind(header)
                    if table == "enumeration":
                        state["enumeration"] = CODE.match(header[1]).group(1)
                    continue
                if table:
                    try:
                        _row(spec, table, cells(line), state, where)
                    except ValueError as e:
                        errors.append(f"{where}: {e}")
                continue
            table = None
            if line.startswith("- **HB-"):
                m = WITHDRAWN.match(line)
                if m:
                    rid = m.group(1)
                    if rid in requirements or rid in spec["withdrawn"]:
                        errors.append(f"{where}: requirement {rid} is defined twice")
                    spec["withdrawn"][rid] = {"id": rid, "text": m.group(2), "where": where}
                    continue
                m = REQUIREMENT.match(line)
                if not m:
                    errors.append(f"{where}: requirement not in the form '- **HB-AREA-NNN** (LEVEL): text'")
                    continue
                rid, level, text = m.groups()
                if rid in spec["withdrawn"]:
                    errors.append(f"{where}: requirement {rid} is withdrawn at {spec['withdrawn'][rid]['where']}")
                if rid in requirements:
                    errors.append(f"{where}: requirement {rid} is defined twice (first at {requirements[rid]['where']})")
                if not any(re.search(rf"\b{k}\b", text) for k in KEYWORDS[level]):
                    errors.append(f"{where}: requirement {rid} is marked {level} but its text does not say {level}")
                requirements[rid] = {"id": rid, "level": level, "text": text, "where": where}
                continue
            if line.startswith("**Version"):
                m = VERSION_LINE.match(line)
                if not m:
                    errors.append(f"{where}: version line not in the form '**Version M.N (draft)** · YYYY-MM-DD · "
                                  "Interface version value `0x0000000N`'")
                    continue
                spec["version"] = {"version": f"{int(m.group(1))}.{int(m.group(2))}", "date": m.group(3),
                                   "value": m.group(4).lower(), "where": where}
                continue
            m = SERVICE_HEAD.match(line)
            if m:
                state["service"] = m.group(2)
                spec["services"].append({"name": state["service"], "id": m.group(1).lower(),
                                         "version": int(m.group(3)), "where": where})
                continue
            if line.startswith("#"):
                m = FUNCTION_HEADING.match(line)
                state["function"] = (state["service"], m.group(2).lower(), m.group(1)) if m and state["service"] else None
                m = LEAF_HEADING.match(line)
                state["leaf"] = int(m.group(1) or 0) if m else None
                m = LAYOUT_HEADING.match(line)
                state["layout"] = m.group(1) if m else None
    if errors:
        raise SpecError("\n".join(errors))
    return spec
