"""The HyperBIOS conformance driver: runs the conformance images on a host,
applies what the host claims (profile) and what it is known to lack
(expectations), and writes the results as a terminal summary, TAP, JUnit XML
and a certificate (Markdown and HTML) with the requirement -> test -> result
matrix. Standard library only; run it with /usr/bin/python3.

The images report on the debug port, one line per check:
    PASS|FAIL|SKIP HB-AREA-NNN description [(detail or reason)]
    EXPECT-EXIT HB-PWR-001 0          the host's exit status must be this code
    EXPECT-CONSOLE HB-CON-001 text    the console (stdout) must show this text
    INFO key value                    identity of the host, for the certificate
    NOTE text
    SUMMARY: N checks, F failed, S skipped
"""

import concurrent.futures
import datetime
import html
import json
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = pathlib.Path(__file__).resolve().parent
SPEC_DIR = HERE.parent / "spec"
sys.path.insert(0, str(SPEC_DIR / "tools"))
import hyperbios_spec  # noqa: E402

CHECK = re.compile(r"^(PASS|FAIL|SKIP) (HB-[A-Z]+-\d{3}) (.*)$")
EXPECT = re.compile(r"^EXPECT-(EXIT|CONSOLE) (HB-[A-Z]+-\d{3}) (.*)$")
INFO = re.compile(r"^INFO ([a-z-]+) (.*)$")
SUMMARY = re.compile(r"^SUMMARY: (\d+) checks, (\d+) failed, (\d+) skipped$")
NO_HOST_NOTE = "no HyperBIOS host"
REQUIREMENT_IN_SOURCE = re.compile(r'"(HB-[A-Z]+-\d{3})"')
# Requirements a guest proves about itself on hosts without HyperBIOS.
DETECTION_REQUIREMENTS = ("HB-DISC-010", "HB-DISC-011")

EXIT_STYLES = {
    "plain": lambda code: code,                        # the host exits with the guest's code (hbvm)
    "qemu-debug-exit": lambda code: (code << 1) | 1,   # QEMU isa-debug-exit
    "none": None,                                      # the host's exit status says nothing (Bochs)
}


class SuiteError(Exception):
    """The suite itself is broken or misused: not a verdict about the host."""


# ---------------------------------------------------------------------------
# The suite's own coverage of the spec.
# ---------------------------------------------------------------------------

def load_spec():
    try:
        spec = hyperbios_spec.parse(SPEC_DIR)
    except hyperbios_spec.SpecError as e:
        raise SuiteError(f"the spec is malformed:\n{e}")
    return spec


def static_coverage(spec, sources=HERE / "images"):
    """Returns {requirement: {image, ...}} from the image sources; raises SuiteError when a
    MUST requirement has no test or a test names a requirement the spec does not define."""
    named = {}
    for source in sorted(pathlib.Path(sources).glob("*.cpp")):
        for rid in REQUIREMENT_IN_SOURCE.findall(source.read_text()):
            named.setdefault(rid, set()).add(source.stem)
    problems = [f"{', '.join(sorted(named[r]))} name {r}, which the spec does not define"
                for r in sorted(named) if r not in spec["requirements"]]
    problems += [f"{r} ({spec['requirements'][r]['where']}) is a MUST with no conformance test"
                 for r, req in sorted(spec["requirements"].items()) if req["level"] == "MUST" and r not in named]
    if problems:
        raise SuiteError("the suite does not cover the spec:\n  " + "\n  ".join(problems))
    return named


def requirement_service(spec, rid):
    """The service a requirement belongs to (its chapter under spec/services/), or None."""
    where = spec["requirements"][rid]["where"]
    path = pathlib.Path(where.rsplit(":", 1)[0])
    return path.stem if path.parent.name == "services" else None


# ---------------------------------------------------------------------------
# Running images.
# ---------------------------------------------------------------------------

class ImageRun:
    def __init__(self, image):
        self.image = pathlib.Path(image)
        self.name = self.image.stem.removeprefix("conformance-")
        self.checks = []        # [verdict, requirement, description]
        self.info = {}
        self.notes = []
        self.summary = None
        self.exit_status = None
        self.seconds = 0.0
        self.problem = None     # why the run cannot be trusted (crash, timeout, exit mismatch)
        self.no_host = False    # the image found no HyperBIOS host
        self.stdout = ""
        self.stderr = ""


