"""What the benchmark scripts share: where the project and the bench data are, and their arguments."""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT.parent / "shared" / "bench"  # ../shared/bench beside the project, as the Makefile has it
ARTICLE = ROOT / "corpus" / "harmonyos-smart-mobility.txt"
DATA = ROOT / "benchmarks" / "data"  # the questions written for this project


def timed(run: Callable[[], object]) -> float:
    """Seconds ``run()`` takes."""
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def median_of(repeats: int, run: Callable[[], object]) -> float:
    """The median of ``repeats`` timings of ``run()``, in seconds."""
    return statistics.median(timed(run) for _ in range(repeats))


def parser(module: str, doc: str | None, repeats: int | None = None) -> argparse.ArgumentParser:
    """An argument parser for ``python -m benchmarks.<module>`` with ``--bench`` (and ``--repeats``)."""
    out = argparse.ArgumentParser(prog=f"python -m benchmarks.{module}", description=(doc or "").split("\n")[0])
    out.add_argument("--bench", type=Path, default=BENCH, help="bench folder (default: %(default)s)")
    if repeats is not None:
        out.add_argument("--repeats", type=int, default=repeats, help="runs of each timing (their median)")
    return out


def free_port() -> int:
    """A loopback port no one listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fit_listwise(
    data: Sequence[tuple[np.ndarray, np.ndarray]], start: np.ndarray, l2: float = 0.01, temperature: float = 10.0
) -> np.ndarray:
    """Rank weights by a listwise softmax: each item is (candidates × features, which candidates are
    gold), the loss the log of the softmax mass on the gold ones, plus ``l2`` on the weights."""
    from scipy.optimize import minimize

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, gold in data:
            s = temperature * (x @ w)
            p = np.exp(s - s.max())
            p /= p.sum()
            pg = p[gold].sum()
            total -= float(np.log(pg + 1e-12))
            grad -= temperature * (x.T @ (np.where(gold, p / (pg + 1e-12), 0.0) - p))
        return total / len(data) + l2 * float(w @ w), grad / len(data) + 2 * l2 * w

    return np.asarray(minimize(loss, start, jac=True, method="L-BFGS-B").x)
