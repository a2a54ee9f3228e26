#!/usr/bin/python3
"""Proves the suite's self-checks can fail: a MUST requirement without a test, and
a test naming a requirement the spec lacks, must each stop the driver."""

import pathlib
import shutil
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import conform  # noqa: E402
import hyperbios_spec  # noqa: E402  (put on the path by conform)

failures = []


def expect_refusal(label, spec, sources, needle):
    try:
        conform.static_coverage(spec, sources)
    except conform.SuiteError as e:
        if needle in str(e):
            print(f"PASS {label}: {str(e).splitlines()[-1].strip()}")
            return
        failures.append(f"{label}: refused, but without naming {needle!r}: {e}")
        return
    failures.append(f"{label}: the suite accepted it")


def main():
    spec = conform.load_spec()
    conform.static_coverage(spec)  # the real suite covers the real spec
    print("PASS the suite covers every MUST requirement of the spec, and names no unknown one")
    with tempfile.TemporaryDirectory() as tmp:
        spec_copy = pathlib.Path(tmp) / "spec"
        shutil.copytree(conform.SPEC_DIR, spec_copy, ignore=shutil.ignore_patterns("tools"))
        chapter = spec_copy / "services" / "time.md"
        chapter.write_text(chapter.read_text() + "\n- **HB-TIME-099** (MUST): An untested rule MUST be caught.\n")
        expect_refusal("a MUST requirement with no test", hyperbios_spec.parse(spec_copy), conform.HERE / "images",
                       "HB-TIME-099")

        sources = pathlib.Path(tmp) / "images"
        shutil.copytree(conform.HERE / "images", sources)
        extra = sources / "time.cpp"
        extra.write_text(extra.read_text() + '\n// check("HB-TIME-777", true, "a made-up requirement");\n')
        expect_refusal("a test naming an unknown requirement", spec, sources, "HB-TIME-777")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