def expand(template, image, workdir):
    values = {"image": str(image), "name": pathlib.Path(image).stem, "workdir": str(workdir)}
    try:
        return [part.format(**values) for part in shlex.split(template)]
    except (KeyError, IndexError) as e:
        raise SuiteError(f"--host: unknown placeholder {e}; use {{image}}, {{name}} or {{workdir}}")


def run_image(image, host_template, timeout, exit_style):
    run = ImageRun(image)
    with tempfile.TemporaryDirectory(prefix=f"hyperbios-conform-{run.name}-") as workdir:
        command = expand(host_template, image, workdir)
        start = time.monotonic()
        try:
            proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
            run.exit_status = proc.returncode
            out, err = proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as e:
            run.problem = f"still running after {timeout:g} s; stopped"
            out, err = e.stdout or b"", e.stderr or b""
        except OSError as e:
            raise SuiteError(f"cannot start the host command {command[0]!r}: {e}")
        run.seconds = time.monotonic() - start
    run.stdout = out.decode(errors="replace")
    run.stderr = err.decode(errors="replace")
    parse_report(run, exit_style)
    return run


def parse_report(run, exit_style):
    # The debug port reaches stdout or stderr depending on the host; read both.
    for raw in (run.stdout + "\n" + run.stderr).splitlines():
        text = raw.strip()
        m = CHECK.match(text)
        if m:
            run.checks.append(list(m.groups()))
            continue
        m = EXPECT.match(text)
        if m:
            kind, rid, arg = m.groups()
            if kind == "EXIT":
                code = int(arg)
                if exit_style is None:
                    run.checks.append(["SKIP", rid, f"the host's exit status is {code} "
                                                    f"(this host's exit status carries no code)"])
                elif run.exit_status is None:
                    run.checks.append(["FAIL", rid, f"the host's exit status is {code} (the host did not exit)"])
                else:
                    ok = run.exit_status == exit_style(code)
                    run.checks.append(["PASS" if ok else "FAIL", rid, f"the host's exit status is {code}" +
                                       ("" if ok else f" (it was {run.exit_status})")])
            else:
                wanted = arg.replace("\\n", "\n")
                ok = wanted in run.stdout
                run.checks.append(["PASS" if ok else "FAIL", rid,
                                   f"the console shows {arg!r}" + ("" if ok else " (not found on stdout)")])
            continue
        m = INFO.match(text)
        if m:
            run.info[m.group(1)] = m.group(2).strip()
            continue
        if text.startswith("NOTE "):
            run.notes.append(text[5:])
            run.no_host = run.no_host or NO_HOST_NOTE in text
            continue
        m = SUMMARY.match(text)
        if m:
            run.summary = tuple(int(g) for g in m.groups())
    if run.problem:
        return
    if run.summary is None:
        run.problem = "no SUMMARY line: the image crashed or the host stopped it"
        return
    if exit_style is not None and run.exit_status is not None:
        checks, failed, skipped = run.summary
        code = 1 if failed else (77 if checks == skipped else 0)
        if run.exit_status != exit_style(code):
            run.problem = f"exit status {run.exit_status} does not match the SUMMARY (expected {exit_style(code)})"


def run_all(images, host_template, timeout, exit_style, jobs, progress):
    runs = [None] * len(images)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_image, image, host_template, timeout, exit_style): i
                   for i, image in enumerate(images)}
        done = 0
        for future in concurrent.futures.as_completed(futures):
            i = futures[future]
            runs[i] = future.result()
            done += 1
            if progress:
                progress(done, len(images), runs[i])
    return runs


# ---------------------------------------------------------------------------
# Verdicts.
# ---------------------------------------------------------------------------

