"""What a converter makes of a file: the text to store, and where its pages and headings are in it.

The stored text is the document from then on: every quote is ``text[start:end]`` of it. Converters
build it paragraph by paragraph with ``TextBuilder``: paragraphs are separated by a blank line (so the
layout reads each as a paragraph), headings are paragraphs of their own, recorded with their level,
and a paged format closes each page, recording its span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import QAError

PARAGRAPH_BREAK = "\n\n"
_SPACE = re.compile(r"\s+")


class ExtractError(QAError):
    """A file cannot be turned into text; the reason says why and what to do (the file is named by the caller)."""


@dataclass(frozen=True)
class Extracted:
    """Stored text, with page spans (empty for unpaged formats) and heading spans with their level."""

    text: str
    pages: tuple[tuple[int, int], ...] = ()
    headings: tuple[tuple[int, int, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "pages": [list(p) for p in self.pages], "headings": [list(h) for h in self.headings]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Extracted:
        text = str(data["text"])
        pages = tuple((int(s), int(e)) for s, e in data["pages"])
        headings = tuple((int(s), int(e), int(level)) for s, e, level in data["headings"])
        spans = [(s, e) for s, e in pages] + [(s, e) for s, e, _ in headings]
        if any(not 0 <= s <= e <= len(text) for s, e in spans):
            raise ValueError("a page or heading span lies outside the text")
        return cls(text, pages, headings)


class TextBuilder:
    """Accumulates paragraphs into one text, keeping the spans of headings and pages."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._page_start: int | None = None
        self.pages: list[tuple[int, int]] = []
        self.headings: list[tuple[int, int, int]] = []

    def paragraph(self, text: str, heading: int = 0) -> None:
        """Add a paragraph (white space inside folded to single spaces); ``heading`` > 0 is its level."""
        clean = _SPACE.sub(" ", text).strip()
        if not clean:
            return
        if self._length:
            self._parts.append(PARAGRAPH_BREAK)
            self._length += len(PARAGRAPH_BREAK)
        if self._page_start is None:
            self._page_start = self._length
        start = self._length
        self._parts.append(clean)
        self._length += len(clean)
        if heading:
            self.headings.append((start, self._length, heading))

    def end_page(self) -> None:
        """Close the current page (an empty page is recorded as an empty span where it falls)."""
        start = self._length if self._page_start is None else self._page_start
        self.pages.append((start, self._length))
        self._page_start = None

    def build(self, paged: bool) -> Extracted:
        text = "".join(self._parts)
        if not text.strip():
            raise ExtractError("holds no text to quote")
        return Extracted(text, tuple(self.pages) if paged else (), tuple(self.headings))
