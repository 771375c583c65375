"""Retrieval quality with the real model on the bench sets: floors a little under what was measured.

The measured figures and the command that produced them are in docs/quality.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.engine import Engine
from qa.evaluate import Metrics, mean_metrics, read_questions, score
from tests.conftest import ARTICLE, BENCH, ROOT, requires_bench

pytestmark = [pytest.mark.model, requires_bench()]


def measure(embedder: object, index_dir: Path, document: Path, questions: Path) -> Metrics:
    engine = Engine.open([document], embedder=embedder, index_dir=index_dir)  # type: ignore[arg-type]
    rows = read_questions(questions)
    answers = engine.ask_many([q.q for q in rows], k=5)
    texts = {d.name: d.text for d in engine.documents}
    lengths = [p.end - p.start for p in engine.passages]
    return score(rows, answers, document.name, texts, lengths)


def test_article_dev_set(real_embedder: object, real_index_dir: Path) -> None:
    m = measure(real_embedder, real_index_dir, ARTICLE, BENCH / "article-dev.questions.jsonl")
    assert m.not_verbatim == 0
    assert m.median_chars <= 450
    assert m.hit1 >= 0.85 and m.hit3 >= 0.95


def test_article_heldout_set(real_embedder: object, real_index_dir: Path) -> None:
    m = measure(
        real_embedder, real_index_dir, ARTICLE, ROOT / "benchmarks" / "data" / "article-heldout.questions.jsonl"
    )
    assert m.not_verbatim == 0
    assert m.hit1 >= 0.85 and m.hit3 >= 0.93


def test_squad_dev_articles_mean(real_embedder: object, real_index_dir: Path) -> None:
    rows = [
        measure(real_embedder, real_index_dir, path, path.with_suffix(".questions.jsonl"))
        for path in sorted((BENCH / "squad-dev").glob("*.txt"))
    ]
    assert len(rows) == 6
    m = mean_metrics(rows)
    assert m.not_verbatim == 0
    assert all(r.median_chars <= 450 for r in rows)
    assert m.hit1 >= 0.72 and m.hit3 >= 0.90