def load_profile(name, spec):
    """The services a host claims: 'full' (all), 'none' (no HyperBIOS), or a JSON file
    {"name": ..., "services": [...]}."""
    services = sorted({s["name"] for s in spec["services"]})
    if name == "full":
        return {"name": "full", "services": services}
    if name == "none":
        return {"name": "none", "services": []}
    path = pathlib.Path(name)
    if not path.is_file():
        raise SuiteError(f"--profile {name}: expected full, none, or a JSON file naming the services")
    data = json.loads(path.read_text())
    unknown = set(data.get("services", [])) - set(services)
    if unknown:
        raise SuiteError(f"--profile {name}: unknown services {sorted(unknown)}")
    return {"name": data.get("name", path.stem), "services": sorted(data.get("services", []))}


def load_expectations(path, spec):
    """{requirement: {"result": "fail"|"n/a", "reason": text}} for deviations a host is known to have."""
    if not path:
        return {}
    data = json.loads(pathlib.Path(path).read_text())
    expected = data.get("expect", {})
    for rid, e in expected.items():
        if rid not in spec["requirements"]:
            raise SuiteError(f"{path}: {rid} is not a requirement of the spec")
        if e.get("result") not in ("fail", "n/a") or not e.get("reason"):
            raise SuiteError(f"{path}: {rid} needs \"result\": \"fail\" or \"n/a\" and a \"reason\"")
    return expected


def judge(spec, coverage, runs, profile, expectations):
    """Per requirement: result (pass, fail, n/a, xfail), the checks behind it, and a note.

    `coverage` maps each requirement to the images whose sources test it, so that a
    requirement whose image crashed, timed out or found no host fails instead of
    passing on the checks that happened to run."""
    host_expected = bool(profile["services"])
    unfinished = {r.name: r.problem for r in runs if r.problem}
    if host_expected:
        unfinished.update({r.name: "it found no HyperBIOS host" for r in runs if r.no_host})
    verdicts = {}
    for rid, req in sorted(spec["requirements"].items()):
        checks = [(run.name, v, d) for run in runs for v, r, d in run.checks if r == rid]
        service = requirement_service(spec, rid)
        ran = [v for _, v, _ in checks]
        note = ""
        if not host_expected:
            # A host without HyperBIOS: only the guest's own detection rules apply.
            if rid in DETECTION_REQUIREMENTS and any(v != "SKIP" for v in ran):
                result = "fail" if "FAIL" in ran else "pass"
            elif rid not in DETECTION_REQUIREMENTS and "PASS" in ran:
                result, note = "fail", "the host answers as a HyperBIOS host, but --profile none says it is not one"
            else:
                result = "n/a"
                note = next((d for _, v, d in checks if v == "SKIP"), "no HyperBIOS host (--profile none)")
        elif service and service not in profile["services"]:
            result, note = "n/a", f"the {service} service is not in profile {profile['name']}"
        else:
            missed = sorted(i for i in coverage.get(rid, ()) if i in unfinished)
            if "FAIL" in ran:
                result = "fail"
            elif missed:
                result = "fail"
                note = "not fully checked: " + "; ".join(f"{i}: {unfinished[i]}" for i in missed)
            elif "PASS" in ran:
                result = "pass"
            elif checks:
                result = "n/a"
                note = "; ".join(sorted({re.sub(r"^.*\((.*)\)$", r"\1", d) for _, v, d in checks}))
            else:
                result, note = "n/a", "no check of it ran on this host"
            if rid == "HB-DISC-003" and any(r.no_host for r in runs):
                result, note = "fail", "the host was not detected: no HyperBIOS interface signature in CPUID"
        exp = expectations.get(rid)
        if exp:
            if exp["result"] == "fail" and result == "fail":
                result, note = "xfail", f"known deviation: {exp['reason']}"
            elif exp["result"] == "n/a" and result in ("n/a", "fail"):
                result, note = "n/a", exp["reason"]
            elif result == "pass":
                note = f"expected {exp['result']} ({exp['reason']}), but it passed: update the expectations"
        verdicts[rid] = {"id": rid, "level": req["level"], "text": req["text"], "result": result,
                         "checks": checks, "note": note}
    return verdicts


def overall(verdicts, runs, profile):
    must_fail = [v for v in verdicts.values() if v["result"] == "fail" and v["level"] == "MUST"]
    ok = not must_fail and not any(r.problem for r in runs)
    if not profile["services"]:
        return ("NO HYPERBIOS HOST (as claimed)" if ok else "FAIL"), ok
    return ("CONFORMANT" if ok else "NOT CONFORMANT"), ok


