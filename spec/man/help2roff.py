#!/usr/bin/python3
"""help2roff: a man page from a program's --help text, so that the two cannot differ.

Runs COMMAND --help (with COLUMNS=80, LC_ALL=C.UTF-8, so argparse wraps the same
way everywhere) and turns the text into roff for man(7):

  first line "prog - what" or "prog: what"   NAME
  "Usage:" / "usage:" block                   SYNOPSIS
  plain paragraphs                            DESCRIPTION ("Label: text" keeps its label)
  "Options...:" block                         OPTIONS (one .TP per option line)
  "Commands:" block                           COMMANDS (the same)
  "Examples:" block                           EXAMPLES (verbatim)
  "Exit status: ..." paragraph                EXIT STATUS

--list SECTION=ARGUMENT adds a section from COMMAND ARGUMENT's output, one
"name  description" a line (e.g. hbvm --list-faults). --include FILE adds the
sections that --help does not have, in help2man's include format: a line
"[SECTION]" (or "[>SECTION]") appends the raw roff that follows to SECTION,
"[<SECTION]" puts it before what the help text gives. Sections come out in the
usual order of man-pages(7).

Stdlib only. Usage:
  help2roff.py --section 1 --source 'HyperBIOS 0.1.0' [--include FILE]
               [--list 'FAULTS=--list-faults'] --output PAGE -- COMMAND...
"""

import argparse
import os
import re
import subprocess
import sys

ORDER = ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", None,
         "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"]
# Labelled paragraphs ("Exit status: ...") that are man page sections of their own.
LABEL_SECTIONS = {"exit status": "EXIT STATUS", "environment": "ENVIRONMENT", "files": "FILES",
                  "see also": "SEE ALSO"}
OPTION_TOKEN = re.compile(r"(?<![\w\-/.{])(--?[A-Za-z][\w-]*)")
METAVAR = re.compile(r"(?<![\w-])([A-Z][A-Z0-9_]*(?:-[A-Z0-9_]+)*(?:\.\.\.)?)(?![\w-])")


