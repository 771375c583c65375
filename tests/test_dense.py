from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.retrieval.dense import DenseIndex


def unit_rows(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_search_finds_the_row_itself_first() -> None:
    vectors = unit_rows(50)
    index = DenseIndex.build(vectors)
    assert index.exact and index.size == 50 and index.dimension == 16
    scores, ids = index.search(vectors[7], 5)
    assert ids[0] == 7 and np.isclose(scores[0], 1.0, atol=1e-5)
    assert list(scores) == sorted(scores, reverse=True)


def test_asking_for_more_than_stored_returns_what_there_is() -> None:
    index = DenseIndex.build(unit_rows(3))
    _, ids = index.search(unit_rows(1, seed=5)[0], 10)
    assert sorted(ids.tolist()) == [0, 1, 2]


def test_approximate_index_above_the_limit_keeps_recall() -> None:
    vectors = unit_rows(2000, d=32)
    exact = DenseIndex.build(vectors)
    approx = DenseIndex.build(vectors, exact_limit=1000)
    assert not approx.exact
    queries = unit_rows(20, d=32, seed=9)
    found = sum(len(set(exact.search(q, 10)[1]) & set(approx.search(q, 10)[1])) for q in queries)
    assert found / 200 >= 0.9


def test_similarity_of_given_rows_matches_search_scores() -> None:
    vectors = unit_rows(30)
    index = DenseIndex.build(vectors)
    scores, ids = index.search(vectors[3], 30)
    assert np.allclose(index.similarity(vectors[3], ids), scores, atol=1e-5)


def test_save_load_round_trip(tmp_path: Path) -> None:
    vectors = unit_rows(20)
    DenseIndex.build(vectors).save(tmp_path / "d.faiss")
    loaded = DenseIndex.load(tmp_path / "d.faiss")
    assert np.allclose(loaded.vectors(), vectors, atol=1e-6)


def test_a_build_leaves_every_thread_s_faiss_threads_as_they_were() -> None:
    """OpenMP's thread count is per thread: a build (all cores) in one thread changes no other's."""
    import threading

    import faiss

    faiss.omp_set_num_threads(3)
    seen: list[int] = []

    def build_and_look() -> None:
        before = faiss.omp_get_max_threads()
        DenseIndex.build(unit_rows(300), exact_limit=100).search(unit_rows(1, seed=1)[0], 5)
        seen.extend([before, faiss.omp_get_max_threads()])

    worker = threading.Thread(target=build_and_look)
    worker.start()
    worker.join()
    assert seen[0] == seen[1]  # the building thread's own setting is put back
    assert faiss.omp_get_max_threads() == 3  # and this thread's never changed
    DenseIndex.build(unit_rows(50)).search(unit_rows(1, seed=2)[0], 5)
    assert faiss.omp_get_max_threads() == 3
