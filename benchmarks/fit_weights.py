"""Fit the rank weights on the bench questions, and check them on held-out ones.

    .venv/bin/python -m benchmarks.fit_weights [--bench ../shared/bench]

Uses the engine's own candidate features (``Engine.prepare`` then ``Engine.read``), so what is fitted is what runs.

* Rank weights: a listwise softmax over each question's candidates (gold = passages holding a whole
  gold span), fitted on the even-numbered answerable questions of every dev set (article-dev and the
  six SQuAD articles) and checked on the odd-numbered ones; then a leave-one-SQuAD-article-out check,
  and the article held-out set (``benchmarks/data``), which is never fitted on.
Whether a question is answered is fitted by ``benchmarks/fit_answerability.py``.

It prints the weights fitted on all dev questions; ``--write`` saves them (to two decimals) to
``qa/answering/rank.json``, which the engine reads.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.common import ARTICLE, DATA
from qa.answering import fitted
from qa.answering.engine import Engine
from qa.answering.weights import RANK_FEATURES, RankWeights, shipped_weights
from qa.evaluate import read_questions
from qa.models.embedders import make_embedder


@dataclass
class Row:
    """One question: candidate features, and which candidates hold a gold span."""

    group: str
    index: int
    answerable: bool
    x: np.ndarray  # candidates × rank features
    gold: np.ndarray  # candidates, bool


def collect(engine: Engine, questions_path: Path, group: str) -> list[Row]:
    questions = read_questions(questions_path)
    doc = engine.documents[0].name
    rows = []
    for i, (question, asked) in enumerate(zip(questions, engine.prepare([q.q for q in questions]), strict=True)):
        found = engine.read(asked).found
        x = np.stack([getattr(found, f) for f in RANK_FEATURES], axis=1).astype(np.float64)
        passages = [engine.passages[int(p)] for p in found.ids]
        gold = np.array(
            [p.doc == doc and any(p.start <= g.start and g.end <= p.end for g in question.answers) for p in passages]
        )
        rows.append(Row(group, i, bool(question.answers), x, gold))
    return rows


def fit_rank(rows: Sequence[Row]) -> np.ndarray:
    data = [(r.x, r.gold) for r in rows if r.answerable and r.gold.any()]
    return common.fit_listwise(data, np.full(len(RANK_FEATURES), 0.5))


def hits(rows: Sequence[Row], w: np.ndarray) -> dict[str, tuple[float, float, int]]:
    """Per group: hit@1, hit@3 over answerable questions."""
    out: dict[str, list[int]] = {}
    for r in rows:
        if not r.answerable:
            continue
        order = np.argsort(-(r.x @ w), kind="stable")[:3]
        tally = out.setdefault(r.group, [0, 0, 0])
        tally[0] += 1
        tally[1] += bool(r.gold[order[0]]) if len(order) else 0
        tally[2] += bool(r.gold[order].any()) if len(order) else 0
    return {g: (t[1] / t[0], t[2] / t[0], t[0]) for g, t in out.items()}


def squad_mean(table: dict[str, tuple[float, float, int]]) -> tuple[float, float]:
    squad = [v for g, v in table.items() if g.startswith("squad:")]
    return statistics.mean(v[0] for v in squad), statistics.mean(v[1] for v in squad)


def show(label: str, table: dict[str, tuple[float, float, int]]) -> None:
    parts = [
        f"{g.split(':')[-1]} {v[0]:.3f}/{v[1]:.3f}" for g, v in sorted(table.items()) if not g.startswith("squad:")
    ]
    if any(g.startswith("squad:") for g in table):
        parts.append("SQuAD mean {:.3f}/{:.3f}".format(*squad_mean(table)))
    print(f"  {label:34s} hit@1/hit@3: " + "; ".join(parts))


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("fit_weights", __doc__)
    parser.add_argument("--index-dir", type=Path, default=None, help="index folder (default $QA_INDEX_DIR)")
    parser.add_argument("--write", action="store_true", help=f"save the weights to {fitted.path_of('rank')}")
    args = parser.parse_args(argv)
    print(f"`python -m benchmarks.fit_weights {' '.join(sys.argv[1:])}`\n")

    embedder = make_embedder()
    current = shipped_weights()
    article = ARTICLE
    sets = [("article-dev", article, args.bench / "article-dev.questions.jsonl")]
    sets += [
        (f"squad:{p.stem}", p, p.with_suffix(".questions.jsonl"))
        for p in sorted((args.bench / "squad-dev").glob("*.txt"))
    ]
    heldout = ("article-heldout", article, DATA / "article-heldout.questions.jsonl")

    rows: list[Row] = []
    for group, doc, questions in [*sets, heldout]:
        print(f"  features: {group}", file=sys.stderr)
        engine = Engine.open([doc], embedder=embedder, index_dir=args.index_dir)
        rows += collect(engine, questions, group)
    dev = [r for r in rows if r.group != "article-heldout"]
    held = [r for r in rows if r.group == "article-heldout"]
    even = [r for r in dev if r.index % 2 == 0]
    odd = [r for r in dev if r.index % 2 == 1]

    print("Rank weights (dense, sentence, lexical, coverage)")
    w_now = np.array([getattr(current, f, 0.0) for f in RANK_FEATURES])
    show("current weights, dev", hits(dev, w_now))
    show("current weights, held-out", hits(held, w_now))
    w_half = fit_rank(even)
    print(f"  fitted on even half: {np.round(w_half, 3).tolist()}")
    show("  -> even half (fitted)", hits(even, w_half))
    show("  -> odd half (checked)", hits(odd, w_half))
    show("  -> article held-out", hits(held, w_half))
    squad_groups = sorted({r.group for r in dev if r.group.startswith("squad:")})
    per_article = []
    for g in squad_groups:
        w = fit_rank([r for r in dev if r.group != g])
        per_article.append(hits([r for r in dev if r.group == g], w)[g][:2])
    loao = np.mean(per_article, axis=0)
    print(f"  leave-one-SQuAD-article-out: hit@1 {loao[0]:.3f}, hit@3 {loao[1]:.3f}")
    w_all = fit_rank(dev)
    print(f"  fitted on all dev questions: {np.round(w_all, 3).tolist()}")
    show("  -> dev (fitted)", hits(dev, w_all))
    show("  -> article held-out", hits(held, w_all))
    if args.write:
        weights = RankWeights(*(float(round(v, 2)) for v in w_all))
        print(f"\nwrote {fitted.write('rank', weights.to_json(), RankWeights.from_fields)}")


if __name__ == "__main__":
    main()
