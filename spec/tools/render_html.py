#!/usr/bin/python3
"""Renders the HyperBIOS specification as one self-contained HTML file.

    render_html.py SPEC_DIR [--output-dir DIR]

writes DIR/hyperbios-spec-<version>.html (the version from the spec's version
line) and prints its path. The file holds a title block, a table of contents,
every chapter — spec/hyperbios.md first, then the chapters in the order of the
chapter table at its top — and a requirement index; its CSS is inline, and it
loads nothing and runs no script.

Links between chapter files (`services/evt.md`, `../hyperbios.md#1-conventions`,
`#132-timers`) become links inside the file: every heading has the id GitHub
would give it (and a prefix where two chapters would give the same one), and
every requirement's list item has its ID as id (`id="HB-CON-001"`). A mention of
a requirement ID anywhere in the text links to it. The requirement list is the
one hyperbios_spec.parse() reads, so the index has exactly the requirements the
tools know; withdrawn requirements (`- **HB-DISC-009** (withdrawn): text`) are
found here and marked withdrawn in the index.

The Markdown read is the subset the spec uses, as GitHub reads it (CommonMark
with pipe tables): ATX headings, paragraphs, `-` and `1.` lists (nested by
indentation; loose and tight), pipe tables (`\\|` in a cell is a bar, `:---:`
aligns), fenced code blocks, thematic breaks, code spans, `**strong**`,
`*emphasis*`, `[text](url)`, backslash escapes and entity references. Not read:
setext headings, block quotes, indented code blocks, `_emphasis_` (names like
get_impl_id stay whole); raw HTML is shown as text. The test's check for
Markdown left in the text notices most of these if a chapter starts using them.
A link to a heading or chapter that does not exist, or a mention of a
requirement ID no requirement has, is an error: the file would have a dead link.

Standard library only, like the other tools; no timestamps in the output, so the
same spec gives the same file.
"""

import argparse
import html
import pathlib
import re
import shutil
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import hyperbios_spec  # noqa: E402

MAIN_CHAPTER = "hyperbios.md"

# Blocks.
FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
LIST_ITEM = re.compile(r"^( *)([-*+]|\d{1,9}[.)])( +|$)(.*)$")
THEMATIC_BREAK = re.compile(r"^ {0,3}([-*_])(?: *\1){2,} *$")
TABLE_SEPARATOR = re.compile(r"^ {0,3}\|(\s*:?-+:?\s*\|)+\s*$")
# A requirement's list item, as its first line starts (after the list marker).
REQUIREMENT_ITEM = re.compile(r"^\*\*(HB-[A-Z]+-\d{3})\*\* \((MUST|SHOULD|MAY|withdrawn)\):", re.IGNORECASE)
# A withdrawn requirement's line as it stands in a chapter, which hyperbios_spec.parse() may not know yet.
WITHDRAWN_LINE = re.compile(r"^- \*\*(HB-[A-Z]+-\d{3})\*\* \(withdrawn\):", re.IGNORECASE)

# Inline.
ASCII_PUNCTUATION = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
LINK_DESTINATION = re.compile(r"\(\s*(<[^<>\n]*>|[^\s()]*)\s*\)")
REQUIREMENT_ID = re.compile(r"\bHB-[A-Z]+-\d{3}\b")
EXTERNAL_URL = re.compile(r"^(?:https?|mailto):", re.IGNORECASE)

# Ids the file itself uses; headings that would take one get a prefix instead.
CONTENTS_ID = "contents"
INDEX_ID = "requirement-index"


class RenderError(Exception):
    pass


# ---------------------------------------------------------------------------
# Blocks: a chapter's lines into headings, paragraphs, lists, tables, code.
# Every block keeps the number of its first line, for error messages.
# ---------------------------------------------------------------------------

class Heading:
    def __init__(self, level, text, line):
        self.level, self.text, self.line = level, text, line
        self.id = None  # given once every chapter is read (ids are unique across the file)


class Paragraph:
    def __init__(self, text, line):
        self.text, self.line = text, line


class CodeBlock:
    def __init__(self, language, lines, line):
        self.language, self.lines, self.line = language, lines, line


class ThematicBreak:
    def __init__(self, line):
        self.line = line


