#!/usr/bin/python3
"""Writes the small PDF files of the local-research sample corpus (standard library only).

Regenerate the bundled PDFs (from the repository root):

    /usr/bin/python3 tools/make_sample_pdf.py

That reads every examples/local-research/pdf-src/*.txt and writes the PDF named by its
`output:` line under examples/local-research/docs/, then checks each file it wrote (see
--check). The output is deterministic: the same source always gives the same bytes.

Other uses:

    tools/make_sample_pdf.py SRC.txt OUT.pdf    one source, one PDF (checked after writing)
    tools/make_sample_pdf.py --check F.pdf ...  validate PDFs written by this script and print
                                                their text, page by page

Source format (plain ASCII):

    title: Document title            header lines, then one blank line
    output: engine/name.pdf          path under examples/local-research/docs/

    # Title line                     16 pt bold
    ## Heading                       12.5 pt bold
    A paragraph: consecutive lines, joined and re-wrapped to the page width.

    1. list items, one per line,     each wrapped with a hanging indent
    - also with dashes
    === page ===                     starts a new page

What is written: PDF 1.4, US Letter pages, the standard Helvetica and Helvetica-Bold fonts
(not embedded, WinAnsiEncoding), one uncompressed content stream per page that places each
line with its own BT/ET block from top to bottom, a page footer "Page N of M", an
Info dictionary with the title only (no dates, so bytes do not change between runs), a
classic cross-reference table and a trailer with a content-derived /ID. Text too long for a
page is an error: each page holds exactly the facts its source page states.
"""

import hashlib
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC_DIR = ROOT / "examples" / "local-research" / "pdf-src"
DOCS_DIR = ROOT / "examples" / "local-research" / "docs"

PAGE_W, PAGE_H = 612, 792  # US Letter, points
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 72, 72, 72
TEXT_W = PAGE_W - 2 * MARGIN_X
FOOTER_Y = 40

# Character widths (1/1000 em) of the standard fonts for ASCII 32..126, from Adobe's metrics.
HELVETICA = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
]
HELVETICA_BOLD = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
]
FONTS = {"F1": ("Helvetica", HELVETICA), "F2": ("Helvetica-Bold", HELVETICA_BOLD)}

# name: (font, size, leading, space before)
STYLES = {
    "title": ("F2", 16.0, 20.0, 0.0),
    "heading": ("F2", 12.5, 16.0, 10.0),
    "body": ("F1", 10.5, 14.5, 6.0),
    "item": ("F1", 10.5, 14.5, 2.0),
}
ITEM_RE = re.compile(r"^(\d+\.|-)\s+")


def fail(message):
    sys.exit(f"make_sample_pdf: {message}")


def text_width(text, font, size):
    widths = FONTS[font][1]
    return sum(widths[ord(c) - 32] for c in text) * size / 1000.0


def wrap(text, font, size, width, first_prefix=""):
    """Greedy word wrap; returns lines. first_prefix starts the first line (list markers)."""
    lines, line = [], first_prefix
    for word in text.split():
        candidate = f"{line} {word}" if line and line != first_prefix else line + word
        if text_width(candidate, font, size) <= width or not line.strip():
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    for ln in lines:
        if text_width(ln, font, size) > width:
            fail(f"a word is too long for the page width: {ln!r}")
    return lines


def parse_source(path):
    """Returns (header dict, pages), each page a list of (style, text) blocks."""
    raw = path.read_text(encoding="ascii")
    head, sep, body = raw.partition("\n\n")
    if not sep:
        fail(f"{path}: expected header lines, a blank line, then the text")
    header = {}
    for line in head.splitlines():
        key, colon, value = line.partition(":")
        if not colon:
            fail(f"{path}: header line without 'key: value': {line!r}")
        header[key.strip()] = value.strip()
    for key in ("title", "output"):
        if key not in header:
            fail(f"{path}: missing header '{key}:'")
    pages = []
    for page_text in re.split(r"^=== page ===$", body, flags=re.M):
        blocks = []
        for para in re.split(r"\n\s*\n", page_text.strip()):
            lines = [ln.strip() for ln in para.splitlines() if ln.strip()]
            if not lines:
                continue
            if lines[0].startswith("## "):
                blocks.append(("heading", " ".join(lines)[3:]))
            elif lines[0].startswith("# "):
                blocks.append(("title", " ".join(lines)[2:]))
            elif all(ITEM_RE.match(ln) for ln in lines):
                blocks.extend(("item", ln) for ln in lines)
            else:
                blocks.append(("body", " ".join(lines)))
        if not blocks:
            fail(f"{path}: empty page")
        pages.append(blocks)
    return header, pages


