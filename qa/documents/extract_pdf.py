"""PDF (its text layer) → stored text with pages and headings, by pypdfium2 (PDFium, the PDF engine
of Chromium: fast, robust on damaged files, no Python-side parsing of the file).

Per page, the text comes line by line with each character's box and font size. Lines are joined into
paragraphs: a paragraph ends where the gap to the next line is clearly wider than the page's usual
line spacing, or where the font size changes; a word hyphenated across a line end is joined (its
hyphen dropped when the joined word is used elsewhere in the document, kept otherwise, as in
"Saint-Clair"). Lines larger than the body text are headings (the largest size level 1). Running
headers and footers — the same line, digits aside, on most pages, and bare page numbers — are page
chrome and left out, so they are never quoted.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .extracted import Extracted, ExtractError, TextBuilder

PARAGRAPH_GAP = 1.45  # a gap this many times the usual line spacing starts a new paragraph
HEADING_SIZE = 1.15  # a line this many times the body font size is a heading
CHROME_SHARE = 0.5  # a line on at least this share of the pages (digits aside) is a running header/footer...
EDGE_LINES = 2  # ...when it is among the top or bottom lines of each page
_LINE_END = re.compile("\r\n|\ufffe")
_PAGE_NUMBER = re.compile(r"^\W*(page\s*)?\d+(\s*(/|of)\s*\d+)?\W*$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_WORD_END = re.compile(r"([^\W\d_]+)-$")
_WORD_START = re.compile(r"^([^\W\d_]+)")


@dataclass
class Line:
    text: str
    top: float
    bottom: float
    size: float


def extract(data: bytes) -> Extracted:
    """The stored text of a PDF; ``ExtractError`` when it is encrypted, damaged or has no text layer."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractError("is an encrypted PDF; save a copy without a password and add that") from None
        raise ExtractError(f"is not a readable PDF ({exc}); it may be damaged — export it again") from None
    try:
        pages = [_page_lines(pdf[i]) for i in range(len(pdf))]
    finally:
        pdf.close()
    if not any(line.text.strip() for page in pages for line in page):
        raise ExtractError("is a scanned PDF: no text to quote; OCR is not supported")
    return _build(pages)


def _page_lines(page: Any) -> list[Line]:
    import pypdfium2.raw as raw

    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        lines: list[Line] = []
        position = 0
        for brk in [*_LINE_END.finditer(text), None]:
            end = brk.start() if brk else len(text)
            chars = [i for i in range(position, end) if not text[i].isspace()]
            # PDFium marks a hyphen that ends a line as U+FFFE, with no line break after it.
            line_text = text[position:end] + ("-" if brk and brk.group() == "\ufffe" else "")
            position = brk.end() if brk else len(text)
            if not chars:
                continue
            boxes = [textpage.get_charbox(i) for i in chars]
            sizes = [raw.FPDFText_GetFontSize(textpage.raw, i) for i in chars]
            lines.append(Line(line_text, max(b[3] for b in boxes), min(b[1] for b in boxes), statistics.median(sizes)))
        return lines
    finally:
        textpage.close()
        page.close()


def _chrome(pages: list[list[Line]]) -> set[str]:
    """Normalised lines that stand at the top or the bottom of many pages: running headers and footers."""
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({_normal(line.text) for line in _edges(page)})
    return {text for text, n in counts.items() if n >= max(2, CHROME_SHARE * len(pages)) and len(text) < 160}


def _edges(page: list[Line]) -> list[Line]:
    """The top and bottom ``EDGE_LINES`` lines of a page, where headers and footers stand."""
    by_height = sorted(page, key=lambda line: line.top)
    return by_height[:EDGE_LINES] + by_height[-EDGE_LINES:]


def _without_chrome(page: list[Line], chrome: set[str]) -> list[Line]:
    edges = {id(line) for line in _edges(page)}
    return [
        line
        for line in page
        if id(line) not in edges or not (_normal(line.text) in chrome or _PAGE_NUMBER.match(line.text))
    ]


def _normal(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.split())).lower()


def _build(pages: list[list[Line]]) -> Extracted:
    chrome = _chrome(pages)
    kept = [_without_chrome(page, chrome) for page in pages]
    body_sizes = [ln.size for page in kept for ln in page]
    body = statistics.median(body_sizes) if body_sizes else 0.0
    heading_sizes = sorted({round(s, 1) for s in body_sizes if s >= HEADING_SIZE * body}, reverse=True)
    words = Counter(w.lower() for page in kept for ln in page for w in re.findall(r"[^\W\d_]+", ln.text))
    builder = TextBuilder()
    for page in kept:
        for paragraph, size in _paragraphs(page, body, words):
            level = heading_sizes.index(round(size, 1)) + 1 if round(size, 1) in heading_sizes else 0
            builder.paragraph(paragraph, heading=min(level, 3) if level else 0)
        builder.end_page()
    return builder.build(paged=True)


def _paragraphs(lines: list[Line], body: float, words: Counter[str]) -> list[tuple[str, float]]:
    """The page's lines joined into (paragraph, font size)."""
    spacings = [a.bottom - b.bottom for a, b in itertools.pairwise(lines) if a.bottom - b.bottom > 0]
    usual = statistics.median(spacings) if spacings else 0.0
    out: list[tuple[str, float]] = []
    current = ""
    size = 0.0
    previous: Line | None = None
    for line in lines:
        gap = previous.bottom - line.bottom if previous else 0.0
        new = (
            previous is None
            or abs(line.size - previous.size) > 0.1 * max(body, 1.0)
            or gap <= 0
            or (usual and gap > PARAGRAPH_GAP * usual)
        )
        if new and current:
            out.append((current, size))
            current = ""
        current = _join(current, line.text.strip(), words) if current else line.text.strip()
        size = line.size
        previous = line
    if current:
        out.append((current, size))
    return out


def _join(before: str, after: str, words: Counter[str]) -> str:
    """Join two lines of one paragraph, mending a word hyphenated across the line end."""
    end, start = _WORD_END.search(before), _WORD_START.match(after)
    if end and start:
        joined = (end.group(1) + start.group(1)).lower()
        if after[:1].islower() and words[joined]:  # written whole elsewhere: the hyphen was the line break's
            return before[:-1] + after
        return before + after  # a real hyphen ("Saint-Clair", "Norman-Irish"): keep it, drop the line break
    return f"{before} {after}"