def identity(runs):
    info = {}
    for run in runs:
        info.update(run.info)
    return info


# ---------------------------------------------------------------------------
# Outputs.
# ---------------------------------------------------------------------------

def counts(verdicts):
    c = {"pass": 0, "fail": 0, "n/a": 0, "xfail": 0}
    for v in verdicts.values():
        c[v["result"]] += 1
    return c


def write_tap(path, runs):
    lines, n = [], 0
    for run in runs:
        for verdict, rid, description in run.checks:
            n += 1
            status = "ok" if verdict != "FAIL" else "not ok"
            directive = f" # SKIP {description}" if verdict == "SKIP" else ""
            lines.append(f"{status} {n} - {run.name}: {rid} {description}{directive}")
        if run.problem:
            n += 1
            lines.append(f"not ok {n} - {run.name}: the run itself ({run.problem})")
    pathlib.Path(path).write_text("TAP version 13\n" + f"1..{n}\n" + "\n".join(lines) + "\n")


def write_junit(path, runs):
    suites = ET.Element("testsuites", name="hyperbios-conformance")
    for run in runs:
        failures = sum(1 for c in run.checks if c[0] == "FAIL") + (1 if run.problem else 0)
        skipped = sum(1 for c in run.checks if c[0] == "SKIP")
        suite = ET.SubElement(suites, "testsuite", name=run.name, tests=str(len(run.checks) + (1 if run.problem else 0)),
                              failures=str(failures), skipped=str(skipped), time=f"{run.seconds:.3f}")
        for i, (verdict, rid, description) in enumerate(run.checks):
            case = ET.SubElement(suite, "testcase", classname=f"{run.name}.{rid}", name=f"{i + 1:03d} {description}")
            if verdict == "FAIL":
                ET.SubElement(case, "failure", message=f"{rid}: {description}")
            elif verdict == "SKIP":
                ET.SubElement(case, "skipped", message=description)
        if run.problem:
            case = ET.SubElement(suite, "testcase", classname=run.name, name="run")
            ET.SubElement(case, "failure", message=run.problem).text = (run.stdout + run.stderr)[-4000:]
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def certificate_rows(verdicts):
    for v in verdicts.values():
        tests = {}
        for image, verdict, _ in v["checks"]:
            tests.setdefault(image, []).append(verdict)
        summary = ", ".join(f"{image} ({len(vs)})" for image, vs in sorted(tests.items())) or "—"
        yield v, summary


def certificate_header(meta, verdict_text, c):
    info = meta["identity"]
    return [
        ("Host", info.get("impl-name", meta.get("host_label") or "unknown (no HyperBIOS host answered)")),
        ("Implementation ID", info.get("impl-id", "—")),
        ("Implementation version", info.get("impl-version", "—")),
        ("Vendor signature", info.get("vendor", "—")),
        ("Host command", meta["host"]),
        ("Specification", f"HyperBIOS {meta['spec_version']} (host reports {info.get('spec-version', '—')})"),
        ("Profile", meta["profile"]),
        ("Date", meta["date"]),
        ("Images", f"{meta['images']} run in {meta['seconds']:.1f} s"),
        ("Verdict", f"{verdict_text}: {c['pass']} passed, {c['fail']} failed, {c['xfail']} known deviations, "
                    f"{c['n/a']} not applicable"),
    ]


def write_markdown(path, meta, verdicts, verdict_text):
    c = counts(verdicts)
    out = ["# HyperBIOS conformance certificate", ""]
    out += ["| | |", "| --- | --- |"]
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    out += [f"| {k} | {cell(v)} |" for k, v in certificate_header(meta, verdict_text, c)]
    out += ["", "## Requirements", "",
            "| Requirement | Level | Result | Tests (checks) | Note |", "| --- | --- | --- | --- | --- |"]
    for v, tests in certificate_rows(verdicts):
        out.append(f"| {v['id']} | {v['level']} | {v['result']} | {tests} | {cell(v['note'])} |")
    failing = [(image, d, v["id"]) for v in verdicts.values() if v["result"] in ("fail", "xfail")
               for image, verdict, d in v["checks"] if verdict == "FAIL"]
    if failing:
        out += ["", "## Failed checks", ""] + [f"- {rid} ({image}): {d}" for image, d, rid in failing]
    out += ["", "Generated by conformance/hyperbios-conform from the spec's requirement list; "
                "nothing in this table is written by hand.", ""]
    pathlib.Path(path).write_text("\n".join(out))


