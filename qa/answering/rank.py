"""Rank candidate passages, pick each one's highlight, and decide whether the question is answered.

``Ranker`` is the one home of these choices. The rank score is a weighted sum of the candidate features
(``search``), with weights fitted on half of the bench questions and checked on the other half
(``benchmarks/fit_weights.py``, docs/quality.md); a ``Ranker`` made with ``fusion="rrf"`` ranks by
reciprocal rank fusion of the dense and BM25 rankings instead (the first version of this engine, kept
to measure against; chosen once, when the engine is made). The highlight is the sentence with the best
similarity plus a share of its coverage. Whether the question is answered is the calibrated
``confidence`` (``answerability``) of the passage ranked first, whatever ranked it, measured on its
weighted score and evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..errors import QuestionError
from ..models.reader import Reader
from ..retrieval.index import SearchIndex
from ..retrieval.search import Candidates, top_ids
from .answerability import AnswerabilityModel, shipped_model, type_missing
from .reading import HIGHLIGHT_COVERAGE, Read, ReaderUse, read, shipped_use
from .results import Answer, Highlight, Hit
from .weights import FollowUpWeights, RankWeights, shipped_follow_up, shipped_weights

FUSIONS = ("weighted", "rrf")
RRF_K = 60


def check_fusion(fusion: str) -> str:
    if fusion not in FUSIONS:
        raise QuestionError(f"fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
    return fusion


class Ranker:
    """Turns one question's candidates into its ``Answer``, quoting ``texts`` (document name -> text)."""

    def __init__(
        self,
        index: SearchIndex,
        texts: Mapping[str, str],
        weights: RankWeights | None = None,
        model: AnswerabilityModel | None = None,
        follow_up: FollowUpWeights | None = None,
        fusion: str = "weighted",
        reader: Reader | None = None,
        use: ReaderUse | None = None,
    ) -> None:
        self.index = index
        self.fusion = check_fusion(fusion)
        self.texts = texts
        self.weights = weights or shipped_weights()
        self.reader = reader if self.fusion == "weighted" else None  # RRF is kept as it was, to compare
        self.use = use or (shipped_use() if self.reader is not None else None)
        self.model = model or shipped_model()
        self.follow_up = follow_up or shipped_follow_up()
        self._sentence_spans = [span for p in index.passages for span in p.sentences]
        self._sentence_of = [(row, j) for row, p in enumerate(index.passages) for j in range(len(p.sentences))]

    def scores(self, found: Candidates, context: Candidates | None = None, follow: float = 0.0) -> np.ndarray:
        """The weighted rank score; for a follow-up, blended with the follow-up score by ``follow``."""
        alone = self.weights.scores(found)
        if context is None or follow <= 0:
            return alone
        read_on = self.follow_up.own.scores(found) + self.follow_up.context.scores(context)
        return np.asarray((1 - follow) * alone + follow * read_on, dtype=np.float64)

    def rank(
        self,
        found: Candidates,
        question: str,
        k: int,
        *,
        truncated: bool = False,
        context: Candidates | None = None,
        follow: float = 0.0,
        read_as: str | None = None,
    ) -> Answer:
        """The ``k`` best passages for ``question`` (whose candidates are ``found``), highlighted.

        A follow-up passes the same candidates' features for its ``context`` and the gate's ``follow``;
        the reader reads the question as ``read_as`` (as read in its conversation and cut), if given.
        """
        unread = self.scores(found, context, follow)
        reading = self.read(found, unread, read_as or question)
        weighted = unread if reading is None or self.use is None else unread + self.use.weight * reading.best
        scores = weighted if self.fusion == "weighted" else reciprocal_rank_fusion(found.dense, found.lexical)
        order = top_ids(scores, k)
        hits = tuple(self._hit(r, found, int(i), float(scores[i]), reading) for r, i in enumerate(order, start=1))
        if not hits:
            return Answer(question=question, answered=False, hits=hits, truncated=truncated, confidence=0.0)
        # the evidence scores the passage shown first as the answerability model was fitted: without the
        # reader's share (measured: refusal and calibration on held-out questions stay as they were)
        evidence = self.evidence(found, unread, int(order[0]), question, hits[0].highlight.text, reading)
        confidence = self.model.confidence(evidence)
        return Answer(
            question=question,
            answered=confidence >= self.model.threshold,
            hits=hits,
            truncated=truncated,
            confidence=confidence,
            evidence=tuple(float(v) for v in evidence),
        )

    def read(self, found: Candidates, scores: np.ndarray, question: str) -> Read | None:
        """What the reader makes of the best candidates (None without a reader, or without candidates)."""
        if self.reader is None or self.use is None or not len(found.ids) or not self.use.reads(scores):
            return None
        passages, texts = self.index.passages, self.texts
        return read(self.reader, self.use, found, scores, question, passages, texts, self._sentence_of)

    def evidence(
        self,
        found: Candidates,
        weighted: np.ndarray,
        i: int,
        question: str,
        highlight: str,
        reading: Read | None = None,
    ) -> np.ndarray:
        """The answerability features (the model's ``features``) of candidate ``i``, the passage ranked first."""
        others = np.delete(weighted, i)
        block = slice(int(found.segments[i]), int(found.segments[i + 1]))
        local = int(np.flatnonzero(found.sentence_rows[block] == self.highlight_row(found, i, reading))[0])
        query = found.query
        present = self.index.holding(query.ids, found.sentence_rows[block]).max(axis=0, initial=0)
        absent = query.idf[present == 0] if len(query.ids) else query.idf
        values = {
            "score": float(weighted[i]),
            "margin": float(weighted[i] - others.max()) if len(others) else 1.0,
            "dense": float(found.dense[i]),
            "sentence": float(found.sentence[i]),
            "lexical": float(found.lexical[i]),
            "coverage": float(found.coverage[i]),
            "highlight_similarity": float(found.sentence_similarity[block][local]),
            "highlight_coverage": float(found.sentence_coverage[block][local]),
            "unknown_terms": 1 - float(query.idf.sum()) / query.total_idf if query.total_idf > 0 else 1.0,
            "missing_rare_term": float(absent.max()) / math.log1p(max(len(self.index.passages), 1))
            if len(absent)
            else 0.0,
            "terms": min(query.count, 8) / 8,
            "type_missing": type_missing(question, highlight),
            "reader": float(reading.best[i]) if reading is not None else self._neutral_reader(),
        }
        return np.array([values[name] for name in self.model.features])

    def _neutral_reader(self) -> float:
        return self.model.neutral("reader") if "reader" in self.model.features else 0.0

    def highlight_row(self, found: Candidates, i: int, reading: Read | None = None) -> int:
        """Absolute sentence row of the highlight of candidate ``i``: the best sentence by similarity and
        coverage, and, where the reader read it, by the reader's probability too."""
        block = slice(int(found.segments[i]), int(found.segments[i + 1]))
        rows = found.sentence_rows[block]
        combined = found.sentence_similarity[block] + HIGHLIGHT_COVERAGE * found.sentence_coverage[block]
        if reading is not None and self.use is not None:
            combined = combined + self.use.highlight * np.array([reading.rows.get(int(r), 0.0) for r in rows])
        return int(rows[int(np.argmax(combined))])

    def _hit(self, rank: int, found: Candidates, i: int, score: float, reading: Read | None = None) -> Hit:
        passage = self.index.passages[int(found.ids[i])]
        text = self.texts[passage.doc]
        row = self.highlight_row(found, i, reading)
        start, end = self._sentence_spans[row]
        said = reading.of(row) if reading is not None else None
        highlight = Highlight(start, end, text[start:end])
        return Hit(rank, score, passage, text[passage.start : passage.end], highlight, said)


def reciprocal_rank_fusion(dense: np.ndarray, lexical: np.ndarray, k: int = RRF_K) -> np.ndarray:
    """Σ 1 / (k + rank) over the dense ranking and the BM25 ranking (passages without a term left out)."""
    fused = np.zeros(len(dense), dtype=np.float64)
    by_dense = top_ids(dense, len(dense))
    fused[by_dense] += 1.0 / (k + np.arange(1, len(by_dense) + 1))
    by_lexical = top_ids(lexical, len(lexical))
    by_lexical = by_lexical[lexical[by_lexical] > 0]
    fused[by_lexical] += 1.0 / (k + np.arange(1, len(by_lexical) + 1))
    return fused
