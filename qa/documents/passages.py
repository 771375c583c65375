"""Split documents into passages: whole sentences of one paragraph, with exact positions.

A paragraph that fits the budget is one passage; a longer one is cut at sentence boundaries into the
fewest passages that fit, of balanced length (so no tiny tail is left over). Only a single sentence
longer than the budget makes a passage exceed it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .corpus import Document
from .sentences import DEFAULT_MAX_CHARS, split_sentences
from .structure import LINE_BREAK, parse_layout

Span = tuple[int, int]


@dataclass(frozen=True)
class SplitConfig:
    """How documents are cut; saved in the index manifest, a change rebuilds the index."""

    max_chars: int = 600
    sentence_max_chars: int = DEFAULT_MAX_CHARS


@dataclass(frozen=True)
class Passage:
    """A verbatim span ``document.text[start:end]`` with its place in the document.

    ``paragraph`` counts body paragraphs from 1 (0 marks the document's title line), ``line`` is the
    1-based line of ``start``, ``sentences`` are the absolute spans of the passage's sentences and
    ``page`` the 1-based page that holds it (None for an unpaged document).
    """

    doc: str
    start: int
    end: int
    section: str | None
    paragraph: int
    line: int
    sentences: tuple[Span, ...]
    page: int | None = None

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Passage:
        """A passage from its ``dataclasses.asdict`` record, as saved in an index or the library."""
        return cls(
            doc=record["doc"],
            start=record["start"],
            end=record["end"],
            section=record["section"],
            paragraph=record["paragraph"],
            line=record["line"],
            sentences=tuple((s, e) for s, e in record["sentences"]),
            page=record.get("page"),
        )


def split_document(document: Document, config: SplitConfig | None = None) -> list[Passage]:
    """Cut one document into passages: its title line (paragraph 0), then its body paragraphs.

    Captions and section headings are never passages; headings travel with their paragraphs.
    """
    cfg = config or SplitConfig()
    text = document.text
    line_starts = [m.end() for m in LINE_BREAK.finditer(text)]
    page_starts = [start for start, _ in document.pages]
    layout = parse_layout(text, document.headings)
    blocks = [layout.title] if layout.title else []
    blocks.extend(layout.paragraphs)
    passages: list[Passage] = []
    for para in blocks:
        sentences = split_sentences(text, para.start, para.end, cfg.sentence_max_chars)
        for group in group_sentences(sentences, cfg.max_chars):
            start = group[0][0]
            passages.append(
                Passage(
                    doc=document.name,
                    start=start,
                    end=group[-1][1],
                    section=para.section,
                    paragraph=para.number,
                    line=bisect.bisect_right(line_starts, start) + 1,
                    sentences=tuple(group),
                    page=bisect.bisect_right(page_starts, start) if page_starts else None,
                )
            )
    return passages


def split_documents(documents: Sequence[Document], config: SplitConfig | None = None) -> list[Passage]:
    """Passages of every document, in document order."""
    return [p for doc in documents for p in split_document(doc, config)]


def group_sentences(sentences: Sequence[Span], max_chars: int) -> list[list[Span]]:
    """Group consecutive sentences into the fewest balanced groups of at most ``max_chars``."""
    if not sentences:
        return []
    total = sentences[-1][1] - sentences[0][0]
    if total <= max_chars or len(sentences) == 1:
        return [list(sentences)]
    parts = min(math.ceil(total / max_chars), len(sentences))
    origin = sentences[0][0]
    ends = [end for _, end in sentences]
    cuts: list[int] = []  # a cut after sentence index i
    previous = -1
    for j in range(1, parts):
        target = origin + j * total / parts
        lowest = previous + 1
        highest = len(sentences) - 1 - (parts - j)
        near = bisect.bisect_left(ends, target)
        candidates = {min(max(i, lowest), highest) for i in (near - 1, near)}
        best = min(candidates, key=lambda i: (abs(ends[i] - target), i))
        cuts.append(best)
        previous = best
    groups: list[list[Span]] = []
    begin = 0
    for cut in [*cuts, len(sentences) - 1]:
        groups.append(list(sentences[begin : cut + 1]))
        begin = cut + 1
    out: list[list[Span]] = []
    for group in groups:
        if group[-1][1] - group[0][0] > max_chars and len(group) > 1:
            out.extend(group_sentences(group, max_chars))
        else:
            out.append(group)
    return out
