"""Dense search at scale: exact (``IndexFlatIP``) against approximate (HNSW) on synthetic vectors.

What it measures, for each ``--sizes`` n (default 50,000 and 500,000 vectors of dimension 384,
the size of all-MiniLM-L6-v2 embeddings), with both indexes made by ``qa.retrieval.dense.DenseIndex.build``
(exact: ``exact_limit`` above n; HNSW: ``exact_limit`` below n, i.e. the engine's M, efConstruction
and efSearch):

* build time, and index memory as the size of ``faiss.serialize_index`` (what ``save`` writes);
* latency of one ``DenseIndex.search`` call with a single query (what the engine does per question)
  at k=10 and at k=100 (``qa.retrieval.search.DEPTH``, the engine's candidate depth): p50/p95/p99 in ms over
  ``--queries`` queries, after a short warm-up;
* recall@10 and recall@100 of HNSW against exact search (fraction of the true top-k returned);
* an HNSW efSearch sweep (32, 64, 128, 256, 512): p50 and recall at k=10 and k=100, to pick the setting
  (FAISS searches with ``max(efSearch, k)``, so at k=100 small values all behave like 100);
* the exact-search crossover: flat search latency at n = 10k … 200k, to pick the size above which
  HNSW should replace exact search.

Exact search is timed with FAISS's OpenMP thread count (``--threads``) and, when that is above 1, also
with one thread: a single query gains little from threads and, on a small machine with other load, an
OpenMP barrier waiting for a descheduled thread can make it several times slower. The load average at
the start and end is printed because timings on a shared machine are only as good as its idleness.

The vectors are synthetic but not uniform-random (which has no neighbourhood structure and makes ANN
results meaningless): a mixture of ``--clusters`` topics with Zipf-like sizes whose random unit
centres are grouped in 100 families of related topics and share a common direction (embeddings are
anisotropic), plus anisotropic within-topic noise whose power-law spectrum (effective dimension ≈ 26,
different principal axes per topic) gives a low intrinsic dimension like real sentence embeddings;
rows are then normalised. Queries are fresh draws from the same mixture (never stored rows). A fixed
``--seed`` makes the data reproducible; the neighbour similarities printed under "Data" let one judge
how realistic it is.

The parameters were calibrated once against real all-MiniLM-L6-v2 vectors (12,000 docstring
paragraphs as passages, 300 first sentences of other paragraphs as queries), at n=12,000:

=========================  ===========  =====  =======  ===========================================
data                       random pair  top-1  LID(20)  HNSW M=32 efC=80 recall@10 / @100, ef 32·64·128
=========================  ===========  =====  =======  ===========================================
real MiniLM                0.106        0.620  18.9     .969/.825 · .984/.926 · .995/.976
this mixture               0.068        0.614  17.8     .961/.739 · .983/.839 · .994/.916
=========================  ===========  =====  =======  ===========================================

so recall@10 here is close to real data and recall@100 is pessimistic (real neighbourhoods fade more
gradually beyond the top 10).

Run from the project root (``benchmarks/`` need not be a package)::

    .venv/bin/python benchmarks/search_scale.py                     # both sizes; 500k HNSW takes minutes
    .venv/bin/python benchmarks/search_scale.py --sizes 50000 --threads 2

Progress goes to stderr; the Markdown report goes to stdout.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

DIMENSION = 384
DEFAULT_SIZES = (50_000, 500_000)
DEFAULT_CROSSOVER = (10_000, 25_000, 50_000, 100_000, 200_000)
DEFAULT_EF_SEARCH = (32, 64, 128, 256, 512)
ENGINE_DEPTH = 100  # qa.retrieval.search.DEPTH: candidates taken from the dense retriever per question
WARMUP = 20
CHUNK = 50_000
_START = time.perf_counter()


def _import_dense() -> ModuleType:
    """``qa.retrieval.dense``, importable when run as ``python benchmarks/search_scale.py`` from anywhere."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    import qa.retrieval.dense

    return qa.retrieval.dense


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:8.1f}s] {message}", file=sys.stderr, flush=True)