def pdf_string(text):
    if any(not (32 <= ord(c) < 127) for c in text):
        fail(f"only printable ASCII is supported: {text!r}")
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def layout_page(blocks, page_no, n_pages, source):
    """Returns the content stream of one page."""
    ops = []
    y = PAGE_H - MARGIN_TOP
    first = True
    for style, text in blocks:
        font, size, leading, before = STYLES[style]
        if not first:
            y -= before
        first = False
        if style == "item":
            marker = ITEM_RE.match(text).group(0)
            indent = text_width(marker, font, size)
            rest = text[len(marker):]
            lines = wrap(rest, font, size, TEXT_W - indent, first_prefix=marker)
            xs = [MARGIN_X] + [MARGIN_X + indent] * (len(lines) - 1)
        else:
            lines = wrap(text, font, size, TEXT_W)
            xs = [MARGIN_X] * len(lines)
        for x, line in zip(xs, lines):
            y -= leading
            if y < MARGIN_BOTTOM:
                fail(f"{source}: page {page_no} is too long; move text to another page")
            ops.append(f"BT /{font} {size:g} Tf {x:g} {y:.2f} Td {pdf_string(line)} Tj ET")
    footer = f"Page {page_no} of {n_pages}"
    fx = (PAGE_W - text_width(footer, "F1", 8)) / 2
    ops.append(f"BT /F1 8 Tf {fx:.2f} {FOOTER_Y} Td {pdf_string(footer)} Tj ET")
    return ("\n".join(ops) + "\n").encode("ascii")


def build_pdf(title, pages, source="<source>"):
    """Returns the bytes of a PDF 1.4 file."""
    n = len(pages)
    # Object numbers: 1 catalog, 2 pages, 3-4 fonts, 5 info, then (page, contents) pairs.
    objects = {}
    page_ids = [6 + 2 * i for i in range(n)]
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()
    for num, (name, (base, _)) in zip((3, 4), FONTS.items()):
        objects[num] = (f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} "
                        f"/Encoding /WinAnsiEncoding >>").encode()
    objects[5] = f"<< /Title {pdf_string(title)} /Producer (Keel tools/make_sample_pdf.py) >>".encode()
    for i, blocks in enumerate(pages):
        page_id, content_id = page_ids[i], page_ids[i] + 1
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {content_id} 0 R >>"
        ).encode()
        stream = layout_page(blocks, i + 1, n, source)
        objects[content_id] = (f"<< /Length {len(stream)} >>\nstream\n".encode() + stream
                               + b"endstream")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += f"{num} 0 obj\n".encode() + objects[num] + b"\nendobj\n"
    size = max(objects) + 1
    xref_at = len(out)
    out += f"xref\n0 {size}\n".encode()
    out += b"0000000000 65535 f \n"
    for num in range(1, size):
        out += f"{offsets[num]:010d} 00000 n \n".encode()
    doc_id = hashlib.md5(bytes(out)).hexdigest()
    out += (f"trailer\n<< /Size {size} /Root 1 0 R /Info 5 0 R /ID [<{doc_id}> <{doc_id}>] >>\n"
            f"startxref\n{xref_at}\n%%EOF\n").encode()
    return bytes(out)


def unescape(s):
    return re.sub(rb"\\(.)", lambda m: m.group(1), s).decode("latin-1")


