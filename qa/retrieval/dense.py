"""Dense retrieval over unit vectors with FAISS (inner product = cosine similarity).

Up to ``EXACT_LIMIT`` vectors the index is exact (``IndexFlatIP``); above it, an HNSW graph. Measured
with ``benchmarks/search_scale.py`` (docs/performance.md): exact search of 100 neighbours costs about
1 ms at 10k vectors, 2.4 ms at 25k and 10 ms at 100k, while HNSW (M=32, efConstruction=160,
efSearch=128) answers in about 0.6 ms with recall@10 of 0.997 at 500k. Searches run on one thread:
with two, a single query was 1.5–4× slower on this 2-core machine (14 ms against 1 ms for 100 of 20,000
from a second thread while the machine was busy); builds use every core. OpenMP keeps its thread count
per calling thread, so ``_threads`` sets it for the call at hand and puts it back: a build never changes
what another thread's search runs on, and every thread's search runs on one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

EXACT_LIMIT = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 160
HNSW_EF_SEARCH = 128


def _faiss() -> Any:
    import faiss

    return faiss


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """FAISS's OpenMP threads for calls made by the calling thread in this block (its own setting only)."""
    faiss = _faiss()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class DenseIndex:
    """A FAISS index of unit vectors, searched by inner product."""

    def __init__(self, index: Any, search_threads: int = 1) -> None:
        self._index = index
        self.search_threads = search_threads  # OpenMP threads of one search (one: see the module docstring)

    @classmethod
    def build(cls, vectors: np.ndarray, exact_limit: int = EXACT_LIMIT, search_threads: int = 1) -> DenseIndex:
        """Index ``vectors`` (n × d float32): exact up to ``exact_limit`` rows, HNSW above."""
        faiss = _faiss()
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        dimension = data.shape[1]
        if len(data) <= exact_limit:
            index = faiss.IndexFlatIP(dimension)
        else:
            index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        with _threads(os.cpu_count() or 1):
            index.add(data)
        return cls(index, search_threads)

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        """Read an index written by ``save`` (raises ``RuntimeError`` on a damaged file)."""
        index = _faiss().read_index(str(path))
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index)

    def save(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def exact(self) -> bool:
        return not hasattr(self._index, "hnsw")

    @property
    def ef_search(self) -> int:
        """HNSW's search breadth (``efSearch``); an exact index has none."""
        return int(self._index.hnsw.efSearch)

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        self._index.hnsw.efSearch = value

    def with_search_threads(self, threads: int) -> DenseIndex:
        """The same index (shared, not copied), searched with ``threads`` OpenMP threads."""
        return DenseIndex(self._index, threads)

    def serialized_bytes(self) -> int:
        """The size of the index as ``save`` writes it."""
        return int(_faiss().serialize_index(self._index).nbytes)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row ids of the ``k`` nearest rows to one query vector, best first."""
        k = min(k, self.size)
        if k <= 0:
            return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with _threads(self.search_threads):
            scores, ids = self._index.search(q, k)
        keep = ids[0] >= 0  # FAISS pads missing results with -1
        return scores[0][keep], ids[0][keep]

    def search_batch(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row ids (queries × ``k``, best first) of many query vectors at once; a query with
        fewer than ``k`` results is padded with id -1, as FAISS does."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        with _threads(self.search_threads):
            scores, ids = self._index.search(q, k)
        return scores, ids

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Inner product of one query vector with the stored rows ``ids``."""
        if not len(ids):
            return np.empty(0, dtype=np.float32)
        rows = self._index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))
        return np.asarray(rows @ query, dtype=np.float32)

    def vectors(self, start: int = 0, end: int | None = None) -> np.ndarray:
        """The stored vectors of rows ``start:end`` (all by default), to reuse them when re-indexing."""
        stop = self.size if end is None else end
        if stop <= start:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(self._index.reconstruct_n(start, stop - start), dtype=np.float32)
