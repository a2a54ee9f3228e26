#!/usr/bin/python3
"""Tests render_html.py (ctest spec.render_html).

1. Renders the real spec with the command line the build uses, into a fresh
   folder, and checks the file: exactly one, named hyperbios-spec-<version>.html
   after hyperbios_spec.parse()'s version; every requirement parse() reads has a
   list item with its ID as id and an entry in the requirement index linking to
   it; every heading has an id, and no id is used twice; every href="#..."
   names an id of the file, and nothing is loaded from outside (no src, no
   <link>, no <script>, no url() in the CSS); no Markdown is left in the text
   outside <pre> and <code> (`**`, backticks, `](`, `*emphasis*`, `\\|`, table
   rows, bullets, `#` headings, setext underlines, block quotes); html.parser
   reads it with every tag closed in order.
2. Renders made-up specs and compares fragments of the HTML with the expected
   ones: the chapter order of the chapter table, a requirement and a withdrawn
   one (item ids, index entries), a table with `\\|` and alignment, nested,
   numbered and loose lists, a thematic break, a fenced code block with `<` and
   `&`, entities and Unicode, links between chapters, requirement mentions; and
   expects the renderer to refuse a link to a missing heading, a mention of a
   requirement that does not exist, a chapter missing from the chapter table, a
   requirement given twice and one the parser would not read.
3. Feeds the file checks of 1 documents with each fault, so that they are shown
   to fail.

usage: test_render_html.py SPEC_DIR
"""

import html.parser
import pathlib
import re
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import hyperbios_spec  # noqa: E402
import render_html  # noqa: E402

PYTHON = "/usr/bin/python3"
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
LEFTOVER_MARKDOWN = [
    (re.compile(r"\*\*"), "'**'"),
    (re.compile(r"(?<![\w*])\*[^\s*](?:[^*\n]*[^\s*])?\*(?![\w*])"), "'*emphasis*'"),
    (re.compile(r"`"), "a backtick"),
    (re.compile(r"\]\("), "'](' of a link"),
    (re.compile(r"\\\|"), "an escaped bar '\\|'"),
    (re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE), "a table row"),
    (re.compile(r"^\s*[-+] \S", re.MULTILINE), "a list bullet"),
    (re.compile(r"^\s*#{1,6} \S", re.MULTILINE), "a '#' heading"),
    (re.compile(r"^\s*(?:={3,}|-{3,})\s*$", re.MULTILINE), "a setext underline (not read)"),
    (re.compile(r"^\s*>\s", re.MULTILINE), "a block quote (not read)"),
]
failures = []


def check(condition, what):
    print(f"{'PASS' if condition else 'FAIL'} {what}")
    if not condition:
        failures.append(what)
    return condition


# ---------------------------------------------------------------------------
# The checks of a rendered file.
# ---------------------------------------------------------------------------