def write_html(path, meta, verdicts, verdict_text):
    c = counts(verdicts)
    e = html.escape
    colors = {"pass": "#1a7f37", "fail": "#cf222e", "n/a": "#6e7781", "xfail": "#9a6700"}
    rows = "\n".join(
        f"<tr><td><code>{e(v['id'])}</code></td><td>{e(v['level'])}</td>"
        f"<td style='color:{colors[v['result']]};font-weight:bold'>{e(v['result'])}</td>"
        f"<td>{e(tests)}</td><td>{e(v['note'])}</td><td class=text>{e(v['text'])}</td></tr>"
        for v, tests in certificate_rows(verdicts))
    header = "\n".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>"
                       for k, v in certificate_header(meta, verdict_text, c))
    pathlib.Path(path).write_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>HyperBIOS conformance certificate</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:80em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;
vertical-align:top}}th{{background:#f6f8fa}}.text{{font-size:.85em;color:#57606a}}</style></head>
<body><h1>HyperBIOS conformance certificate</h1>
<table>{header}</table>
<h2>Requirements</h2>
<table><tr><th>Requirement</th><th>Level</th><th>Result</th><th>Tests (checks)</th><th>Note</th><th>Text</th></tr>
{rows}
</table>
<p>Generated by conformance/hyperbios-conform from the spec's requirement list.</p>
</body></html>
""")


# ---------------------------------------------------------------------------
# The whole run, for the command line and for the mutation test.
# ---------------------------------------------------------------------------

def find_images(folder, suffix, only):
    images = sorted(pathlib.Path(folder).glob(f"conformance-*{suffix}"))
    if only:
        images = [i for i in images if i.stem.removeprefix("conformance-") in only]
    if not images:
        raise SuiteError(f"no conformance-*{suffix} images in {folder}; build them first "
                         f"(cmake --build build), or point --images at them")
    return images


def certify(host, images, profile="full", expectations=None, timeout=60, jobs=2, exit_style="plain",
            progress=None, spec=None):
    spec = spec or load_spec()
    coverage = static_coverage(spec)
    if "{image}" not in host:
        raise SuiteError("--host must contain {image}, where the image's path goes")
    prof = load_profile(profile, spec)
    expected = load_expectations(expectations, spec)
    start = time.monotonic()
    runs = run_all(images, host, timeout, EXIT_STYLES[exit_style], jobs, progress)
    verdicts = judge(spec, coverage, runs, prof, expected)
    verdict_text, ok = overall(verdicts, runs, prof)
    return {"spec": spec, "runs": runs, "verdicts": verdicts, "verdict": verdict_text, "ok": ok,
            "profile": prof, "seconds": time.monotonic() - start}


def write_outputs(result, out_dir, host, host_label=None):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"identity": identity(result["runs"]), "host": host, "host_label": host_label,
            "spec_version": spec_version(), "profile": result["profile"]["name"],
            "date": datetime.date.today().isoformat(), "images": len(result["runs"]), "seconds": result["seconds"]}
    write_tap(out / "results.tap", result["runs"])
    write_junit(out / "results.junit.xml", result["runs"])
    write_markdown(out / "certificate.md", meta, result["verdicts"], result["verdict"])
    write_html(out / "certificate.html", meta, result["verdicts"], result["verdict"])
    (out / "verdicts.json").write_text(json.dumps(
        {"verdict": result["verdict"], "meta": meta,
         "requirements": {k: {"result": v["result"], "note": v["note"]} for k, v in result["verdicts"].items()}},
        indent=1))
    return out


def spec_version():
    text = (SPEC_DIR / "hyperbios.md").read_text()
    m = re.search(r"\*\*Version (\d+\.\d+)", text)
    return m.group(1) if m else "?"