def check_pdf(data, name="<pdf>"):
    """Validates the structure this script writes; returns the text of each page, in order."""
    def bad(msg):
        fail(f"{name}: {msg}")

    if not data.startswith(b"%PDF-1.4\n"):
        bad("does not start with %PDF-1.4")
    if not data.endswith(b"%%EOF\n"):
        bad("does not end with %%EOF")
    m = re.search(rb"startxref\n(\d+)\n%%EOF\n$", data)
    if not m:
        bad("no startxref")
    xref_at = int(m.group(1))
    if data[xref_at:xref_at + 5] != b"xref\n":
        bad(f"startxref {xref_at} does not point at 'xref'")
    m = re.compile(rb"xref\n0 (\d+)\n").match(data, xref_at)
    if not m:
        bad("malformed xref subsection header")
    size = int(m.group(1))
    table = data[m.end():m.end() + 20 * size]
    entries = [table[i * 20:(i + 1) * 20] for i in range(size)]
    if entries[0] != b"0000000000 65535 f \n":
        bad("xref entry 0 is not the free-list head")
    objects = {}
    for num in range(1, size):
        e = entries[num]
        if not re.fullmatch(rb"\d{10} \d{5} n \n", e):
            bad(f"xref entry {num} is not 20 bytes of 'OOOOOOOOOO GGGGG n \\n': {e!r}")
        off = int(e[:10])
        head = f"{num} 0 obj\n".encode()
        if data[off:off + len(head)] != head:
            bad(f"xref offset {off} of object {num} does not point at '{num} 0 obj'")
        end = data.find(b"\nendobj\n", off)
        if end < 0:
            bad(f"object {num} has no endobj")
        objects[num] = data[off + len(head):end]
    trailer = data[m.end() + 20 * size:]
    if not trailer.startswith(b"trailer\n"):
        bad("no trailer after the xref table")
    if f"/Size {size} ".encode() not in trailer:
        bad("trailer /Size does not match the xref table")
    root = int(re.search(rb"/Root (\d+) 0 R", trailer).group(1))
    if b"/Type /Catalog" not in objects[root]:
        bad("/Root is not a catalog")
    pages_id = int(re.search(rb"/Pages (\d+) 0 R", objects[root]).group(1))
    pages_obj = objects[pages_id]
    kids = [int(k) for k in re.findall(rb"(\d+) 0 R", re.search(rb"/Kids \[(.*?)\]", pages_obj).group(1))]
    count = int(re.search(rb"/Count (\d+)", pages_obj).group(1))
    if count != len(kids):
        bad(f"/Count {count} but {len(kids)} kids")
    texts = []
    for kid in kids:
        page = objects[kid]
        if b"/Type /Page " not in page or f"/Parent {pages_id} 0 R".encode() not in page:
            bad(f"object {kid} is not a page of the page tree")
        cid = int(re.search(rb"/Contents (\d+) 0 R", page).group(1))
        body = objects[cid]
        sm = re.match(rb"<< /Length (\d+) >>\nstream\n", body)
        if not sm:
            bad(f"contents {cid} is not a stream")
        length = int(sm.group(1))
        stream = body[sm.end():]
        if len(stream) != length + len(b"endstream") or not stream.endswith(b"endstream"):
            bad(f"stream {cid}: /Length {length} does not match its data")
        lines = [unescape(s) for s in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", stream[:length])]
        texts.append("\n".join(lines))
    return texts


def source_words(blocks):
    return " ".join(text for _, text in blocks).split()


def make(src, out):
    header, pages = parse_source(src)
    data = build_pdf(header["title"], pages, src)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    # Read it back: every page's words, in order, then its footer.
    texts = check_pdf(out.read_bytes(), str(out))
    for i, (blocks, text) in enumerate(zip(pages, texts), 1):
        expected = source_words(blocks) + f"Page {i} of {len(pages)}".split()
        if text.split() != expected:
            fail(f"{out}: page {i} does not read back as its source text")
    words = sum(len(source_words(b)) for b in pages)
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: "
          f"{len(pages)} page(s), {words} words, {len(data)} bytes", file=sys.stderr)


def main(argv):
    if argv and argv[0] == "--check":
        for name in argv[1:]:
            texts = check_pdf(pathlib.Path(name).read_bytes(), name)
            print(f"{name}: OK, {len(texts)} page(s)")
            for i, text in enumerate(texts, 1):
                print(f"--- page {i}\n{text}")
        return
    if len(argv) == 2:
        make(pathlib.Path(argv[0]), pathlib.Path(argv[1]))
        return
    if argv:
        fail("usage: make_sample_pdf.py [SRC.txt OUT.pdf | --check F.pdf ...]")
    sources = sorted(SRC_DIR.glob("*.txt"))
    if not sources:
        fail(f"no sources in {SRC_DIR}")
    for src in sources:
        header, _ = parse_source(src)
        make(src, DOCS_DIR / header["output"])


if __name__ == "__main__":
    main(sys.argv[1:])