class Reader(html.parser.HTMLParser):
    """Collects what the checks need and every tag that is closed out of order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open = []  # [(tag, attributes)]
        self.problems = []
        self.ids = []
        self.hrefs = []  # (href, ids and classes of the enclosing elements)
        self.headings_without_id = []
        self.loads = []  # src=, <link>, <script>
        self.text_outside_code = []
        self.style = []
        self.list_items = {}  # id -> tag of the element that has it

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(attributes["id"])
            self.list_items[attributes["id"]] = tag
        if re.fullmatch(r"h[1-6]", tag) and "id" not in attributes:
            self.headings_without_id.append(self.getpos())
        if "href" in attributes and tag == "a":
            context = [a.get("id", "") + " " + a.get("class", "") for _, a in self.open]
            self.hrefs.append((attributes["href"], context))
        if "src" in attributes or tag in ("link", "script", "iframe", "object", "embed", "img"):
            self.loads.append(f"<{tag}> at line {self.getpos()[0]}")
        if tag not in VOID_ELEMENTS:
            self.open.append((tag, attributes))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.open.pop()

    def handle_endtag(self, tag):
        if tag in VOID_ELEMENTS:
            return
        if not self.open or self.open[-1][0] != tag:
            expected = self.open[-1][0] if self.open else "nothing"
            self.problems.append(f"line {self.getpos()[0]}: </{tag}> closes {expected}")
            if any(t == tag for t, _ in self.open):  # recover: close up to the matching tag
                while self.open.pop()[0] != tag:
                    pass
            return
        self.open.pop()

    def handle_data(self, data):
        tags = [t for t, _ in self.open]
        if "style" in tags:
            self.style.append(data)
        elif not ({"pre", "code", "script", "title"} & set(tags)):
            self.text_outside_code.append(data)


def file_problems(text, requirement_ids):
    """Everything wrong with a rendered file, as messages (empty when it is fine)."""
    reader = Reader()
    reader.feed(text)
    reader.close()
    problems = list(reader.problems)
    problems += [f"<{t}> is never closed" for t, _ in reader.open]
    if not text.lstrip().lower().startswith("<!doctype html>"):
        problems.append("the file does not start with <!DOCTYPE html>")
    duplicates = sorted({i for i in reader.ids if reader.ids.count(i) > 1})
    problems += [f"id '{i}' is used more than once" for i in duplicates]
    problems += [f"a heading at line {line} has no id" for line, _ in reader.headings_without_id]
    ids = set(reader.ids)
    for href, _ in reader.hrefs:
        if not href.startswith("#"):
            problems.append(f"href '{href}' leaves the file")
        elif href[1:] not in ids:
            problems.append(f"href '{href}' names no id of the file")
    problems += [f"{load} loads something" for load in reader.loads]
    if re.search(r"url\(|@import", "".join(reader.style)):
        problems.append("the CSS loads something (url() or @import)")
    text_outside = "".join(reader.text_outside_code)
    for pattern, name in LEFTOVER_MARKDOWN:
        for m in pattern.finditer(text_outside):
            start = text_outside.rfind("\n", 0, m.start()) + 1
            end = text_outside.find("\n", m.end())
            problems.append(f"Markdown left in the text, {name}: '{text_outside[start:end if end >= 0 else None]}'")
    in_index = {href[1:] for href, context in reader.hrefs if any("requirement-index" in c for c in context)}
    for rid in requirement_ids:
        if reader.list_items.get(rid) != "li":
            problems.append(f"requirement {rid} has no list item with id=\"{rid}\"")
        if rid not in in_index:
            problems.append(f"requirement {rid} has no entry in the requirement index")
    return problems


# ---------------------------------------------------------------------------
# 1. The real spec.
# ---------------------------------------------------------------------------

def test_real_spec(spec_dir):
    spec = hyperbios_spec.parse(spec_dir)
    with tempfile.TemporaryDirectory(prefix="hyperbios-render-test-") as tmp:
        run = subprocess.run([PYTHON, str(HERE / "render_html.py"), str(spec_dir), "--output-dir", tmp],
                             capture_output=True, text=True)
        check(run.returncode == 0,
              "render_html.py renders the spec" + (f": {run.stderr.strip()}" if run.stderr else ""))
        files = sorted(p.name for p in pathlib.Path(tmp).iterdir())
        name = f"hyperbios-spec-{spec['version']['version']}.html"
        check(files == [name], f"it writes one file, {name} (wrote {files})")
        if files != [name]:
            return
        text = (pathlib.Path(tmp) / name).read_text(encoding="utf-8")
    print(f"     {len(text.encode())} bytes, {len(spec['requirements'])} requirements")
    problems = file_problems(text, spec["requirements"])
    for p in problems[:40]:
        print("     " + p)
    check(not problems, "the file has a list item and an index entry for every requirement parse() reads, "
                        "an id on every heading, no dead or outside link, no Markdown left, every tag closed")
    check(f"Version {spec['version']['version']} (draft)" in text and spec["version"]["date"] in text,
          "the title block gives the version and the date")
    chapters = [m.group(1) for m in re.finditer(r'<section class="chapter" id="chapter-([^"]+)"', text)]
    check(chapters == ["hyperbios", "services-base", "services-console", "services-time", "services-power",
                       "services-mem", "services-rng", "services-block", "services-evt", "services-dsp",
                       "services-inp", "services-net", "services-aud"],
          f"the chapters come in the order of the chapter table: {chapters}")
    check('href="#13-evt-service--events-timers-and-interrupts"' in text,
          "a link to services/evt.md leads to the EVT chapter's heading")
    check('(<a class="req" href="#HB-CALL-010">HB-CALL-010</a>)' in text,
          "a mention of a requirement in the text links to it")


# ---------------------------------------------------------------------------
# 2. Made-up specs.
# ---------------------------------------------------------------------------

MAIN = """\
# Test Interface Specification