class Table:
    def __init__(self, header, aligns, rows, line):
        self.header, self.aligns, self.rows, self.line = header, aligns, rows, line


class ListBlock:
    def __init__(self, ordered, start, line):
        self.ordered, self.start, self.line = ordered, start, line
        self.items = []
        self.loose = False


class ListItem:
    def __init__(self, first_text, line):
        self.first_text, self.line = first_text, line  # first_text: the item's first line, after the marker
        self.blocks = []
        self.requirement = None  # (id, level) when the item is a requirement


def indentation(text):
    return len(text) - len(text.lstrip(" "))


def is_table_start(lines, i):
    return (lines[i][1].lstrip(" ").startswith("|") and indentation(lines[i][1]) <= 3
            and i + 1 < len(lines) and TABLE_SEPARATOR.match(lines[i + 1][1]) is not None)


def interrupts_paragraph(lines, i):
    """Whether line i starts a block even right after a paragraph line (CommonMark's
    rule for lists: a bullet with text, or an ordered list starting at 1)."""
    text = lines[i][1]
    if FENCE.match(text) or HEADING.match(text) or THEMATIC_BREAK.match(text) or is_table_start(lines, i):
        return True
    m = LIST_ITEM.match(text)
    if m and m.group(4).strip():
        return not m.group(2)[:-1].isdigit() or int(m.group(2)[:-1]) == 1
    return False


def table_cells(text):
    return hyperbios_spec.cells(text)


def parse_blocks(lines):
    """lines: [(line number, text)], indentation of the container removed."""
    blocks = []
    i = 0
    while i < len(lines):
        number, text = lines[i]
        if not text.strip():
            i += 1
            continue
        m = FENCE.match(text)
        if m:
            indent, fence, language = len(m.group(1)), m.group(2), m.group(3)
            body = []
            i += 1
            while i < len(lines):
                closing = lines[i][1].strip()
                if closing.startswith(fence) and not closing.strip(fence[0]):
                    i += 1
                    break
                body.append(lines[i][1][min(indent, indentation(lines[i][1])):])
                i += 1
            blocks.append(CodeBlock(language, body, number))
            continue
        m = HEADING.match(text)
        if m:
            blocks.append(Heading(len(m.group(1)), m.group(2) or "", number))
            i += 1
            continue
        if THEMATIC_BREAK.match(text):  # before lists: "- - -" and "* * *" are breaks, not items
            blocks.append(ThematicBreak(number))
            i += 1
            continue
        if is_table_start(lines, i):
            header = table_cells(text)
            aligns = []
            for cell in table_cells(lines[i + 1][1]):
                left, right = cell.startswith(":"), cell.endswith(":")
                aligns.append("center" if left and right else "right" if right else "left" if left else None)
            rows = []
            i += 2
            while i < len(lines) and lines[i][1].lstrip(" ").startswith("|"):
                rows.append(table_cells(lines[i][1]))
                i += 1
            blocks.append(Table(header, aligns, rows, number))
            continue
        if LIST_ITEM.match(text):
            i = parse_list(lines, i, blocks)
            continue
        paragraph = [text.strip()]
        i += 1
        while i < len(lines) and lines[i][1].strip() and not interrupts_paragraph(lines, i):
            paragraph.append(lines[i][1].strip())
            i += 1
        blocks.append(Paragraph("\n".join(paragraph), number))
    return blocks


def parse_list(lines, i, blocks):
    """Reads the list starting at line i into `blocks`; returns the index after it."""
    m = LIST_ITEM.match(lines[i][1])
    indent, marker = len(m.group(1)), m.group(2)
    ordered = marker[-1] in ".)"
    kind = marker[-1] if ordered else marker
    block = ListBlock(ordered, int(marker[:-1]) if ordered else None, lines[i][0])
    blocks.append(block)
    while True:
        number = lines[i][0]
        m = LIST_ITEM.match(lines[i][1])
        spaces = len(m.group(3))
        content_column = indent + len(m.group(2)) + (spaces if 1 <= spaces <= 4 else 1)
        item = ListItem(m.group(4), number)
        item_lines = [(number, m.group(4))]
        i += 1
        blank_before = False
        while i < len(lines):
            text = lines[i][1]
            if not text.strip():
                blank_before = True
                i += 1
                continue
            if indentation(text) >= content_column:
                if blank_before:
                    item_lines.append((lines[i][0] - 1, ""))
                    block.loose = True
                item_lines.append((lines[i][0], text[content_column:]))
                blank_before = False
                i += 1
                continue
            if blank_before or interrupts_paragraph(lines, i) or LIST_ITEM.match(text):
                break
            item_lines.append((lines[i][0], text.strip()))  # a lazy continuation of the item's paragraph
            i += 1
        item.blocks = parse_blocks(item_lines)
        block.items.append(item)
        if i >= len(lines):
            return i
        m = LIST_ITEM.match(lines[i][1])
        sibling = (m and len(m.group(1)) == indent and (m.group(2)[-1] if ordered else m.group(2)) == kind
                   and not THEMATIC_BREAK.match(lines[i][1]))
        if not sibling:
            return i
        if blank_before:
            block.loose = True


