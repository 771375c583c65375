"""Lexical evidence: the one tokenizer of the project, BM25 (bm25s, Lucene variant) and term coverage.

``Tokenizer.terms`` is what everything lexical sees: BM25, the highlight and the answered decision use
the same stemmed, stop-word-free terms. ``LexicalConfig`` records what shapes those terms and scores
(k1, b, the stop words, the stemmer, the tokenizer's version); it is saved in the index manifest, so a
change to any of them rebuilds the index instead of serving a stale one, and the tokenizer of an index
is made from it (``LexicalConfig.make_tokenizer``, ``LexicalIndex.terms``), never from module constants.

BM25 itself is bm25s's (scores equal to the hand-written version it replaced within 4e-6 on the six
SQuAD texts, and 0.014 against 0.048 ms a query). The vocabulary is ours, in order of first use, and
handed to bm25s as token ids: the coverage feature needs the same term ids for its sentence × term
presence matrix, and ``idf`` (the one formula, Lucene's) for weighting the question's terms.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER_VERSION = 1  # bump when ``Tokenizer.terms`` changes what it returns
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


@dataclass(frozen=True)
class LexicalConfig:
    """What shapes the terms and the BM25 scores; saved in the manifest, a change rebuilds the index."""

    k1: float = 1.2
    b: float = 0.75
    method: str = "lucene"
    tokenizer: int = TOKENIZER_VERSION
    stemmer: str = "english"
    stopwords: tuple[str, ...] = tuple(sorted(STOPWORDS))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LexicalConfig:
        return cls(**{**data, "stopwords": tuple(data["stopwords"])})

    def make_tokenizer(self) -> Tokenizer:
        """The tokenizer these settings name (one per distinct settings, shared)."""
        return _tokenizer(self.stemmer, self.stopwords)


class Tokenizer:
    """Lower-cased, stemmed content terms, with one index's stop words and stemmer."""

    def __init__(self, stemmer: str, stopwords: Sequence[str]) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer(stemmer)
        self._stopwords = frozenset(stopwords)

    def terms(self, text: str) -> list[str]:
        """The terms of ``text`` ("1,649" becomes "1649")."""
        words = [m.group().lower().replace(",", "") for m in _TOKEN.finditer(text)]
        words = [w for w in words if w not in self._stopwords]
        return list(self._stemmer.stemWords(words))

    def passage_terms(self, text: str, start: int, end: int, section: str | None) -> list[str]:
        """What BM25 indexes for a passage ``text[start:end]``: its terms, plus its section heading's."""
        body = self.terms(text[start:end])
        return body + self.terms(section) if section else body


@lru_cache(maxsize=8)
def _tokenizer(stemmer: str, stopwords: tuple[str, ...]) -> Tokenizer:
    return Tokenizer(stemmer, stopwords)


def idf(doc_freq: np.ndarray | int, n_docs: int) -> np.ndarray:
    """Inverse document frequency, Lucene's (never negative); a term no document holds gets the highest."""
    df = np.asarray(doc_freq, dtype=np.float64)
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class QueryTerms:
    """Vocabulary ids and IDF of a question's known terms; ``total_idf`` and ``count`` (its distinct
    terms) also count the ones no document uses."""

    ids: np.ndarray
    idf: np.ndarray
    total_idf: float
    count: int


