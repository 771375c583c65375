"""A document's layout as a reader sees it: title, sections, body paragraphs and captions.

Two layouts are recognised:

* one paragraph per line (the bundled article): a line holding only a number such as ``01`` is a
  section marker and the line after it the section heading; lines such as ``Image/...`` are captions;
* paragraphs separated by blank lines (the SQuAD files, Markdown), where a paragraph may be wrapped
  over several lines; ``#`` headings start sections.

All positions are offsets into the text exactly as stored; ``\\r\\n``, ``\\r`` and ``\\n`` all end a line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CAPTION = re.compile(
    r"^(?:image|images|photo|photos|picture|figure|fig\.|source|credit|图片?|来源)\s*[/:：|]"
    r"|^!\[[^\]]*\]\([^)]*\)$",
    re.IGNORECASE,
)
_MARKER = re.compile(r"^(?:(?:part|chapter|section)\s+)?\d{1,3}[.)]?$", re.IGNORECASE)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(\S.*?)(?:\s+#+)?\s*$")
_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])\s")
_TERMINAL = re.compile(r"[.!?…。！？:;,\"'”’)\]]$")

TITLE_MAX_CHARS = 200
HEADING_MAX_CHARS = 120
WRAP_MAX_CHARS = 120


class Kind(Enum):
    BLANK = "blank"
    TEXT = "text"
    CAPTION = "caption"
    MARKER = "marker"
    MD_HEADING = "md_heading"


@dataclass(frozen=True)
class Line:
    """One line: its 1-based number and the span of its content without surrounding whitespace."""

    number: int
    start: int
    end: int
    kind: Kind
    level: int = 0  # Markdown heading level


@dataclass(frozen=True)
class Paragraph:
    """A body paragraph: ``number`` counts body paragraphs from 1; ``line`` is the line of ``start``."""

    start: int
    end: int
    line: int
    number: int
    section: str | None


@dataclass(frozen=True)
class Layout:
    """Title line (a ``Paragraph`` numbered 0), body paragraphs and caption spans of one document."""

    title: Paragraph | None
    paragraphs: tuple[Paragraph, ...]
    captions: tuple[tuple[int, int], ...]


def split_lines(text: str, headings: Sequence[tuple[int, int, int]] = ()) -> list[Line]:
    """Every line of ``text`` with its number, classified by what it holds.

    A line whose content is one of ``headings`` (start, end, level: what a converter found) is a heading.
    """
    known = {(start, end): level for start, end, level in headings}
    lines: list[Line] = []
    pos = 0
    number = 1
    for brk in [*LINE_BREAK.finditer(text), None]:
        end = brk.start() if brk else len(text)
        if brk or pos < len(text):
            line = _classify(text, number, pos, end)
            level = known.get((line.start, line.end))
            lines.append(Line(number, line.start, line.end, Kind.MD_HEADING, level) if level else line)
        if brk:
            pos = brk.end()
            number += 1
    return lines


def _classify(text: str, number: int, start: int, end: int) -> Line:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    content = text[start:end]
    if not content:
        return Line(number, start, end, Kind.BLANK)
    if _CAPTION.match(content):
        return Line(number, start, end, Kind.CAPTION)
    if _MARKER.match(content):
        return Line(number, start, end, Kind.MARKER)
    heading = _MD_HEADING.match(content)
    if heading:
        return Line(number, start + heading.start(2), start + heading.end(2), Kind.MD_HEADING, len(heading.group(1)))
    return Line(number, start, end, Kind.TEXT)


def _is_wrapped(lines: list[Line]) -> bool:
    """True when paragraphs are blank-line separated blocks whose lines are hard-wrapped."""
    texts = [ln for ln in lines if ln.kind is Kind.TEXT]
    if not texts or not any(ln.kind is Kind.BLANK for ln in lines):
        return False
    if max(ln.end - ln.start for ln in texts) > WRAP_MAX_CHARS:
        return False
    return any(a.kind is Kind.TEXT and b.kind is Kind.TEXT for a, b in itertools.pairwise(lines))


def parse_layout(text: str, headings: Sequence[tuple[int, int, int]] = ()) -> Layout:
    """Find the title, the body paragraphs (numbered, with their section) and the captions.

    ``headings`` are the (start, end, level) of headings a converter found (Word styles, HTML h1–h6,
    PDF font sizes): those lines start sections whatever they look like.
    """
    return _LayoutReader(text, headings).read()


class _LayoutReader:
    """Reads a document's lines once, in order, keeping the state a reader keeps: the section so far,
    a section marker waiting for its heading, and (in the wrapped layout) the paragraph being grown."""

    def __init__(self, text: str, headings: Sequence[tuple[int, int, int]] = ()) -> None:
        self.text = text
        self.lines = split_lines(text, headings)
        self.wrapped = _is_wrapped(self.lines)
        self.paragraphs: list[Paragraph] = []
        self.captions: list[tuple[int, int]] = []
        self.section: str | None = None
        self.pending_marker: str | None = None
        self.current: list[Line] = []  # the lines of the paragraph being grown

    def read(self) -> Layout:
        title = self._title()
        for ln in self.lines:
            if title is None or ln.number != title.line:
                self._take(ln)
        self._close()
        return Layout(title=title, paragraphs=tuple(self.paragraphs), captions=tuple(self.captions))

    def _title(self) -> Paragraph | None:
        """The first line, when it reads as the document's title."""
        content = [ln for ln in self.lines if ln.kind is not Kind.BLANK]
        if len(content) < 2:
            return None
        first = content[0]
        is_title_text = first.kind is Kind.TEXT and first.end - first.start <= TITLE_MAX_CHARS
        is_title = (first.kind is Kind.MD_HEADING and first.level == 1) or is_title_text
        if is_title and not (self.wrapped and _next(self.lines, first).kind is Kind.TEXT):
            return Paragraph(first.start, first.end, first.number, 0, None)
        return None

    def _take(self, ln: Line) -> None:
        content = self.text[ln.start : ln.end]
        if ln.kind is not Kind.TEXT:
            self._close()
            if ln.kind is Kind.CAPTION:
                self.captions.append((ln.start, ln.end))
            elif ln.kind is Kind.MARKER:
                self.pending_marker = self.section = content
            elif ln.kind is Kind.MD_HEADING:
                self.section, self.pending_marker = content, None
            return
        if self.pending_marker is not None and _reads_as_heading(content):
            self._close()
            self.section, self.pending_marker = f"{self.pending_marker} {content}", None
            return
        self.pending_marker = None
        if _looks_like_heading(self.text, ln, _next(self.lines, ln), self.wrapped, self.current):
            self._close()
            self.section = content
            return
        if self.wrapped and self.current and _LIST_ITEM.match(content):
            self._close()
        self.current.append(ln)
        if not self.wrapped:
            self._close()

    def _close(self) -> None:
        """End the paragraph being grown, if any."""
        if self.current:
            first, last = self.current[0], self.current[-1]
            number = len(self.paragraphs) + 1
            self.paragraphs.append(Paragraph(first.start, last.end, first.number, number, self.section))
            self.current = []


def _next(lines: list[Line], line: Line) -> Line:
    """The line after ``line`` (line numbers are list positions + 1), or a blank stand-in at the end."""
    if line.number < len(lines):
        return lines[line.number]
    return Line(line.number + 1, line.end, line.end, Kind.BLANK)


def _reads_as_heading(line: str) -> bool:
    """After a marker such as ``01``: a short line that does not end as a sentence is its heading."""
    return len(line) <= HEADING_MAX_CHARS and not line.endswith((".", "。"))


def _looks_like_heading(text: str, line: Line, nxt: Line, wrapped: bool, current: list[Line]) -> bool:
    """A short unpunctuated line standing alone before a paragraph reads as a heading."""
    if current or line.end - line.start > HEADING_MAX_CHARS:
        return False
    if _TERMINAL.search(text[line.start : line.end]) or _LIST_ITEM.match(text[line.start : line.end]):
        return False
    if wrapped:
        return nxt.kind is Kind.BLANK and nxt.end < len(text)
    return nxt.kind is Kind.TEXT and nxt.end - nxt.start > line.end - line.start
