"""Rank passages for a question, pick the sentence to highlight, decide whether it is answered.

Candidates are the union of the dense (FAISS) and lexical (BM25) top lists. Each candidate passage is
scored at two granularities and by both kinds of evidence:

* ``dense``     cosine similarity of the question and the passage;
* ``sentence``  cosine similarity of the question and the passage's best sentence;
* ``lexical``   BM25 of the passage (section heading included), divided by the best BM25 of the query;
* ``coverage``  the IDF-weighted share of the question's terms found in the passage's best sentence.

The rank score is a weighted sum whose weights were fitted on half of the bench questions and
checked on the other half (``benchmarks/fit_weights.py``, ``docs/quality.md``). The highlight is the
sentence with the best similarity plus a share of its coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .lexical import QueryTerms
from .passages import Passage
from .store import StoredIndex

DEPTH = 100  # candidates taken from each retriever
RRF_K = 60
# Rankings: the fitted weighted score, or reciprocal rank fusion of the dense and BM25 rankings alone
# (the first version of this engine, kept to measure against).
FUSIONS = ("weighted", "rrf")


@dataclass(frozen=True)
class RankWeights:
    """Weights of the rank score, fitted by ``benchmarks/fit_weights.py`` (see docs/quality.md)."""

    dense: float = 0.56
    sentence: float = 0.79
    lexical: float = 0.29
    coverage: float = 0.66


@dataclass(frozen=True)
class AnswerRule:
    """The best passage answers the question when its rank score reaches ``min_score``."""

    min_score: float = 1.04


HIGHLIGHT_COVERAGE = 0.3


@dataclass(frozen=True)
class Highlight:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Hit:
    """One ranked passage; ``text == document[passage.start:passage.end]``."""

    rank: int
    score: float
    passage: Passage
    text: str
    highlight: Highlight

    def to_json(self) -> dict[str, Any]:
        p = self.passage
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "doc": p.doc,
            "start": p.start,
            "end": p.end,
            "text": self.text,
            "section": p.section,
            "paragraph": p.paragraph,
            "line": p.line,
            "highlight": {"start": self.highlight.start, "end": self.highlight.end, "text": self.highlight.text},
        }


@dataclass(frozen=True)
class Answer:
    """The passages that best answer ``question``; ``answered`` is False when the evidence is weak.

    ``truncated`` tells that the question was longer than the model reads and was cut.
    """

    question: str
    answered: bool
    hits: tuple[Hit, ...]
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of ``qa ask --json`` and the app's ``/ask`` endpoint."""
        return {"question": self.question, "answered": self.answered, "passages": [h.to_json() for h in self.hits]}


@dataclass(frozen=True)
class Candidates:
    """Feature arrays for candidate passages (``ids`` are passage rows), and their sentences.

    The sentences of candidate ``i`` are ``sentence_rows[segments[i]:segments[i + 1]]``.
    """

    ids: np.ndarray
    dense: np.ndarray
    sentence: np.ndarray
    lexical: np.ndarray
    coverage: np.ndarray
    sentence_rows: np.ndarray
    segments: np.ndarray
    sentence_similarity: np.ndarray
    sentence_coverage: np.ndarray

    def scores(self, weights: RankWeights) -> np.ndarray:
        return (
            weights.dense * self.dense
            + weights.sentence * self.sentence
            + weights.lexical * self.lexical
            + weights.coverage * self.coverage
        )

    def highlight_row(self, i: int) -> int:
        """Absolute sentence row of the highlight of candidate ``i``."""
        block = slice(int(self.segments[i]), int(self.segments[i + 1]))
        combined = self.sentence_similarity[block] + HIGHLIGHT_COVERAGE * self.sentence_coverage[block]
        return int(self.sentence_rows[block][int(np.argmax(combined))])


def top_ids(scores: np.ndarray, k: int) -> np.ndarray:
    """Row ids of the ``k`` highest scores, best first (ties by lower id)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]


def gather(index: StoredIndex, vector: np.ndarray, query_terms: Sequence[str], depth: int = DEPTH) -> Candidates:
    """Candidate passages for a question (embedding ``vector``, stemmed ``query_terms``) with their features."""
    n = len(index.passages)
    depth = min(n, depth)
    _, dense_ids = index.dense.search(vector, depth)
    bm25 = index.lexical.scores(query_terms)
    lexical_ids = top_ids(bm25, depth)
    lexical_ids = lexical_ids[bm25[lexical_ids] > 0]
    ids = np.unique(np.concatenate([dense_ids.astype(np.int64), lexical_ids.astype(np.int64)]))

    dense = index.dense.similarity(vector, ids)
    best_bm25 = float(bm25.max()) if n else 0.0
    lexical = bm25[ids] / best_bm25 if best_bm25 > 0 else np.zeros(len(ids), dtype=np.float32)

    offsets = index.sentence_offsets
    counts = offsets[ids + 1] - offsets[ids]
    segments = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(counts, out=segments[1:])
    rows = np.repeat(offsets[ids] - segments[:-1], counts) + np.arange(int(segments[-1]))
    similarity = index.sentence_vectors[rows] @ vector
    coverage = sentence_coverage(index.sentence_terms, rows, index.lexical.query(query_terms))
    return Candidates(
        ids=ids,
        dense=dense,
        sentence=np.maximum.reduceat(similarity, segments[:-1]) if len(ids) else similarity,
        lexical=lexical.astype(np.float32),
        coverage=np.maximum.reduceat(coverage, segments[:-1]) if len(ids) else coverage,
        sentence_rows=rows,
        segments=segments,
        sentence_similarity=similarity,
        sentence_coverage=coverage,
    )


def sentence_coverage(sentence_terms: Any, rows: np.ndarray, query: QueryTerms) -> np.ndarray:
    """IDF-weighted share of the question's terms present in each sentence row (0 to 1)."""
    if not len(query.ids) or query.total_idf <= 0 or not len(rows):
        return np.zeros(len(rows), dtype=np.float32)
    present = sentence_terms[rows][:, query.ids]
    return np.asarray(present @ query.idf, dtype=np.float32).ravel() / np.float32(query.total_idf)


def reciprocal_rank_fusion(dense: np.ndarray, lexical: np.ndarray, k: int = RRF_K) -> np.ndarray:
    """Σ 1 / (k + rank) over the dense ranking and the BM25 ranking (passages without a term left out)."""
    fused = np.zeros(len(dense), dtype=np.float64)
    by_dense = top_ids(dense, len(dense))
    fused[by_dense] += 1.0 / (k + np.arange(1, len(by_dense) + 1))
    by_lexical = top_ids(lexical, len(lexical))
    by_lexical = by_lexical[lexical[by_lexical] > 0]
    fused[by_lexical] += 1.0 / (k + np.arange(1, len(by_lexical) + 1))
    return fused


def is_answered(best_score: float, rule: AnswerRule) -> bool:
    return best_score >= rule.min_score