def walk(blocks):
    """Every block in document order, list items and their blocks included."""
    for block in blocks:
        yield block
        if isinstance(block, ListBlock):
            for item in block.items:
                yield item
                yield from walk(item.blocks)


# ---------------------------------------------------------------------------
# Inline: code spans, links, strong, emphasis, escapes, entities, IDs.
# ---------------------------------------------------------------------------

def backtick_run(text, i):
    j = i
    while j < len(text) and text[j] == "`":
        j += 1
    return j - i


def code_span_end(text, i):
    """For a run of backticks at i: (index after the closing run, run length), or (None, run length)."""
    n = backtick_run(text, i)
    j = i + n
    while True:
        k = text.find("`", j)
        if k < 0:
            return None, n
        run = backtick_run(text, k)
        if run == n:
            return k + run, n
        j = k + run


def scan(text, start):
    """Positions from `start` that are not inside a code span or a backslash escape."""
    i = start
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in ASCII_PUNCTUATION:
            i += 2
        elif c == "`":
            end, n = code_span_end(text, i)
            i = end if end is not None else i + n
        else:
            yield i
            i += 1


def closing_delimiter(text, start, delimiter):
    """Index of the `**` or `*` that closes one opened just before `start`: preceded by
    a non-space; while looking for `*`, a nested `**...**` is passed over whole."""
    skip_to = start
    for i in scan(text, start):
        if i < skip_to:
            continue
        if delimiter == "*" and text.startswith("**", i):
            inner = closing_delimiter(text, i + 2, "**")
            skip_to = inner + 2 if inner is not None else i + 2
            continue
        if text.startswith(delimiter, i) and i > start and not text[i - 1].isspace():
            return i
    return None


def link_at(text, i):
    """A link `[label](destination)` starting at i: (label, destination, end index), or None."""
    depth = 0
    for j in scan(text, i):
        if text[j] == "[":
            depth += 1
        elif text[j] == "]":
            depth -= 1
            if depth == 0:
                m = LINK_DESTINATION.match(text, j + 1)
                if not m:
                    return None
                return text[i + 1:j], m.group(1).strip("<>"), m.end()
    return None


def github_slug(plain):
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", plain.lower()).replace(" ", "-")


def plain_text(fragment):
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


def without_links(fragment):
    """The HTML of a heading, for the table of contents (an <a> may not hold another)."""
    return re.sub(r"</?a\b[^>]*>", "", fragment)