@contextmanager
def heartbeat(label: str, every: float = 30.0) -> Iterator[None]:
    """Log ``label`` with the elapsed time every ``every`` seconds until the block ends."""
    done = threading.Event()
    started = time.perf_counter()

    def beat() -> None:
        while not done.wait(every):
            log(f"  … {label}: {time.perf_counter() - started:.0f}s elapsed")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


# --------------------------------------------------------------------------- synthetic data


class Mixture:
    """A fixed mixture of anisotropic Gaussian topics on the unit sphere (see the module docstring)."""

    def __init__(
        self,
        seed: int,
        dimension: int = DIMENSION,
        clusters: int = 2_000,
        spread: float = 1.0,
        shared: float = 0.45,
        spectrum_decay: float = 0.5,
        isotropic: float = 0.15,
        families: int = 100,
        family_weight: float = 0.6,
    ) -> None:
        rng = np.random.default_rng(seed)
        self.dimension = dimension
        common = _unit(rng.standard_normal((1, dimension)))
        # Topics belong to families (related topics), so neighbours fade gradually beyond a topic.
        family = _unit(rng.standard_normal((families, dimension)))[rng.integers(0, families, clusters)]
        own = _unit(rng.standard_normal((clusters, dimension)))
        self.centres = _unit(family_weight * family + own + shared * common)
        weights = 1.0 / np.arange(1, clusters + 1) ** 0.8  # Zipf-like topic sizes
        self.weights = rng.permutation(weights / weights.sum())
        # Noise variance σ_i² ∝ i^(-2·decay) along a random orthonormal basis, axes permuted per topic.
        self.basis = np.linalg.qr(rng.standard_normal((dimension, dimension)))[0].astype(np.float32)
        scales = np.arange(1, dimension + 1, dtype=np.float64) ** -spectrum_decay
        scales *= np.sqrt((1.0 - isotropic**2) / np.sum(scales**2))
        self.scales = np.stack([rng.permutation(scales) for _ in range(clusters)]).astype(np.float32)
        self.spread = spread
        self.families = families
        self.isotropic = isotropic / np.sqrt(dimension)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` unit float32 rows drawn with their own ``seed`` (different seeds → different rows)."""
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.dimension), dtype=np.float32)
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            topic = rng.choice(len(self.centres), size=stop - start, p=self.weights)
            z = rng.standard_normal((stop - start, self.dimension), dtype=np.float32)
            noise = (z * self.scales[topic]) @ self.basis.T
            noise += self.isotropic * rng.standard_normal(noise.shape, dtype=np.float32)
            out[start:stop] = _unit(self.centres[topic] + self.spread * noise)
        return out


def _unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


# --------------------------------------------------------------------------- measurements


@dataclass
class Latency:
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        ms = np.asarray(seconds) * 1e3
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        return cls(float(p50), float(p95), float(p99))


def time_queries(search: Callable[[np.ndarray], object], queries: np.ndarray) -> Latency:
    """Latency of ``search`` on each query row, one at a time, after a warm-up."""
    for q in queries[:WARMUP]:
        search(q)
    times: list[float] = []
    gc.collect()
    gc.disable()
    try:
        for q in queries:
            t0 = time.perf_counter()
            search(q)
            times.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return Latency.of(times)


def time_k10_k100(index: Any, queries: np.ndarray) -> tuple[Latency, Latency]:
    """Single-query ``DenseIndex.search`` latency at k=10 and at the engine's depth."""
    return (
        time_queries(lambda q: index.search(q, 10), queries),
        time_queries(lambda q: index.search(q, ENGINE_DEPTH), queries),
    )


def top_ids(index: Any, queries: np.ndarray, k: int) -> np.ndarray:
    """Row ids of the top ``k`` for every query, one ``DenseIndex.search`` call each (n_queries × k)."""
    return np.stack([_pad(index.search(q, k)[1], k) for q in queries])


def _pad(ids: np.ndarray, k: int) -> np.ndarray:
    return np.pad(ids.astype(np.int64), (0, k - len(ids)), constant_values=-1)


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean over queries of |found top-k ∩ true top-k| / k."""
    hits = [len(np.intersect1d(f[:k], t[:k])) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits)) / k


@dataclass
class Row:
    n: int
    kind: str
    build_s: float
    mib: float
    k10: Latency
    k100: Latency
    recall10: float
    recall100: float


@dataclass
class SweepRow:
    n: int
    label: str
    ef: int
    k10: Latency
    recall10: float
    k100: Latency
    recall100: float


@dataclass
class CrossRow:
    n: int
    mib: float
    k10: Latency
    k100: Latency
    k100_one_thread: Latency | None


# --------------------------------------------------------------------------- report helpers


def fmt_ms(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 1) -> str:
    """A Markdown table; columns from ``right`` on are right-aligned."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i < right else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts(faiss: Any, threads: int) -> list[str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return [
        f"- CPU: {cpu_model()}; {os.cpu_count()} logical cores ({usable} usable by this process)",
        f"- FAISS threads (omp): {threads}; FAISS compile options: {faiss.get_compile_options().strip()}",
        f"- faiss {faiss.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"- load average at the start (1/5/15 min): {load_average()}",
    ]


def parse_ints(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def parse_hnsw(text: str) -> list[tuple[int, int]]:
    """``"16/80,48/120"`` → [(M, efConstruction), …]."""
    specs = []
    for part in text.split(","):
        if part.strip():
            m, ef = part.split("/")
            specs.append((int(m), int(ef)))
    return specs


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=parse_ints, default=list(DEFAULT_SIZES), help="comma-separated n")
    parser.add_argument("--queries", type=int, default=500, help="timed single queries per measurement")
    parser.add_argument("--threads", type=int, default=None, help="faiss.omp_set_num_threads (default: faiss's)")
    parser.add_argument("--ef-search", type=parse_ints, default=list(DEFAULT_EF_SEARCH), help="efSearch sweep")
    parser.add_argument(
        "--crossover", type=parse_ints, default=list(DEFAULT_CROSSOVER), help="n for the exact-latency curve"
    )
    parser.add_argument(
        "--extra-hnsw",
        type=parse_hnsw,
        default=[],
        help="other HNSW configs to sweep, built with faiss directly, as M/efConstruction[,…] (e.g. 16/80,48/120)",
    )
    parser.add_argument("--clusters", type=int, default=2_000, help="topics in the synthetic mixture")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    if args.queries < 200:
        log(f"warning: {args.queries} queries make p99 unreliable (>= 200 recommended)")

    dense = _import_dense()
    import faiss

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    threads = faiss.omp_get_max_threads()
    wall = time.perf_counter()

    print("# Dense search at scale\n")
    print("Command: `" + " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]) + "`\n")
    print("\n".join(machine_facts(faiss, threads)))
    print(
        f"- engine HNSW settings (qa.retrieval.dense): M={dense.HNSW_M}, efConstruction={dense.HNSW_EF_CONSTRUCTION}, "
        f"efSearch={dense.HNSW_EF_SEARCH}; EXACT_LIMIT={dense.EXACT_LIMIT:,}"
    )
    print(f"- d={DIMENSION}, {args.queries} timed queries (+{WARMUP} warm-up) per cell, seed {args.seed}\n")

    sizes = sorted(set(args.sizes))
    n_max = max([*sizes, *args.crossover])
    log(f"generating {n_max:,} × {DIMENSION} vectors ({n_max * DIMENSION * 4 / 2**20:.0f} MiB) …")
    mixture = Mixture(args.seed, clusters=args.clusters)
    data = mixture.sample(n_max, seed=args.seed + 1)
    queries = mixture.sample(args.queries, seed=args.seed + 2)
    log("data ready")

    rows: list[Row] = []
    sweep: list[SweepRow] = []
    shape: list[list[str]] = []
    for n in sizes:
        vectors = data[:n]
        log(f"n={n:,}: building exact index")
        t0 = time.perf_counter()
        exact = dense.DenseIndex.build(vectors, exact_limit=n + 1, search_threads=threads)
        exact_build = time.perf_counter() - t0
        assert exact.exact
        exact_mib = exact.serialized_bytes() / 2**20
        log(f"n={n:,}: exact built in {exact_build:.2f}s; timing")
        e10, e100 = time_k10_k100(exact, queries)
        truth_scores, truth = exact.search_batch(queries, ENGINE_DEPTH)
        rows.append(
            Row(n, f"exact (IndexFlatIP), {plural(threads, 'thread')}", exact_build, exact_mib, e10, e100, 1.0, 1.0)
        )
        if threads > 1:
            e10, e100 = time_k10_k100(exact.with_search_threads(1), queries)
            rows.append(Row(n, "exact (IndexFlatIP), 1 thread", exact_build, exact_mib, e10, e100, 1.0, 1.0))
        pair = data[np.random.default_rng(args.seed).integers(0, n, size=(2, 2_000))]
        shape.append(
            [
                f"{n:,}",
                f"{np.mean(np.sum(pair[0] * pair[1], axis=1)):.3f}",
                f"{truth_scores[:, 0].mean():.3f}",
                f"{truth_scores[:, 9].mean():.3f}",
                f"{truth_scores[:, 99].mean():.3f}",
            ]
        )
        del exact
        gc.collect()

        log(
            f"n={n:,}: building HNSW (M={dense.HNSW_M}, efConstruction={dense.HNSW_EF_CONSTRUCTION}, "
            f"{plural(threads, 'thread')})"
        )
        t0 = time.perf_counter()
        with heartbeat(f"HNSW build n={n:,}"):
            approx = dense.DenseIndex.build(vectors, exact_limit=n - 1)
        hnsw_build = time.perf_counter() - t0
        assert not approx.exact
        hnsw_mib = approx.serialized_bytes() / 2**20
        log(f"n={n:,}: HNSW built in {hnsw_build:.1f}s; timing")
        h10, h100 = time_k10_k100(approx, queries)
        found = top_ids(approx, queries, ENGINE_DEPTH)
        rows.append(
            Row(
                n,
                f"HNSW M={dense.HNSW_M} efC={dense.HNSW_EF_CONSTRUCTION} ef={dense.HNSW_EF_SEARCH}",
                hnsw_build,
                hnsw_mib,
                h10,
                h100,
                recall(top_ids(approx, queries, 10), truth, 10),
                recall(found, truth, ENGINE_DEPTH),
            )
        )
        label = f"engine M={dense.HNSW_M} efC={dense.HNSW_EF_CONSTRUCTION} (build {hnsw_build:.0f}s)"
        sweep += ef_sweep(approx, n, label, args.ef_search, queries, truth)
        del approx
        gc.collect()

        for m, ef_construction in args.extra_hnsw:
            log(f"n={n:,}: building extra HNSW M={m} efConstruction={ef_construction}")
            index = faiss.IndexHNSWFlat(DIMENSION, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            t0 = time.perf_counter()
            with heartbeat(f"HNSW M={m} build n={n:,}"):
                index.add(np.ascontiguousarray(vectors))
            built = time.perf_counter() - t0
            extra = dense.DenseIndex(index)
            mib = extra.serialized_bytes() / 2**20
            label = f"M={m} efC={ef_construction} (build {built:.0f}s, {mib:.0f} MiB)"
            sweep += ef_sweep(extra, n, label, args.ef_search, queries, truth)
            del extra
            del index
            gc.collect()

    cross: list[CrossRow] = []
    for n in sorted(set(args.crossover)):
        log(f"crossover: exact n={n:,}")
        flat = dense.DenseIndex.build(data[:n], exact_limit=n + 1, search_threads=threads)
        mib = flat.serialized_bytes() / 2**20
        c10, c100 = time_k10_k100(flat, queries)
        c100_one: Latency | None = None
        if threads > 1:
            c100_one = time_k10_k100(flat.with_search_threads(1), queries)[1]
        cross.append(CrossRow(n, mib, c10, c100, c100_one))
        del flat
        gc.collect()

    report(rows, sweep, cross, shape, mixture, args.clusters, threads)
    print(f"\nTotal wall time: {time.perf_counter() - wall:.0f}s (excluding interpreter start-up)")
    print(f"Load average at the end (1/5/15 min): {load_average()}")
    log("done")
    return 0


def ef_sweep(
    index: Any, n: int, label: str, values: Sequence[int], queries: np.ndarray, truth: np.ndarray
) -> list[SweepRow]:
    saved = index.ef_search
    out = []
    try:
        for ef in values:
            log(f"n={n:,}: {label}: efSearch={ef}")
            index.ef_search = ef
            k10 = time_queries(lambda q: index.search(q, 10), queries)
            k100 = time_queries(lambda q: index.search(q, ENGINE_DEPTH), queries)
            r10 = recall(top_ids(index, queries, 10), truth, 10)
            r100 = recall(top_ids(index, queries, ENGINE_DEPTH), truth, ENGINE_DEPTH)
            out.append(SweepRow(n, label, ef, k10, r10, k100, r100))
    finally:
        index.ef_search = saved
    return out


def report(
    rows: Sequence[Row],
    sweep: Sequence[SweepRow],
    cross: Sequence[CrossRow],
    shape: Sequence[Sequence[str]],
    mixture: Mixture,
    clusters: int,
    threads: int,
) -> None:
    print("## Data\n")
    print(
        f"Mixture of {clusters:,} anisotropic Gaussian topics in {mixture.families} families (Zipf-like sizes), "
        "normalised; queries are fresh draws. Mean cosine similarity of random stored pairs, and of each "
        "query's 1st / 10th / 100th exact neighbour:\n"
    )
    print(table(["n", "random pair", "top-1", "top-10", "top-100"], shape))

    print("\n## Exact vs HNSW (single-query `DenseIndex.search`, ms)\n")
    print(
        table(
            [
                "n",
                "index",
                "build s",
                "size MiB",
                "k=10 p50",
                "p95",
                "p99",
                "k=100 p50",
                "p95",
                "p99",
                "recall@10",
                "recall@100",
            ],
            [
                [
                    f"{r.n:,}",
                    r.kind,
                    f"{r.build_s:.1f}",
                    f"{r.mib:.0f}",
                    fmt_ms(r.k10.p50),
                    fmt_ms(r.k10.p95),
                    fmt_ms(r.k10.p99),
                    fmt_ms(r.k100.p50),
                    fmt_ms(r.k100.p95),
                    fmt_ms(r.k100.p99),
                    f"{r.recall10:.3f}",
                    f"{r.recall100:.3f}",
                ]
                for r in rows
            ],
            right=2,
        )
    )

    if sweep:
        print("\n## HNSW efSearch sweep (ms; recall against exact)\n")
        print("FAISS uses max(efSearch, k) as the search beam, so at k=100 efSearch < 100 acts as 100.\n")
        print(
            table(
                ["n", "graph", "efSearch", "k=10 p50", "p95", "recall@10", "k=100 p50", "p95", "recall@100"],
                [
                    [
                        f"{s.n:,}",
                        s.label,
                        str(s.ef),
                        fmt_ms(s.k10.p50),
                        fmt_ms(s.k10.p95),
                        f"{s.recall10:.3f}",
                        fmt_ms(s.k100.p50),
                        fmt_ms(s.k100.p95),
                        f"{s.recall100:.3f}",
                    ]
                    for s in sweep
                ],
                right=2,
            )
        )

    if cross:
        one = all(c.k100_one_thread is not None for c in cross)
        print("\n## Exact search crossover (IndexFlatIP, single query, ms)\n")
        print(
            f"Timed with {plural(threads, 'FAISS thread')}"
            + (", and k=100 again with 1 thread." if one else ".")
            + "\n"
        )
        header = ["n", "size MiB", "k=10 p50", "p95", "k=100 p50", "p95", "p99"]
        body = []
        for c in cross:
            cells = [f"{c.n:,}", f"{c.mib:.0f}", fmt_ms(c.k10.p50), fmt_ms(c.k10.p95)]
            cells += [fmt_ms(c.k100.p50), fmt_ms(c.k100.p95), fmt_ms(c.k100.p99)]
            if one and c.k100_one_thread is not None:
                t = c.k100_one_thread
                cells += [fmt_ms(t.p50), fmt_ms(t.p95), fmt_ms(t.p99)]
            body.append(cells)
        if one:
            header += ["1 thread k=100 p50", "p95", "p99"]
        print(table(header, body))


if __name__ == "__main__":
    raise SystemExit(main())
