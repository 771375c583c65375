"""The reader's part in ranking: it reads the question together with the best sentences of the top
candidates, and its probability that a sentence answers moves the rank score, picks the highlight and
becomes evidence for "the documents do not say".

``ReaderUse`` (``reading.json``, fitted by ``benchmarks/fit_reading.py``) says how many candidates are
read (``passages``), how many of each one's sentences (``sentences``, the best by similarity and
coverage, as the highlight was picked before), and how much the reader's probability weighs in the
rank score (``weight``) and in the choice of the highlight (``highlight``); ``gate`` (when above 0)
reads only the questions whose two best candidates are closer than that in the rank score without
the reader — where it can change which comes first — which saves most of its cost. ``read`` runs the
reader once per question over all those sentences, in one batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..documents.passages import Passage
from ..models.reader import Reader, reader_text
from ..retrieval.search import Candidates, top_ids
from . import fitted
from .fitted import Fields

USE_FIELDS = ("passages", "sentences", "weight", "highlight", "gate")
HIGHLIGHT_COVERAGE = 0.3  # a sentence's coverage of the question, against its similarity, in the highlight


@dataclass(frozen=True)
class ReaderUse:
    """How the reader is used in ranking (``reading.json``)."""

    passages: int
    sentences: int
    weight: float
    highlight: float
    gate: float = 0.0  # read only when the two best candidates are closer than this (0: always)

    @classmethod
    def from_fields(cls, fields: Fields) -> ReaderUse:
        _, _, weight, highlight, gate = fields.named(USE_FIELDS)
        return cls(fields.whole("passages"), fields.whole("sentences"), weight, highlight, gate)

    def reads(self, scores: np.ndarray) -> bool:
        """Whether the reader reads a question whose candidates have these rank scores (without it)."""
        if self.gate <= 0:
            return True
        if len(scores) < 2:  # nothing to reorder
            return False
        second, first = np.sort(np.asarray(scores, dtype=np.float64))[-2:]
        return bool(first - second < self.gate)

    def to_json(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@lru_cache(maxsize=1)
def shipped_use() -> ReaderUse:
    """How this release uses the reader (``reading.json``)."""
    return fitted.load("reading", ReaderUse.from_fields)


@dataclass(frozen=True)
class Read:
    """What the reader made of one question's candidates: the probability of each sentence row it read,
    and per candidate the probability of its best read sentence (0 for a candidate it did not read)."""

    rows: Mapping[int, float]
    best: np.ndarray

    def of(self, row: int) -> float | None:
        return self.rows.get(row)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -50.0, 50.0))), dtype=np.float64)


def read(
    reader: Reader,
    use: ReaderUse,
    found: Candidates,
    scores: np.ndarray,
    question: str,
    passages: Sequence[Passage],
    texts: Mapping[str, str],
    sentence_of: Sequence[tuple[int, int]],
) -> Read:
    """Read ``question`` with the best ``use.sentences`` sentences of the ``use.passages`` candidates
    ranked first by ``scores``; ``sentence_of`` maps a sentence row to (passage row, its place in it)."""
    best = np.zeros(len(found.ids), dtype=np.float64)
    chosen: list[tuple[int, int]] = []  # (candidate, sentence row)
    for i in top_ids(scores, use.passages):
        block = slice(int(found.segments[i]), int(found.segments[i + 1]))
        rows = found.sentence_rows[block]
        liked = found.sentence_similarity[block] + HIGHLIGHT_COVERAGE * found.sentence_coverage[block]
        order = np.argsort(-liked, kind="stable")
        chosen += [(int(i), int(rows[j])) for j in order[: use.sentences]]
    if not chosen:
        return Read({}, best)
    inputs = []
    for _, row in chosen:
        passage_row, place = sentence_of[row]
        passage = passages[passage_row]
        context = reader.settings.context
        inputs.append(reader_text(texts[passage.doc], passage.sentences, place, context, passage.section))
    probabilities = sigmoid(np.asarray(reader.score(question, inputs), dtype=np.float64))
    rows_read: dict[int, float] = {}
    for (i, row), p in zip(chosen, probabilities, strict=True):
        rows_read[row] = float(p)
        best[i] = max(best[i], float(p))
    return Read(rows_read, best)
