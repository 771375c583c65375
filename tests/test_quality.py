"""Retrieval quality with the real model on the bench sets: floors a little under what was measured.

The measured figures and the command that produced them are in docs/quality.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.answering.engine import Engine
from qa.evaluate import Metrics, evaluate, mean_metrics, read_questions
from tests.helpers import ARTICLE, BENCH, ROOT, requires_bench

pytestmark = [pytest.mark.model, requires_bench()]


def measure(embedder: object, index_dir: Path, document: Path, questions: Path) -> Metrics:
    engine = Engine.open([document], embedder=embedder, index_dir=index_dir)  # type: ignore[arg-type]
    return evaluate(engine, read_questions(questions), document.name, k=5)


def test_article_dev_set(real_embedder: object, real_index_dir: Path) -> None:
    m = measure(real_embedder, real_index_dir, ARTICLE, BENCH / "article-dev.questions.jsonl")
    assert m.not_verbatim == 0
    assert m.median_chars <= 450
    # measured 0.929 / 1.000 / 0.857, 2 of the 3 unanswerable refused, none answerable refused
    assert m.hit1 >= 0.9 and m.hit3 >= 0.99 and m.highlight1 >= 0.8
    assert m.rejected_unanswerable is not None and m.rejected_unanswerable >= 0.6
    assert m.wrongly_rejected <= 0.05


def test_article_heldout_set(real_embedder: object, real_index_dir: Path) -> None:
    m = measure(
        real_embedder, real_index_dir, ARTICLE, ROOT / "benchmarks" / "data" / "article-heldout.questions.jsonl"
    )
    assert m.not_verbatim == 0
    # measured 0.933 / 0.978, highlight 0.800, unanswerable refused 0.333, none answerable refused
    assert m.hit1 >= 0.88 and m.hit3 >= 0.95 and m.highlight1 >= 0.72
    assert m.wrongly_rejected <= 0.03
    assert m.rejected_unanswerable is not None and m.rejected_unanswerable >= 0.25


def test_squad_dev_articles_mean(real_embedder: object, real_index_dir: Path) -> None:
    rows = [
        measure(real_embedder, real_index_dir, path, path.with_suffix(".questions.jsonl"))
        for path in sorted((BENCH / "squad-dev").glob("*.txt"))
    ]
    assert len(rows) == 6
    m = mean_metrics(rows)
    assert m.not_verbatim == 0
    assert all(r.median_chars <= 450 for r in rows)
    # measured 0.895 / 0.972, highlight 0.78, wrongly refused 0.019, unanswerable refused 0.073
    assert m.hit1 >= 0.87 and m.hit3 >= 0.96 and m.highlight1 >= 0.75
    assert m.wrongly_rejected <= 0.04


def test_off_topic_questions_are_refused(real_embedder: object, real_index_dir: Path) -> None:
    """The written unanswerable set: every off-topic question refused, no near miss wrongly answered
    more than measured (held-out figures in docs/quality.md)."""
    rows = read_questions(ROOT / "benchmarks" / "data" / "unanswerable-article.questions.jsonl")
    engine = Engine.open([ARTICLE], embedder=real_embedder, index_dir=real_index_dir)  # type: ignore[arg-type]
    off_topic = [q for q in rows if q.kind == "off-topic"]
    near = [q for q in rows if q.kind == "near-miss"]
    assert evaluate(engine, off_topic, ARTICLE.name).rejected_unanswerable == 1.0
    refused = evaluate(engine, near, ARTICLE.name).rejected_unanswerable
    assert refused is not None and refused >= 0.1  # measured 0.15-0.30 (near misses are the hard part)
