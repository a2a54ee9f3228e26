#!/usr/bin/python3
"""The man pages render without a warning and still say what the programs and the ABI say.

For each page: groff -t -man -ww -z (every groff warning) and man --warnings -l
must print nothing on stderr, and man -l must render it at 80 columns. Then:
every option hbvm --help lists is in hbvm.1's COMMANDS or OPTIONS, and every
fault hbvm --list-faults lists in its FAULTS; every option hyperbios-conform
--help lists is in hyperbios-conform.1's OPTIONS;
every service, status code and function of abi.json (SERVICE.function with its
call word) is in hyperbios.7. So a page that was not regenerated, or a generator
that drops something, fails here.

--self-test also proves that the checks can fail: a page without an option, a
fault or a function, and a page with a groff warning, are each caught.

Usage: check_man_pages.py [--self-test] MAN-DIR HBVM CONFORM ABI-JSON
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

OPTION = re.compile(r"(?<![\w\-/.{])(--?[A-Za-z][\w-]*)")
ENV = dict(os.environ, COLUMNS="80", LC_ALL="C.UTF-8", MANWIDTH="80", MAN_KEEP_FORMATTING="", PAGER="cat")
ENV.pop("MANOPT", None)


def output(command):
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, check=False)
    return done.returncode, done.stdout, done.stderr


def render(page):
    """The page as man shows it, or a list of problems."""
    problems = []
    rc, _, err = output(["groff", "-t", "-man", "-ww", "-z", "-Tutf8", page])
    if rc != 0 or err.strip():
        problems.append(f"{page}: groff -ww: {err.strip() or f'exit {rc}'}")
    rc, text, err = output(["man", "--warnings", "-l", page])
    if rc != 0 or err.strip():
        problems.append(f"{page}: man --warnings -l: {err.strip() or f'exit {rc}'}")
    text = re.sub(r".\x08", "", text).replace("\u2010", "-").replace("\u2212", "-")
    if len(text.splitlines()) < 10:
        problems.append(f"{page}: man -l renders {len(text.splitlines())} lines")
    sections, current = {}, None
    for line in text.splitlines()[1:]:
        if re.match(r"[A-Z][A-Z ]+$", line):
            current = line.strip()
        elif current:
            sections[current] = sections.get(current, "") + " " + line
    sections = {name: " ".join(body.split()) for name, body in sections.items()}
    sections[""] = " ".join(text.split())
    return sections, problems


PAGES = ("hbvm.1", "hbvm-ctl.1", "hyperbios-conform.1", "hyperbios.7")


def listed_options(help_text):
    """The options the help text lists: those of its indented '-x, --option VALUE  text' lines."""
    tags = [re.split(r"\s{2,}", line.strip())[0] for line in help_text.splitlines() if re.match(r" {1,4}-", line)]
    return sorted({option for tag in tags for option in OPTION.findall(tag)})


def missing(text, wanted, what, page):
    return [f"{page}: {what} {w!r} is not in the page" for w in wanted if w not in text]


def check(man_dir, hbvm, conform, abi_path):
    problems = []
    pages = {name: os.path.join(man_dir, name) for name in PAGES}
    texts = {}
    for name, page in pages.items():
        if not os.path.isfile(page):
            problems.append(f"{page}: missing")
            continue
        texts[name], found = render(page)
        problems += found
    if problems:
        return problems

    rc, help_text, _ = output([hbvm, "--help"])
    options = listed_options(help_text)
    rc2, faults_text, _ = output([hbvm, "--list-faults"])
    faults = [line.split()[0] for line in faults_text.splitlines() if line.strip()]
    if rc or rc2 or len(options) < 10 or not faults:
        problems.append(f"{hbvm} --help / --list-faults gave {len(options)} options and {len(faults)} faults")
    hbvm_page = texts["hbvm.1"]
    problems += missing(hbvm_page.get("COMMANDS", "") + hbvm_page.get("OPTIONS", ""), options,
                        "hbvm option (in COMMANDS or OPTIONS)", pages["hbvm.1"])
    problems += missing(hbvm_page.get("FAULTS", ""), faults, "fault", pages["hbvm.1"])

    # hbvm-ctl, built beside hbvm.
    hbvm_ctl = os.path.join(os.path.dirname(os.path.abspath(hbvm)), "hbvm-ctl")
    rc, help_text, _ = output([hbvm_ctl, "--help"])
    options = listed_options(help_text)
    if rc or len(options) < 3:
        problems.append(f"{hbvm_ctl} --help gave {len(options)} options")
    problems += missing(texts["hbvm-ctl.1"].get("OPTIONS", ""), options, "hbvm-ctl option", pages["hbvm-ctl.1"])

    rc, help_text, _ = output([sys.executable, conform, "--help"])
    options = listed_options(help_text)
    if rc or len(options) < 10:
        problems.append(f"{conform} --help gave {len(options)} options")
    problems += missing(texts["hyperbios-conform.1"].get("OPTIONS", ""), options, "hyperbios-conform option",
                        pages["hyperbios-conform.1"])

    with open(abi_path, encoding="utf-8") as f:
        abi = json.load(f)
    page, text = pages["hyperbios.7"], texts["hyperbios.7"][""]
    for function in abi["functions"]:
        entry = f"{function['service'].upper()}.{function['name']} — 0x{function['call'][2:].upper()}"
        problems += missing(text, [entry], "function", page)
    problems += missing(text, [s["name"].upper() for s in abi["services"]], "service", page)
    problems += missing(text, [f"{s['value']} {s['name']}" for s in abi["statuses"]], "status", page)
    if not abi["functions"]:
        problems.append(f"{abi_path}: no functions")
    return problems


def self_test(man_dir, hbvm, conform, abi_path):
    """Each kind of rot is caught."""
    if check(man_dir, hbvm, conform, abi_path):
        return ["self-test: the real pages do not pass"]
    breakages = [
        ("hbvm.1", lambda s: s.replace("\\fB\\-\\-stats\\fR", "\\fB\\-\\-statz\\fR"), "hbvm option (in COMMANDS or OPTIONS) '--stats'"),
        ("hbvm.1", lambda s: s.replace("\\fBrng\\-zeros\\fR", "\\fBrng\\-zero\\fR"), "fault 'rng-zeros'"),
        ("hyperbios-conform.1", lambda s: s.replace("\\fB\\-\\-exit\\-style\\fR", "exit style"),
         "hyperbios-conform option '--exit-style'"),
        ("hyperbios.7", lambda s: s.replace("\\fBEVT.wait\\fR", "\\fBEVT.await\\fR"), "function 'EVT.wait"),
        ("hyperbios.7", lambda s: s.replace("\\fB\\-1\\fR", "").replace("\n\\-1\t", "\n\t", 1), "status '-1 FAILED'"),
        ("hbvm.1", lambda s: s.replace(".SH OPTIONS", ".SH OPTIONS\n.XX undefined macro"), "groff"),
        ("hbvm-ctl.1", lambda s: s.replace("\\fB\\-\\-wait\\-event\\fR", "wait event"), "hbvm-ctl option '--wait-event'"),
    ]
    problems = []
    for name, damage, expected in breakages:
        with tempfile.TemporaryDirectory() as scratch:
            for page in PAGES:
                shutil.copy(os.path.join(man_dir, page), scratch)
            path = os.path.join(scratch, name)
            with open(path, encoding="utf-8") as f:
                original = f.read()
            damaged = damage(original)
            if damaged == original:
                problems.append(f"self-test: could not damage {name} for {expected}")
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(damaged)
            found = check(scratch, hbvm, conform, abi_path)
            if not any(expected in p for p in found):
                problems.append(f"self-test: {name} without {expected} was not caught: {found}")
            else:
                print(f"self-test: caught: {next(p for p in found if expected in p)}")
    return problems


def main():
    args = sys.argv[1:]
    test = args[:1] == ["--self-test"]
    if test:
        args = args[1:]
    if len(args) != 4:
        sys.exit(__doc__)
    problems = (self_test if test else check)(*args)
    for p in problems:
        print(p)
    if not problems:
        print("man pages: OK" + (" (every kind of rot is caught)" if test else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
