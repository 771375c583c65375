"""Lexical retrieval: stemmed terms scored with BM25 (Lucene's variant) over a sparse matrix.

``terms`` is the one tokenizer of the project: BM25, the highlight and the "answered" decision all
see the same stemmed, stop-word-free terms.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

K1 = 1.2
B = 0.75

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+", re.UNICODE)
# English function words and question words: they carry no evidence of where an answer is.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    according called does whose""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed content terms of ``text`` ("1,649" becomes "1649")."""
    words = [m.group().lower().replace(",", "") for m in _TOKEN.finditer(text)]
    words = [w for w in words if w not in STOPWORDS]
    return list(_stemmer().stemWords(words))


@dataclass(frozen=True)
class QueryTerms:
    """Vocabulary ids and IDF of a question's known terms; ``total_idf`` also counts unknown ones."""

    ids: np.ndarray
    idf: np.ndarray
    total_idf: float


class LexicalIndex:
    """BM25 over documents given as lists of terms."""

    def __init__(self, vocabulary: list[str], doc_freq: np.ndarray, weights: Any) -> None:
        self._vocabulary = vocabulary
        self._ids = {term: i for i, term in enumerate(vocabulary)}
        self._doc_freq = doc_freq
        self._weights = weights  # scipy CSC matrix, documents × terms

    @classmethod
    def build(cls, documents: Sequence[Sequence[str]]) -> LexicalIndex:
        """Index documents given as term lists (see ``terms``)."""
        from scipy import sparse

        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[float] = []
        lengths = np.array([len(doc) for doc in documents], dtype=np.float32)
        for row, doc in enumerate(documents):
            for term, count in Counter(doc).items():
                rows.append(row)
                cols.append(vocabulary.setdefault(term, len(vocabulary)))
                counts.append(count)
        n_docs = len(documents)
        tf = np.array(counts, dtype=np.float32)
        col_ids = np.array(cols, dtype=np.int64)
        row_ids = np.array(rows, dtype=np.int64)
        doc_freq = np.bincount(col_ids, minlength=len(vocabulary)).astype(np.int64)
        idf = np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5)).astype(np.float32)
        average = float(lengths.mean()) if n_docs and lengths.sum() else 1.0
        norm = K1 * (1 - B + B * lengths[row_ids] / average)
        values = idf[col_ids] * tf / (tf + norm)
        weights = sparse.csc_matrix((values, (row_ids, col_ids)), shape=(n_docs, len(vocabulary)), dtype=np.float32)
        return cls(list(vocabulary), doc_freq, weights)

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocabulary)

    @property
    def size(self) -> int:
        return int(self._weights.shape[0])

    def idf(self, term: str) -> float:
        """Inverse document frequency of ``term`` (an unseen term gets the highest value)."""
        n = self.size
        df = int(self._doc_freq[self._ids[term]]) if term in self._ids else 0
        return math.log1p((n - df + 0.5) / (df + 0.5))

    def query(self, query_terms: Sequence[str]) -> QueryTerms:
        """The question's distinct terms as the index sees them, for coverage scores."""
        idf = {t: self.idf(t) for t in query_terms}  # distinct terms, in order
        known = [t for t in idf if t in self._ids]
        return QueryTerms(
            ids=np.array([self._ids[t] for t in known], dtype=np.int64),
            idf=np.array([idf[t] for t in known], dtype=np.float32),
            total_idf=float(sum(idf.values())),
        )

    def presence(self, documents: Sequence[Sequence[str]]) -> Any:
        """A CSR matrix, one row per document: 1 where it holds a vocabulary term (others ignored)."""
        from scipy import sparse

        rows: list[int] = []
        cols: list[int] = []
        for row, doc in enumerate(documents):
            ids = {self._ids[t] for t in doc if t in self._ids}
            rows.extend([row] * len(ids))
            cols.extend(sorted(ids))
        data = np.ones(len(rows), dtype=np.float32)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(documents), len(self._vocabulary)), dtype=np.float32)

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query terms (zeros when none is known)."""
        ids = [self._ids[t] for t in query_terms if t in self._ids]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._weights[:, ids].sum(axis=1), dtype=np.float32).ravel()

    def save(self, folder: Path) -> None:
        (folder / "bm25_vocabulary.json").write_text(json.dumps(self._vocabulary), encoding="utf-8")
        np.save(folder / "bm25_doc_freq.npy", self._doc_freq, allow_pickle=False)
        save_sparse(folder / "bm25_weights.npz", self._weights)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read what ``save`` wrote (raises ``ValueError``/``OSError`` on damaged files)."""
        vocabulary = json.loads((folder / "bm25_vocabulary.json").read_text(encoding="utf-8"))
        doc_freq = np.load(folder / "bm25_doc_freq.npy", allow_pickle=False)
        weights = load_sparse(folder / "bm25_weights.npz").tocsc()
        if not isinstance(vocabulary, list) or weights.shape[1] != len(vocabulary) or len(doc_freq) != len(vocabulary):
            raise ValueError("BM25 files do not match each other")
        return cls(vocabulary, doc_freq, weights)


def save_sparse(path: Path, matrix: Any) -> None:
    """Write a scipy sparse matrix as plain arrays (no pickle)."""
    from scipy import sparse

    sparse.save_npz(path, matrix, compressed=False)


def load_sparse(path: Path) -> Any:
    """Read a matrix written by ``save_sparse`` as CSR."""
    from scipy import sparse

    return sparse.load_npz(path).tocsr()
