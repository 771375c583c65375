"""Search the index for a question: candidate passages from both retrievers, with their features.

Candidates are the union of the dense (FAISS) and lexical (BM25) top lists. Each candidate passage is
described at two granularities and by both kinds of evidence:

* ``dense``     cosine similarity of the question and the passage;
* ``sentence``  cosine similarity of the question and the passage's best sentence;
* ``lexical``   BM25 of the passage (section heading included), divided by the best BM25 of the query;
* ``coverage``  the IDF-weighted share of the question's terms found in the passage's best sentence.

Every sentence of every candidate keeps its own similarity and coverage, for the highlight. How the
features become a ranking is ``rank``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import SearchIndex
from .lexical import QueryTerms

DEPTH = 100  # candidates taken from each retriever


@dataclass(frozen=True)
class Query:
    """A question as search sees it: its embedding and its stemmed terms (``LexicalIndex.terms``)."""

    vector: np.ndarray
    terms: list[str]


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
    query: QueryTerms  # the question's terms as the index knows them (ids, IDF, and the IDF of unknown ones)


def search(index: SearchIndex, query: Query, depth: int = DEPTH) -> Candidates:
    """Candidate passages for ``query`` with their features."""
    return features(index, query, candidate_ids(index, query, depth))


def candidate_ids(index: SearchIndex, query: Query, depth: int = DEPTH) -> np.ndarray:
    """Passage rows in the dense top ``depth`` or the BM25 top ``depth`` (with a question term), sorted."""
    depth = min(len(index.passages), depth)
    _, dense_ids = index.dense.search(query.vector, depth)
    bm25 = index.lexical.scores(query.terms)
    lexical_ids = top_ids(bm25, depth)
    lexical_ids = lexical_ids[bm25[lexical_ids] > 0]
    return np.unique(np.concatenate([dense_ids.astype(np.int64), lexical_ids.astype(np.int64)]))


def features(index: SearchIndex, query: Query, ids: np.ndarray) -> Candidates:
    """The features of passages ``ids`` (sorted, distinct rows) for ``query``."""
    vector = query.vector
    n = len(index.passages)
    bm25 = index.lexical.scores(query.terms)
    dense = index.dense.similarity(vector, ids)
    best_bm25 = float(bm25.max()) if n else 0.0
    lexical = bm25[ids] / best_bm25 if best_bm25 > 0 else np.zeros(len(ids), dtype=np.float32)

    offsets = index.sentence_offsets
    counts = offsets[ids + 1] - offsets[ids]
    segments = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(counts, out=segments[1:])
    rows = np.repeat(offsets[ids] - segments[:-1], counts) + np.arange(int(segments[-1]))
    similarity = index.sentence_vectors[rows] @ vector
    known = index.lexical.query(query.terms)
    coverage = sentence_coverage(index, rows, known)
    return Candidates(
        query=known,
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


def sentence_coverage(index: SearchIndex, rows: np.ndarray, query: QueryTerms) -> np.ndarray:
    """IDF-weighted share of the question's terms present in each sentence row (0 to 1)."""
    if not len(query.ids) or query.total_idf <= 0 or not len(rows):
        return np.zeros(len(rows), dtype=np.float32)
    present = index.holding(query.ids, rows)
    return np.asarray(present @ query.idf, dtype=np.float32) / np.float32(query.total_idf)


def top_ids(scores: np.ndarray, k: int) -> np.ndarray:
    """Row ids of the ``k`` highest scores, best first (ties by lower id)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]