class InlineRenderer:
    """Renders the inline Markdown of one block. `resolve(url)` gives a link's target,
    `requirement_ids` the IDs a mention may link to; without them (to read a
    heading's text for its id) links show their label and IDs stay text."""

    def __init__(self, where, errors, resolve=None, requirement_ids=None):
        self.where, self.errors, self.resolve, self.requirement_ids = where, errors, resolve, requirement_ids

    def render(self, text, in_link=False):
        out, plain = [], []

        def flush():
            if plain:
                out.append(self.text_html("".join(plain), in_link))
                plain.clear()

        i = 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text) and text[i + 1] in ASCII_PUNCTUATION:
                plain.append(text[i + 1])
                i += 2
                continue
            if c == "\\" and text.startswith("\\\n", i):  # a hard line break
                flush()
                out.append("<br>\n")
                i += 2
                continue
            if c == "`":
                end, n = code_span_end(text, i)
                if end is None:
                    plain.append("`" * n)
                    i += n
                    continue
                flush()
                out.append(self.code_html(text[i + n:end - n], in_link))
                i = end
                continue
            if c == "[" and not in_link:
                link = link_at(text, i)
                if link:
                    flush()
                    out.append(self.link_html(link[0], link[1]))
                    i = link[2]
                    continue
            if text.startswith("**", i) and i + 2 < len(text) and not text[i + 2].isspace():
                close = closing_delimiter(text, i + 2, "**")
                if close is not None:
                    flush()
                    out.append(f"<strong>{self.render(text[i + 2:close], in_link)}</strong>")
                    i = close + 2
                    continue
            if c == "*" and i + 1 < len(text) and not text[i + 1].isspace() and text[i + 1] != "*":
                close = closing_delimiter(text, i + 1, "*")
                if close is not None:
                    flush()
                    out.append(f"<em>{self.render(text[i + 1:close], in_link)}</em>")
                    i = close + 1
                    continue
            if c == "&":
                m = ENTITY.match(text, i)
                if m and html.unescape(m.group()) != m.group():
                    plain.append(html.unescape(m.group()))
                    i = m.end()
                    continue
            plain.append(c)
            i += 1
        flush()
        return "".join(out)

    def text_html(self, text, in_link):
        escaped = html.escape(text, quote=False)
        if in_link or self.requirement_ids is None:
            return escaped

        def mention(m):
            rid = m.group()
            if rid not in self.requirement_ids:
                self.errors.append(f"{self.where}: mentions {rid}, which no requirement of the spec has")
                return rid
            return f'<a class="req" href="#{rid}">{rid}</a>'

        return REQUIREMENT_ID.sub(mention, escaped)

    def code_html(self, content, in_link):
        content = content.replace("\n", " ")
        if len(content) > 2 and content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]
        code = f"<code>{html.escape(content, quote=False)}</code>"
        if not in_link and self.requirement_ids is not None and content in self.requirement_ids:
            return f'<a class="req" href="#{content}">{code}</a>'
        return code

    def link_html(self, label, url):
        if self.resolve is None:
            return self.render(label, in_link=True)
        kind, target = self.resolve(url, self.where)
        if kind == "internal":
            return f'<a href="#{html.escape(target)}">{self.render(label, in_link=True)}</a>'
        if kind == "external":
            return f'<a href="{html.escape(target)}">{self.render(label, in_link=True)}</a>'
        # A file of the source tree that this document does not hold: its name, not a dead link.
        return (f'<span class="outside" title="{html.escape(target)} in the HyperBIOS source tree">'
                f"{self.render(label)}</span>")


# ---------------------------------------------------------------------------
# The document: chapters in order, ids, requirements, links; then the HTML.
# ---------------------------------------------------------------------------

class Chapter:
    def __init__(self, spec_dir, path):
        self.path = path
        self.relative = path.relative_to(spec_dir).as_posix()
        self.anchor = "chapter-" + self.relative[:-len(".md")].replace("/", "-")
        lines = path.read_text(encoding="utf-8").expandtabs(4).splitlines()
        self.blocks = parse_blocks([(n + 1, line) for n, line in enumerate(lines)])
        self.is_main = self.relative == MAIN_CHAPTER

    def where(self, line):
        return f"{self.path}:{line}"

    def output_level(self, heading):
        """Service chapters start with an H1 like the main file's sections' H2s:
        one level down, so that every chapter is an <h2> under the title."""
        return heading.level if self.is_main else min(heading.level + 1, 6)


def chapter_order(spec_dir, main):
    """The main chapter, then the chapter files in the order of the first table of
    the main chapter that links to them (the chapter table at its top)."""
    order = [main.path]
    chapter_files = {p.resolve() for p in hyperbios_spec.spec_files(spec_dir)}
    for block in main.blocks:
        if not isinstance(block, Table):
            continue
        targets = [link.split("#")[0] for row in [block.header] + block.rows for cell in row
                   for link in re.findall(r"\]\(([^)\s]+)\)", cell)]
        targets = [t for t in targets if t.endswith(".md")]
        if not targets:
            continue
        for target in targets:
            path = (main.path.parent / target).resolve()
            if path not in chapter_files:
                raise RenderError(f"{main.where(block.line)}: the chapter table links to {target}, "
                                  "which is not a chapter of the spec (hyperbios_spec.spec_files)")
            if path not in order:
                order.append(path)
        break
    unlisted = [p for p in hyperbios_spec.spec_files(spec_dir) if p.resolve() not in order]
    if unlisted:
        raise RenderError(f"{main.path}: the chapter table does not link to "
                          + ", ".join(str(p.relative_to(spec_dir)) for p in unlisted)
                          + " (every chapter must be in it, which also gives the chapters' order)")
    return order