class LexicalIndex:
    """BM25 over documents given as term lists, with the vocabulary the coverage feature shares."""

    def __init__(self, vocabulary: list[str], bm25: Any, config: LexicalConfig) -> None:
        self._vocabulary = vocabulary
        self._ids = {term: i for i, term in enumerate(vocabulary)}
        self._bm25 = bm25
        self.config = config
        self.tokenizer = config.make_tokenizer()
        indptr = np.asarray(bm25.scores["indptr"])
        self._doc_freq = np.diff(indptr).astype(np.int64)  # documents holding each term (CSC columns)
        self._size = int(bm25.scores["num_docs"])

    @classmethod
    def build(cls, documents: Sequence[Sequence[str]], config: LexicalConfig | None = None) -> LexicalIndex:
        """Index documents given as term lists (see ``Tokenizer.terms``)."""
        import bm25s

        cfg = config or LexicalConfig()
        vocabulary: dict[str, int] = {}
        ids = [[vocabulary.setdefault(term, len(vocabulary)) for term in doc] for doc in documents]
        bm25 = bm25s.BM25(k1=cfg.k1, b=cfg.b, method=cfg.method)
        bm25.index((ids, vocabulary), create_empty_token=False, show_progress=False)
        return cls(list(vocabulary), bm25, cfg)

    def terms(self, text: str) -> list[str]:
        """``text``'s terms as this index's settings make them."""
        return self.tokenizer.terms(text)

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocabulary)

    @property
    def size(self) -> int:
        return self._size

    def names(self, term_ids: Sequence[int] | np.ndarray) -> list[str]:
        """The terms of these vocabulary ids."""
        return [self._vocabulary[int(i)] for i in term_ids]

    def idf_of(self, term_ids: np.ndarray) -> np.ndarray:
        """The IDF of these vocabulary ids."""
        return idf(self._doc_freq[term_ids], self._size) if len(term_ids) else np.empty(0, dtype=np.float64)

    def query(self, query_terms: Sequence[str]) -> QueryTerms:
        """The question's distinct terms as the index sees them, for coverage scores."""
        distinct = list(dict.fromkeys(query_terms))
        known = [t for t in distinct if t in self._ids]
        ids = np.array([self._ids[t] for t in known], dtype=np.int64)
        known_idf = idf(self._doc_freq[ids], self._size)
        total = float(known_idf.sum() + (len(distinct) - len(known)) * idf(0, self._size))
        return QueryTerms(ids=ids, idf=known_idf.astype(np.float32), total_idf=total, count=len(distinct))

    def presence(self, documents: Sequence[Sequence[str]]) -> Any:
        """A CSR matrix, one row per document: 1 where it holds a vocabulary term (others ignored)."""
        from scipy import sparse

        rows: list[int] = []
        cols: list[int] = []
        for row, doc in enumerate(documents):
            found = {self._ids[t] for t in doc if t in self._ids}
            rows.extend([row] * len(found))
            cols.extend(sorted(found))
        data = np.ones(len(rows), dtype=np.float32)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(documents), len(self._vocabulary)), dtype=np.float32)

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query terms (zeros when none is known)."""
        ids = [self._ids[t] for t in query_terms if t in self._ids]
        if not ids:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def save(self, folder: Path) -> None:
        """bm25s's own files in ``folder``: score arrays, the vocabulary and its parameters as JSON."""
        self._bm25.save(folder, show_progress=False)

    @classmethod
    def load(cls, folder: Path, config: LexicalConfig) -> LexicalIndex:
        """Read what ``save`` wrote (raises ``ValueError``/``OSError`` on damaged or mismatched files)."""
        import bm25s

        bm25 = bm25s.BM25.load(folder, load_corpus=False)
        vocabulary = sorted(bm25.vocab_dict, key=bm25.vocab_dict.__getitem__)
        saved = {"k1": bm25.k1, "b": bm25.b, "method": bm25.method}
        wanted = {k: v for k, v in dataclasses.asdict(config).items() if k in saved}
        if len(bm25.scores["indptr"]) != len(vocabulary) + 1 or saved != wanted:
            raise ValueError("BM25 files do not match each other or the manifest")
        return cls(vocabulary, bm25, config)


def save_sparse(path: Path, matrix: Any) -> None:
    """Write a scipy sparse matrix as plain arrays (no pickle)."""
    from scipy import sparse

    sparse.save_npz(path, matrix, compressed=False)


def load_sparse(path: Path) -> Any:
    """Read a matrix written by ``save_sparse`` as CSR."""
    from scipy import sparse

    return sparse.load_npz(path).tocsr()