def run(command, argument):
    env = dict(os.environ, COLUMNS="80", LC_ALL="C.UTF-8")
    env.pop("PYTHONWARNINGS", None)
    done = subprocess.run(command + [argument], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"help2roff: '{' '.join(command + [argument])}' exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def escape(text):
    """Text for a roff text line: backslashes, dashes (as \\- so they render as the
    ASCII hyphen-minus and are never a line break), and a leading . or '."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def inline(text):
    """Escaped text with the options it names in bold."""
    parts = OPTION_TOKEN.split(text)
    out = []
    for i, part in enumerate(parts):
        out.append(f"\\fB{escape(part)}\\fR" if i % 2 else escape(part))
    return "".join(out)


def synopsis_text(text):
    """Options bold, metavariables (IMAGE, KERNEL-ARGUMENTS...) italic."""
    out = []
    pos = 0
    pattern = re.compile(OPTION_TOKEN.pattern + "|" + METAVAR.pattern)
    for m in pattern.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group(1):
            out.append(f"\\fB{escape(m.group(1))}\\fR")
        else:
            out.append(f"\\fI{escape(m.group(2))}\\fR")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def synopsis_line(text, program):
    if text.startswith(program + " ") or text == program:
        return f"\\fB{escape(program)}\\fR" + synopsis_text(text[len(program):])
    return synopsis_text(text)


def option_tag(spec):
    """'-j N, --jobs N' or 'run IMAGE': METAVARIABLES italic, options and literal words bold."""
    out = []
    pos = 0
    for m in re.finditer(r"(?<![\w-])--?[A-Za-z][\w-]*|[^\s,=\[\]|{}]+", spec):
        word = m.group(0)
        out.append(escape(spec[pos:m.start()]))
        out.append(f"\\fI{escape(word)}\\fR" if METAVAR.fullmatch(word) else f"\\fB{escape(word)}\\fR")
        pos = m.end()
    out.append(escape(spec[pos:]))
    return "".join(out)


def blocks(text):
    """Paragraphs: lists of lines, split at blank lines."""
    current = []
    for line in text.rstrip("\n").split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            yield current
            current = []
    if current:
        yield current


def definition_list(lines):
    """Indented 'tag  text' lines, text continued on deeper-indented lines -> .TP entries."""
    base = min(len(line) - len(line.lstrip()) for line in lines)
    entries = []
    for line in lines:
        stripped = line.strip()
        if entries and len(line) - len(line.lstrip()) > base:
            entries[-1][2].append(stripped)
        else:
            m = re.match(r"(\S.*?)(?:\s{2,}(\S.*))?$", stripped)
            entries.append([base, m.group(1), [m.group(2)] if m.group(2) else []])
    out = []
    for _, tag, text in entries:
        out += [".TP", option_tag(tag)]
        out.append(inline(" ".join(text)) if text else "")
    return [line for line in out if line != ""]


def verbatim(lines):
    width = min(len(line) - len(line.lstrip()) for line in lines)
    return [".PP", ".EX"] + [escape(line[width:]) for line in lines] + [".EE"]


def paragraph(lines):
    """One roff line per paragraph: so a line of the help text that ends in "e.g."
    gets no sentence space."""
    return [".PP", inline(" ".join(line.strip() for line in lines))]


def parse_help(text, program):
    sections = {}
    name = None

    def add(section, roff):
        sections.setdefault(section, []).extend(roff)

    for block in blocks(text):
        first = block[0]
        heading = re.fullmatch(r"([A-Za-z][\w ]*):", first.strip()) if not first.startswith(" ") else None
        if re.match(r"usage:", first, re.I):
            # "Usage:" with indented lines, or argparse's "usage: prog ..." with continuations.
            rest = first.split(":", 1)[1].strip()
            if rest:
                add("SYNOPSIS", [synopsis_line(" ".join([rest] + [l.strip() for l in block[1:]]), program)])
            else:
                lines = [synopsis_line(l.strip(), program) for l in block[1:]]
                add("SYNOPSIS", [x for l in lines for x in (l, ".br")][:-1])
            continue
        if name is None and not first.startswith(" "):
            m = re.match(rf"{re.escape(program)}(?: [\w.]+)?(?: -|:) (.+?)\.?$", first)
            if m:
                name = m.group(1)
                if len(block) > 1:
                    add("DESCRIPTION", paragraph(block[1:]))
                continue
        if heading:
            title = heading.group(1)
            body = block[1:]
            key = title.lower()
            if key.startswith("option"):
                section = "OPTIONS"
                if key != "options":
                    add(section, [".PP", inline(title) + ":"])
                add(section, definition_list(body))
            elif key.startswith("command"):
                add("COMMANDS", definition_list(body))
            elif key.startswith("example"):
                add("EXAMPLES", verbatim(body))
            else:
                add(title.upper(), verbatim(body))
            continue
        label = re.match(r"([A-Z][a-z]+(?: [a-z]+)?): (.*)", first)
        if label and label.group(1).lower() in LABEL_SECTIONS:
            text = label.group(2)[:1].upper() + label.group(2)[1:]  # "the guest's ..." opens a section
            add(LABEL_SECTIONS[label.group(1).lower()], paragraph([text] + block[1:]))
        elif label:
            text = " ".join([label.group(2)] + [line.strip() for line in block[1:]])
            add("DESCRIPTION", [".PP", f"\\fI{escape(label.group(1))}:\\fR " + inline(text)])
        elif first.startswith(" "):
            add("DESCRIPTION", verbatim(block))
        else:
            add("DESCRIPTION", paragraph(block))
    if name is None:
        sys.exit(f"help2roff: the help text does not start with '{program} - what it is' or '{program}: ...'")
    return name, sections


def parse_include(path):
    before, after = {}, {}
    target = None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            m = re.fullmatch(r"\[([<>]?)([A-Z][A-Z ]*)\]", line)
            if m:
                target = (before if m.group(1) == "<" else after).setdefault(m.group(2), [])
            elif target is None:
                if line.strip() and not line.startswith(".\\\""):
                    sys.exit(f"help2roff: {path}:{number}: text before the first [SECTION]")
            else:
                target.append(line)
    for section in list(before) + list(after):
        for d in (before, after):
            while d.get(section) and not d[section][-1].strip():
                d[section].pop()
    return before, after


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--section", required=True, help="manual section, e.g. 1")
    parser.add_argument("--name", help="the program's name (default: the command's last word)")
    parser.add_argument("--source", default="", help="footer: the project and version")
    parser.add_argument("--manual", default="", help="header: the manual's title")
    parser.add_argument("--include", help="roff for the sections --help does not have")
    parser.add_argument("--list", action="append", default=[], metavar="SECTION=ARGUMENT",
                        help="a section from COMMAND ARGUMENT's 'name  description' lines; repeatable")
    parser.add_argument("--output", required=True, help="the page to write")
    parser.add_argument("command", nargs="+", help="the program to document, with any interpreter")
    args = parser.parse_args()

    program = args.name or os.path.basename(args.command[-1])
    name, sections = parse_help(run(args.command, "--help"), program)
    for item in args.list:
        section, _, argument = item.partition("=")
        lines = [line for line in run(args.command, argument).splitlines() if line.strip()]
        sections.setdefault(section, []).extend(definition_list(["  " + line for line in lines]))
    before, after = parse_include(args.include) if args.include else ({}, {})
    for section, roff in before.items():
        sections[section] = roff + sections.get(section, [])
    for section, roff in after.items():
        sections.setdefault(section, []).extend(roff)

    known = [s for s in ORDER if s]
    extra = [s for s in sections if s not in known]
    order = [s for group in ORDER for s in ([group] if group else extra)]
    date = ""
    if "SOURCE_DATE_EPOCH" in os.environ:
        import time
        date = time.strftime("%Y-%m-%d", time.gmtime(int(os.environ["SOURCE_DATE_EPOCH"])))
    out = [
        f'.\\" Generated by spec/man/help2roff.py from "{program} --help"'
        + (f" and {args.include.rsplit('/', 1)[-1]}" if args.include else "") + ": edit those, not this.",
        f'.TH {program.upper()} {args.section} "{date}" "{args.source}" "{args.manual}"',
        ".nh",
        ".ad l",
        ".SH NAME",
        f"{escape(program)} \\- {escape(name)}",
    ]
    for section in order[1:]:
        if section in sections and sections[section]:
            out.append(f'.SH "{section}"' if " " in section else f".SH {section}")
            body = sections[section]
            if body[0] == ".PP":
                body = body[1:]
            out += body
    text = "\n".join(out) + "\n"
    with open(args.output + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(args.output + ".tmp", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