def parsed_spec(spec_dir, chapters):
    """hyperbios_spec.parse(spec_dir). A parser that does not know the withdrawn form
    rejects the spec with one in it: then it reads a copy with those lines blank
    (their numbers kept, so that its messages still name the right lines)."""
    try:
        return hyperbios_spec.parse(spec_dir)
    except hyperbios_spec.SpecError:
        withdrawn_in = [c for c in chapters if any(WITHDRAWN_LINE.match(line)
                                                   for line in c.path.read_text(encoding="utf-8").splitlines())]
        if not withdrawn_in:
            raise
    with tempfile.TemporaryDirectory(prefix="hyperbios-render-") as tmp:
        copy = pathlib.Path(tmp)
        for chapter in chapters:
            target = copy / chapter.relative
            target.parent.mkdir(parents=True, exist_ok=True)
            lines = chapter.path.read_text(encoding="utf-8").splitlines()
            target.write_text("\n".join("" if WITHDRAWN_LINE.match(line) else line for line in lines) + "\n",
                              encoding="utf-8")
        try:
            spec = hyperbios_spec.parse(copy)
        except hyperbios_spec.SpecError as e:
            raise hyperbios_spec.SpecError(str(e).replace(str(copy), str(spec_dir))) from None
        for entry in list(spec["requirements"].values()) + [spec["version"] or {}]:
            if "where" in entry:
                entry["where"] = entry["where"].replace(str(copy), str(spec_dir))
        return spec