**Version 0.7 (draft)** · 2027-01-02 · Interface version value `0x00000007`

| Chapter | Contents |
| --- | --- |
| 1 | Basics (this file) |
| 2 | [ZETA service](services/zeta.md) |
| 3 | [ALPHA service](services/alpha.md) |

## 1. Basics

Text with **bold**, *italic*, `a < b && c`, 2⁶⁴ · –, &amp; &copy; and <raw> & "quotes".
See HB-TST-001, [the alpha timers](services/alpha.md#31-timers) and [ZETA](services/zeta.md).

- **HB-TST-001** (MUST): A host MUST be tested.
- **HB-TST-002** (withdrawn): A host had to do something else.

| Name | Value \\| mask | Right |
| :--- | :---: | ---: |
| `x \\| y` | 1 | **2** |
| short |

- outer one
  continued
  - inner, see HB-TST-002
- outer two

1. first
2. second

```c
if (a < b && c > 0) return "**not bold**";
```

---

A loose list:

- one

- two
"""

ZETA = """\
# 2. ZETA service

Back to [the basics](../hyperbios.md#1-basics) and [up](#2-zeta-service).

## 2.1 Function listing
"""

ALPHA = """\
# 3. ALPHA service

- **HB-ALPHA-001** (SHOULD): A host SHOULD be alpha.

## 3.1 Timers

## 2.1 Function listing
"""

EXPECTED_FRAGMENTS = [
    ("the title block, from the H1 and the version line",
     '<header class="title-block">\n<h1 id="test-interface-specification">Test Interface Specification</h1>\n'
     '<p class="version"><strong>Version 0.7 (draft)</strong> · 2027-01-02 · Interface version value '
     '<code>0x00000007</code></p>'),
    ("strong, emphasis, code, entities and Unicode, HTML escaped",
     "<p>Text with <strong>bold</strong>, <em>italic</em>, <code>a &lt; b &amp;&amp; c</code>, 2⁶⁴ · –, &amp; © "
     "and &lt;raw&gt; &amp; \"quotes\".\n"),
    ("links between chapters and a requirement mention",
     'See <a class="req" href="#HB-TST-001">HB-TST-001</a>, <a href="#31-timers">the alpha timers</a> and '
     '<a href="#2-zeta-service">ZETA</a>.</p>'),
    ("a requirement's list item",
     '<li class="requirement must" id="HB-TST-001"><strong><a class="req" href="#HB-TST-001">HB-TST-001</a>'
     "</strong> (MUST): A host MUST be tested.</li>"),
    ("a withdrawn requirement's list item",
     '<li class="requirement withdrawn" id="HB-TST-002"><strong><a class="req" href="#HB-TST-002">HB-TST-002</a>'
     "</strong> (withdrawn): A host had to do something else.</li>"),
    ("a table: escaped bars, alignment, a short row filled",
     '<table>\n<thead>\n<tr><th style="text-align:left">Name</th><th style="text-align:center">Value | mask</th>'
     '<th style="text-align:right">Right</th></tr>\n</thead>\n<tbody>\n'
     '<tr><td style="text-align:left"><code>x | y</code></td><td style="text-align:center">1</td>'
     '<td style="text-align:right"><strong>2</strong></td></tr>\n'
     '<tr><td style="text-align:left">short</td><td style="text-align:center"></td>'
     '<td style="text-align:right"></td></tr>\n</tbody>\n</table>'),
    ("a nested list with a continued item",
     '<ul>\n<li>outer one\ncontinued\n<ul>\n<li>inner, see <a class="req" href="#HB-TST-002">HB-TST-002</a></li>\n'
     "</ul></li>\n<li>outer two</li>\n</ul>"),
    ("a numbered list", "<ol>\n<li>first</li>\n<li>second</li>\n</ol>"),
    ("a thematic break and a loose list",
     "<hr>\n<p>A loose list:</p>\n<ul>\n<li><p>one</p></li>\n<li><p>two</p></li>\n</ul>"),
    ("a fenced code block, escaped and left alone",
     '<pre><code class="language-c">if (a &lt; b &amp;&amp; c &gt; 0) return "**not bold**";</code></pre>'),
    ("a link back to the main chapter and one inside the chapter",
     'Back to <a href="#1-basics">the basics</a> and <a href="#2-zeta-service">up</a>.'),
    ("a heading whose GitHub id another chapter took first gets the chapter's prefix",
     '<h3 id="services-alpha-21-function-listing">2.1 Function listing</h3>'),
    ("a service chapter's headings one level down",
     '<h2 id="3-alpha-service">3. ALPHA service</h2>'),
    ("the index: area order, withdrawn marked, sections linked",
     '<tr><td><a href="#HB-TST-001">HB-TST-001</a></td><td>MUST</td>'
     '<td><a href="#1-basics">1. Basics</a></td></tr>\n'
     '<tr class="withdrawn"><td><a href="#HB-TST-002">HB-TST-002</a></td><td>withdrawn</td>'
     '<td><a href="#1-basics">1. Basics</a></td></tr>\n'
     '<tr><td><a href="#HB-ALPHA-001">HB-ALPHA-001</a></td><td>SHOULD</td>'
     '<td><a href="#3-alpha-service">3. ALPHA service</a></td></tr>'),
]


def make_spec(root, main=MAIN, zeta=ZETA, alpha=ALPHA):
    (root / "services").mkdir(parents=True)
    (root / "hyperbios.md").write_text(main, encoding="utf-8")
    (root / "services" / "zeta.md").write_text(zeta, encoding="utf-8")
    (root / "services" / "alpha.md").write_text(alpha, encoding="utf-8")
    (root / "README.md").write_text("Not a chapter: **ignored**.\n", encoding="utf-8")


def render_made_up(tmp, name, **chapters):
    spec_dir = pathlib.Path(tmp) / name
    make_spec(spec_dir, **chapters)
    out = pathlib.Path(tmp) / f"{name}-out"
    try:
        path = render_html.render(spec_dir, out)
    except (render_html.RenderError, hyperbios_spec.SpecError) as e:
        return None, str(e)
    return path, path.read_text(encoding="utf-8")


def test_made_up_specs():
    with tempfile.TemporaryDirectory(prefix="hyperbios-render-test-") as tmp:
        path, text = render_made_up(tmp, "good")
        if not check(path is not None, "a made-up spec with a withdrawn requirement renders" +
                     ("" if path else f": {text}")):
            return
        check(path.name == "hyperbios-spec-0.7.html", f"its file is named after its version: {path.name}")
        for what, fragment in EXPECTED_FRAGMENTS:
            if not check(fragment in text, f"made-up spec: {what}"):
                print("     expected:\n       " + fragment.replace("\n", "\n       "))
        order = re.findall(r'<section class="chapter" id="chapter-([^"]+)"', text)
        check(order == ["hyperbios", "services-zeta", "services-alpha"],
              f"made-up spec: the chapter table's order (zeta before alpha), not the files' ({order})")
        problems = file_problems(text, ["HB-TST-001", "HB-TST-002", "HB-ALPHA-001"])
        check(not problems, "made-up spec: the file checks find nothing" + "".join(f"\n     {p}" for p in problems))

        refusals = [
            ("a link to a heading that does not exist", dict(zeta=ZETA.replace("#1-basics", "#1-basic")),
             "services/zeta.md:3: link to ../hyperbios.md#1-basic: hyperbios.md has no heading with the id '1-basic'"),
            ("a mention of a requirement that does not exist",
             dict(alpha=ALPHA + "\nAs HB-TST-003 says.\n"), "alpha.md:9: mentions HB-TST-003"),
            ("a chapter missing from the chapter table",
             dict(main=MAIN.replace("| 3 | [ALPHA service](services/alpha.md) |\n", "")),
             "the chapter table does not link to services/alpha.md"),
            ("a requirement twice", dict(alpha=ALPHA + "\n- **HB-TST-002** (withdrawn): Again.\n"),
             "requirement HB-TST-002 is there twice"),
            ("a requirement the parser does not read (indented)",
             dict(alpha=ALPHA + "\n- a list\n  - **HB-ALPHA-002** (MAY): A host MAY be nested.\n"),
             "HB-ALPHA-002 looks like a requirement here but hyperbios_spec.parse() does not read it"),
        ]
        for n, (what, change, expect) in enumerate(refusals):
            path, message = render_made_up(tmp, f"bad{n}", **change)
            if not check(path is None and expect in message, f"the renderer refuses {what}"):
                print(f"     expected a message containing: {expect}\n     got: "
                      + ("a file" if path else message))


# ---------------------------------------------------------------------------
# 3. The file checks can fail.
# ---------------------------------------------------------------------------

def test_file_checks_fail():
    good = ('<!DOCTYPE html>\n<html><head><style>p{}</style></head><body>\n<h2 id="a">A</h2>\n'
            '<ul><li id="HB-X-001">req</li></ul>\n<section class="requirement-index"><h2 id="requirement-index">I</h2>'
            '<a href="#HB-X-001">HB-X-001</a></section>\n<p>text <code>**kept**</code></p>\n</body></html>\n')
    check(file_problems(good, ["HB-X-001"]) == [], "the file checks pass a good document")
    faults = [
        ("an unclosed tag", good.replace("</html>", ""), "<html> is never closed"),
        ("a missing end tag", good.replace("</ul>", ""), "</body> closes ul"),
        ("tags closed out of order", good.replace("<p>text", "<p><em>text").replace("</p>", "</p></em>"), "closes"),
        ("a dead link", good.replace('href="#HB-X-001"', 'href="#HB-X-002"'), "names no id"),
        ("a link out of the file", good.replace('href="#HB-X-001"', 'href="other.html#x"'), "leaves the file"),
        ("a heading without id", good.replace('<h2 id="a">', "<h2>"), "has no id"),
        ("an id twice", good.replace('id="a"', 'id="HB-X-001"'), "used more than once"),
        ("a requirement without list item", good.replace('<li id="HB-X-001">', "<li>"), "has no list item"),
        ("a requirement without index entry",
         good.replace('<a href="#HB-X-001">HB-X-001</a></section>', "</section>"), "no entry in the requirement index"),
        ("'**' left", good.replace("text", "text **bold**"), "'**'"),
        ("emphasis left", good.replace("text", "text *it*"), "'*emphasis*'"),
        ("a backtick left", good.replace("text", "text `x`"), "a backtick"),
        ("a link left", good.replace("text", "text [a](b.md)"), "'](' of a link"),
        ("a table row left", good.replace("<p>text", "<p>| a | b |\ntext"), "a table row"),
        ("an escaped bar left", good.replace("text", "a \\| b"), "escaped bar"),
        ("a bullet left", good.replace("<p>text", "<p>- item\ntext"), "a list bullet"),
        ("a heading left", good.replace("<p>text", "<p>## Title\ntext"), "a '#' heading"),
        ("a setext heading", good.replace("<p>text", "<p>Title\n=====\ntext"), "a setext underline"),
        ("a block quote", good.replace("<p>text", "<p>&gt; quoted\ntext"), "a block quote"),
        ("a script", good.replace("</body>", "<script>x()</script></body>"), "loads something"),
        ("an image", good.replace("</body>", '<img src="x.png"></body>'), "loads something"),
        ("CSS that loads", good.replace("p{}", "p{background:url(x.png)}"), "the CSS loads something"),
    ]
    for what, document, expect in faults:
        found = file_problems(document, ["HB-X-001"])
        check(any(expect in p for p in found), f"the file checks catch {what}" + ("" if found else " (found nothing)"))


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    spec_dir = pathlib.Path(sys.argv[1]).resolve()
    test_real_spec(spec_dir)
    test_made_up_specs()
    test_file_checks_fail()
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
