"""Reads the HyperBIOS specification (spec/*.md) into data.

The spec's machine-readable parts have fixed shapes, which this module parses:

- requirements:   ``- **HB-AREA-NNN** (LEVEL): text``
- a service head: ``**Service ID:** 0x0001 · **Name:** `console` · **Version:** 1``
- function rows:  ``| 0x0000 | `write` | 0.1 | HB-CON-001 |`` (in a service chapter)
- status rows:    ``| -3 | `INVALID_PARAM` | meaning |``

Standard library only: the tools run on /usr/bin/python3 without extra modules.
"""

import pathlib
import re

REQUIREMENT = re.compile(r"^- \*\*(HB-[A-Z]+-\d{3})\*\* \((MUST|SHOULD|MAY)\): (.+)$")
SERVICE_HEAD = re.compile(r"^\*\*Service ID:\*\* (0x[0-9A-Fa-f]{4}) · \*\*Name:\*\* `(\w+)` · \*\*Version:\*\* (\d+)\s*$")
FUNCTION_ROW = re.compile(r"^\| (0x[0-9A-Fa-f]{4}) \| `(\w+)` \| (\d+\.\d+) \| (HB-[A-Z]+-\d{3}) \|\s*$")
STATUS_ROW = re.compile(r"^\| (-?\d+) \| `([A-Z_]+)` \| .+\|\s*$")
KEYWORDS = {"MUST": ("MUST", "MUST NOT"), "SHOULD": ("SHOULD", "SHOULD NOT"), "MAY": ("MAY",)}


class SpecError(Exception):
    pass


def spec_files(spec_dir):
    root = pathlib.Path(spec_dir)
    return sorted(p for p in root.rglob("*.md") if p.name != "README.md")


def parse(spec_dir):
    """Returns {'requirements': {id: {...}}, 'services': [...], 'functions': [...], 'statuses': [...]}.

    Raises SpecError for malformed or duplicated entries, naming file and line."""
    requirements, services, functions, statuses = {}, [], [], []
    errors = []
    for path in spec_files(spec_dir):
        current_service = None
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path}:{number}"
            if line.startswith("- **HB-"):
                m = REQUIREMENT.match(line)
                if not m:
                    errors.append(f"{where}: requirement not in the form '- **HB-AREA-NNN** (LEVEL): text'")
                    continue
                rid, level, text = m.groups()
                if rid in requirements:
                    errors.append(f"{where}: requirement {rid} is defined twice (first at {requirements[rid]['where']})")
                if not any(re.search(rf"\b{k}\b", text) for k in KEYWORDS[level]):
                    errors.append(f"{where}: requirement {rid} is marked {level} but its text does not say {level}")
                requirements[rid] = {"id": rid, "level": level, "text": text, "where": where}
                continue
            m = SERVICE_HEAD.match(line)
            if m:
                current_service = m.group(2)
                services.append({"name": current_service, "id": m.group(1).lower(),
                                 "version": int(m.group(3)), "where": where})
                continue
            m = FUNCTION_ROW.match(line)
            if m:
                if current_service is None:
                    errors.append(f"{where}: function row outside a service chapter")
                    continue
                functions.append({"service": current_service, "id": m.group(1).lower(), "name": m.group(2),
                                  "since": m.group(3), "requirement": m.group(4), "where": where})
                continue
            m = STATUS_ROW.match(line)
            if m:
                statuses.append({"value": int(m.group(1)), "name": m.group(2), "where": where})
    if errors:
        raise SpecError("\n".join(errors))
    return {"requirements": requirements, "services": services, "functions": functions, "statuses": statuses}