class Document:
    def __init__(self, spec_dir):
        self.spec_dir = pathlib.Path(spec_dir).resolve()
        self.errors = []
        main_path = self.spec_dir / MAIN_CHAPTER
        if not main_path.is_file():
            raise RenderError(f"{main_path} does not exist")
        main = Chapter(self.spec_dir, main_path)
        self.chapters = [main] + [Chapter(self.spec_dir, p) for p in chapter_order(self.spec_dir, main)[1:]]
        self.spec = parsed_spec(self.spec_dir, self.chapters)
        if not self.spec["version"]:
            raise RenderError(f"{main_path} has no version line ('**Version M.N (draft)** · YYYY-MM-DD · ...')")
        self.version = self.spec["version"]["version"]
        self.find_requirements()
        self.give_ids()

    # -- requirements --------------------------------------------------------

    def find_requirements(self):
        """Every requirement's list item, with its level and section; checked against parse()."""
        self.requirements = {}  # id -> {"level", "chapter", "line", "heading"}
        for chapter in self.chapters:
            heading = None
            for block in walk(chapter.blocks):
                if isinstance(block, Heading):
                    heading = block
                if not isinstance(block, ListItem):
                    continue
                m = REQUIREMENT_ITEM.match(block.first_text)
                if not m:
                    continue
                rid, level = m.group(1), m.group(2)
                level = "withdrawn" if level.lower() == "withdrawn" else level.upper()
                if rid in self.requirements:
                    first = self.requirements[rid]
                    self.errors.append(f"{chapter.where(block.line)}: requirement {rid} is there twice "
                                       f"(first at {first['chapter'].where(first['line'])})")
                    continue
                block.requirement = (rid, level)
                self.requirements[rid] = {"level": level, "chapter": chapter, "line": block.line, "heading": heading}
        parsed = self.spec["requirements"]
        for rid, found in self.requirements.items():
            if found["level"] == "withdrawn":
                continue
            if rid not in parsed:
                self.errors.append(f"{found['chapter'].where(found['line'])}: {rid} looks like a requirement here "
                                   "but hyperbios_spec.parse() does not read it (only '- **HB-AREA-NNN** (LEVEL): "
                                   "text' at the start of a line is one)")
            elif parsed[rid]["level"] != found["level"]:
                self.errors.append(f"{found['chapter'].where(found['line'])}: {rid} is {found['level']} here but "
                                   f"{parsed[rid]['level']} to hyperbios_spec.parse()")
        for rid, requirement in parsed.items():
            if rid not in self.requirements:
                self.errors.append(f"{requirement['where']}: hyperbios_spec.parse() reads requirement {rid} "
                                   "where the renderer finds no requirement list item")

    # -- ids -----------------------------------------------------------------

    def give_ids(self):
        """Each heading gets GitHub's id for it (so that links written for GitHub work),
        or, where another chapter already took that id, the chapter's name before it."""
        used = {CONTENTS_ID, INDEX_ID} | set(self.requirements) | {c.anchor for c in self.chapters}
        self.heading_ids = {}  # (chapter file, GitHub id) -> id in this document
        for chapter in self.chapters:
            seen = {}  # GitHub numbers a heading's repeated slug within one file: x, x-1, x-2
            for block in walk(chapter.blocks):
                if not isinstance(block, Heading):
                    continue
                text = plain_text(InlineRenderer(chapter.where(block.line), []).render(block.text))
                slug = github_slug(text) or "section"
                github_id = slug if slug not in seen else f"{slug}-{seen[slug]}"
                seen[slug] = seen.get(slug, 0) + 1
                candidate = github_id
                if candidate in used:
                    candidate = f"{chapter.anchor[len('chapter-'):]}-{github_id}"
                    n = 1
                    while candidate in used:
                        n += 1
                        candidate = f"{chapter.anchor[len('chapter-'):]}-{github_id}-{n}"
                used.add(candidate)
                block.id = candidate
                self.heading_ids[(chapter.relative, github_id)] = candidate

    def resolver(self, chapter):
        def resolve(url, where):
            if EXTERNAL_URL.match(url):
                return "external", url
            path_part, _, fragment = url.partition("#")
            if path_part:
                target = (chapter.path.parent / path_part).resolve()
            else:
                target = chapter.path.resolve()
            inside = target == self.spec_dir or self.spec_dir in target.parents
            relative = target.relative_to(self.spec_dir).as_posix() if inside else None
            by_file = {c.relative: c for c in self.chapters}
            if relative in by_file:
                if not fragment:
                    return "internal", self.chapter_target(by_file[relative])
                if fragment in self.requirements:
                    return "internal", fragment
                if (relative, fragment) in self.heading_ids:
                    return "internal", self.heading_ids[(relative, fragment)]
                self.errors.append(f"{where}: link to {url}: {relative} has no heading with the id '{fragment}'")
                return "internal", CONTENTS_ID
            if inside and target.is_dir() and any(c.path.resolve().is_relative_to(target) for c in self.chapters):
                return "internal", CONTENTS_ID  # a folder of chapters: they are all in the contents
            if inside and not target.exists():
                self.errors.append(f"{where}: link to {url}: {target} does not exist")
            shown = target.relative_to(self.spec_dir.parent).as_posix() \
                if target.is_relative_to(self.spec_dir.parent) else url
            return "outside", shown
        return resolve

    def chapter_target(self, chapter):
        first = next((b for b in walk(chapter.blocks) if isinstance(b, Heading)), None)
        return first.id if first is not None else chapter.anchor

    # -- HTML ----------------------------------------------------------------

    def inline(self, chapter, line, text):
        renderer = InlineRenderer(chapter.where(line), self.errors, self.resolver(chapter), set(self.requirements))
        return renderer.render(text)

    def blocks_html(self, chapter, blocks, tight=False):
        parts = []
        for block in blocks:
            if isinstance(block, Heading):
                level = chapter.output_level(block)
                parts.append(f'<h{level} id="{html.escape(block.id)}">{self.inline(chapter, block.line, block.text)}'
                             f"</h{level}>")
            elif isinstance(block, Paragraph):
                content = self.inline(chapter, block.line, block.text)
                parts.append(content if tight else f"<p>{content}</p>")
            elif isinstance(block, CodeBlock):
                language = f' class="language-{html.escape(block.language)}"' if block.language else ""
                code = html.escape("\n".join(block.lines), quote=False)
                parts.append(f"<pre><code{language}>{code}</code></pre>")
            elif isinstance(block, Table):
                parts.append(self.table_html(chapter, block))
            elif isinstance(block, ListBlock):
                parts.append(self.list_html(chapter, block))
            elif isinstance(block, ThematicBreak):
                parts.append("<hr>")
        return "\n".join(parts)

    def table_html(self, chapter, table):
        def row(cells, tag):
            out = []
            for n, cell in enumerate(cells):
                align = table.aligns[n] if n < len(table.aligns) else None
                style = f' style="text-align:{align}"' if align else ""
                out.append(f"<{tag}{style}>{self.inline(chapter, table.line, cell)}</{tag}>")
            return "<tr>" + "".join(out) + "</tr>"

        width = len(table.header)
        body = [row(cells + [""] * (width - len(cells)), "td") for cells in table.rows]
        return ("<table>\n<thead>\n" + row(table.header, "th") + "\n</thead>\n<tbody>\n"
                + "".join(r + "\n" for r in body) + "</tbody>\n</table>")

    def list_html(self, chapter, block):
        tag = "ol" if block.ordered else "ul"
        start = f' start="{block.start}"' if block.ordered and block.start != 1 else ""
        items = []
        for item in block.items:
            attributes = ""
            if item.requirement:
                rid, level = item.requirement
                attributes = f' class="requirement {level.lower()}" id="{rid}"'
            items.append(f"<li{attributes}>{self.blocks_html(chapter, item.blocks, tight=not block.loose)}</li>")
        return f"<{tag}{start}>\n" + "\n".join(items) + f"\n</{tag}>"

    def title_block(self, main):
        """The main chapter's H1 and version line, taken out of its text to head the file."""
        title = next((b for b in main.blocks if isinstance(b, Heading)), None)
        if title is None or title.level != 1:
            raise RenderError(f"{main.path} does not start with its title as a level-1 heading")
        version = next((b for b in main.blocks if isinstance(b, Paragraph)
                        and hyperbios_spec.VERSION_LINE.match(b.text)), None)
        main.blocks = [b for b in main.blocks if b is not title and b is not version]
        parts = ['<header class="title-block">',
                 f'<h1 id="{html.escape(title.id)}">{self.inline(main, title.line, title.text)}</h1>']
        if version is not None:
            parts.append(f'<p class="version">{self.inline(main, version.line, version.text)}</p>')
        parts.append(f'<p class="source">One file made from <code>spec/{MAIN_CHAPTER}</code> and the '
                     f"{len(self.chapters) - 1} service chapters it lists, by <code>spec/tools/render_html.py</code>; "
                     "the Markdown files are the source. The text of the specification is under the Creative "
                     "Commons Attribution 4.0 International License (CC BY 4.0).</p>")
        parts.append("</header>")
        return "\n".join(parts), plain_text(self.inline(main, title.line, title.text))

    def contents_html(self):
        entries = []
        for chapter in self.chapters:
            for block in walk(chapter.blocks):
                if isinstance(block, Heading) and 2 <= chapter.output_level(block) <= 4:
                    entries.append((chapter.output_level(block), block.id,
                                    without_links(self.inline(chapter, block.line, block.text))))
        entries.append((2, INDEX_ID, "Requirement index"))
        out = [f'<nav class="contents">\n<h2 id="{CONTENTS_ID}">Contents</h2>']
        levels = []  # the levels of the open <ul>s; the last <li> of each is open too
        for level, target, text in entries:
            if levels and level <= levels[-1]:
                out.append("</li>")
                while len(levels) > 1 and level < levels[-1]:
                    levels.pop()
                    out.append("</ul>\n</li>")
            if not levels or level > levels[-1]:
                out.append("<ul>")
                levels.append(level)
            out.append(f'<li><a href="#{html.escape(target)}">{text}</a>')
        while levels:
            levels.pop()
            out.append("</li>\n</ul>")
        out.append("</nav>")
        return "\n".join(out)

    def index_html(self):
        areas = []  # in the order the spec first uses them
        for rid in self.requirements:
            area = rid.split("-")[1]
            if area not in areas:
                areas.append(area)
        order = sorted(self.requirements, key=lambda r: (areas.index(r.split("-")[1]), r))
        counts = {}
        for found in self.requirements.values():
            counts[found["level"]] = counts.get(found["level"], 0) + 1
        summary = ", ".join(f"{counts[level]} {level}" for level in ("MUST", "SHOULD", "MAY", "withdrawn")
                            if level in counts)
        rows = []
        for rid in order:
            found = self.requirements[rid]
            chapter, heading = found["chapter"], found["heading"]
            section = (f'<a href="#{html.escape(heading.id)}">'
                       f"{without_links(self.inline(chapter, heading.line, heading.text))}</a>") if heading else ""
            withdrawn = ' class="withdrawn"' if found["level"] == "withdrawn" else ""
            rows.append(f'<tr{withdrawn}><td><a href="#{rid}">{rid}</a></td><td>{found["level"]}</td>'
                        f"<td>{section}</td></tr>")
        return (f'<section class="requirement-index">\n<h2 id="{INDEX_ID}">Requirement index</h2>\n'
                f"<p>Every numbered requirement of this version ({len(order)}: {summary}), by area in the order the "
                f'chapters introduce them, with the section that states it. Cite one as "HyperBIOS {self.version}, '
                f'{order[0] if order else "HB-CON-001"}".</p>\n'
                "<table>\n<thead>\n<tr><th>Requirement</th><th>Level</th><th>Section</th></tr>\n</thead>\n<tbody>\n"
                + "".join(r + "\n" for r in rows) + "</tbody>\n</table>\n</section>")

    def html(self):
        main = self.chapters[0]
        header, title = self.title_block(main)
        chapters = []
        for chapter in self.chapters:
            chapters.append(f'<section class="chapter" id="{chapter.anchor}">\n'
                            f"{self.blocks_html(chapter, chapter.blocks)}\n</section>")
        document = "\n".join([
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)} {html.escape(self.version)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            header,
            self.contents_html(),
            "<main>",
            *chapters,
            self.index_html(),
            "</main>",
            "</body>",
            "</html>",
            ""])
        if self.errors:  # a heading is rendered three times (text, contents, index): each message once
            raise RenderError("\n".join(dict.fromkeys(self.errors)))
        return document

    def file_name(self):
        return f"hyperbios-spec-{self.version}.html"


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#1f2328;
background:#fff;max-width:62em;margin:0 auto;padding:1em 2em 4em}
h1,h2,h3,h4,h5,h6{line-height:1.25;margin:1.6em 0 .6em}
h1{font-size:2em}
h2{font-size:1.5em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
h3{font-size:1.25em}
h4{font-size:1.05em}
.title-block h1{margin-top:.5em}
.title-block .version{font-size:1.15em}
.title-block .source{color:#57606a;font-size:.9em}
code,pre{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.88em}
code{background:#f3f4f6;padding:.1em .3em;border-radius:4px}
pre{background:#f6f8fa;padding:.8em 1em;overflow-x:auto;border-radius:6px}
pre code{background:none;padding:0;font-size:1em}
table{border-collapse:collapse;margin:1em 0;display:block;overflow-x:auto}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}
a{color:#0969da;text-decoration:none}
a:hover{text-decoration:underline}
li{margin:.15em 0}
li.requirement{margin:.5em 0}
li.withdrawn,tr.withdrawn{color:#6e7781}
:target{background:#fff8c5}
.contents ul{list-style:none;padding-left:1.2em}
.contents>ul{padding-left:0}
.outside{border-bottom:1px dotted #8c959f}
@media print{body{max-width:none;padding:0}a{color:inherit}table{display:table}
h2,h3,h4{break-after:avoid}pre,tr,li.requirement{break-inside:avoid}}
""".strip()


def render(spec_dir, output_dir):
    """Writes the file into output_dir; returns its path. Raises RenderError or SpecError."""
    document = Document(spec_dir)
    text = document.html()
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / document.file_name()
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    shutil.move(temporary, path)  # never a half-written file under the real name
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec_dir", help="the spec folder (holding hyperbios.md)")
    parser.add_argument("--output-dir", default=".", help="where hyperbios-spec-<version>.html goes (default: .)")
    args = parser.parse_args()
    try:
        path = render(args.spec_dir, args.output_dir)
    except (RenderError, hyperbios_spec.SpecError) as e:
        print(f"render_html: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
