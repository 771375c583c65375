"""Fit the rank weights and the "answered" rule on the bench questions, and check them on held-out ones.

    .venv/bin/python -m benchmarks.fit_weights [--bench ../shared/bench]

Uses the engine's own candidate features (``Engine.candidates``), so what is fitted is what runs.

* Rank weights: a listwise softmax over each question's candidates (gold = passages holding a whole
  gold span), fitted on the even-numbered answerable questions of every dev set (article-dev and the
  six SQuAD articles) and checked on the odd-numbered ones; then a leave-one-SQuAD-article-out check,
  and the article held-out set (``benchmarks/data``), which is never fitted on.
* Answered rule: a threshold on the best candidate's rank score, set so that at most ``--max-wrong``
  of the fitting questions' answerable ones are rejected; fitted on the even halves and checked on
  the odd halves and the held-out set. For comparison, a logistic model over several features of the
  best candidate (``--features``) with its threshold set the same way.

It prints the weights and the threshold as ``qa/rank.py`` holds them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from qa.embedders import make_embedder
from qa.engine import Engine
from qa.evaluate import read_questions
from qa.rank import AnswerRule, RankWeights
from qa.search import Candidates, top_ids

ROOT = Path(__file__).resolve().parent.parent
RANK_FEATURES = ("dense", "sentence", "lexical", "coverage")


@dataclass
class Row:
    """One question: candidate features, which candidates hold a gold span, the answer features."""

    group: str
    index: int
    answerable: bool
    x: np.ndarray  # candidates × rank features
    gold: np.ndarray  # candidates, bool
    answer: dict[str, float]


def collect(engine: Engine, questions_path: Path, group: str, weights: RankWeights) -> list[Row]:
    questions = read_questions(questions_path)
    doc = engine.documents[0].name
    cut = [engine.embedder.truncate(q.q) for q in questions]
    vectors = engine.embedder.encode([t for t, _ in cut])
    rows = []
    for i, (question, (text, _), vector) in enumerate(zip(questions, cut, vectors, strict=True)):
        found = engine.candidates(text, vector)
        x = np.stack([getattr(found, f) for f in RANK_FEATURES], axis=1).astype(np.float64)
        passages = [engine.passages[int(p)] for p in found.ids]
        gold = np.array(
            [p.doc == doc and any(p.start <= g.start and g.end <= p.end for g in question.answers) for p in passages]
        )
        features = best_candidate(found, weights)
        rows.append(Row(group, i, bool(question.answers), x, gold, features))
    return rows


ANSWER_FEATURES = ("score", "dense", "sentence", "coverage", "lexical", "margin")


def best_candidate(found: Candidates, weights: RankWeights) -> dict[str, float]:
    """Features of the best candidate (and its margin over the second) for the answered rule."""
    scores = weights.scores(found)
    if not len(scores):
        return dict.fromkeys(ANSWER_FEATURES, 0.0)
    order = top_ids(scores, 2)
    best = int(order[0])
    return {
        "score": float(scores[best]),
        "dense": float(found.dense[best]),
        "sentence": float(found.sentence[best]),
        "coverage": float(found.coverage[best]),
        "lexical": float(found.lexical[best]),
        "margin": float(scores[best] - (scores[order[1]] if len(order) > 1 else 0.0)),
    }


@dataclass(frozen=True)
class Rule:
    """Answered when ``bias + Σ weight × feature >= threshold``."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float

    def rejects(self, answer: dict[str, float]) -> bool:
        value = self.bias + sum(w * answer[f] for f, w in zip(self.features, self.weights, strict=True))
        return value < self.threshold


def fit_rank(rows: Sequence[Row], l2: float = 0.01, temperature: float = 10.0) -> np.ndarray:
    data = [(r.x, r.gold) for r in rows if r.answerable and r.gold.any()]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, g in data:
            s = temperature * (x @ w)
            s -= s.max()
            p = np.exp(s)
            p /= p.sum()
            pg = p[g].sum()
            total -= float(np.log(pg + 1e-12))
            grad -= temperature * ((x[g] * p[g, None]).sum(0) / (pg + 1e-12) - (x * p[:, None]).sum(0))
        return total / len(data) + l2 * float(w @ w), grad / len(data) + 2 * l2 * w

    result = minimize(loss, np.full(len(RANK_FEATURES), 0.5), jac=True, method="L-BFGS-B")
    return np.asarray(result.x)


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


def rejection(rows: Sequence[Row], rule: Rule) -> dict[str, tuple[float | None, float]]:
    """Per group: share of unanswerable rejected, share of answerable rejected."""
    out: dict[str, list[int]] = {}
    for r in rows:
        t = out.setdefault(r.group, [0, 0, 0, 0])
        rejected = rule.rejects(r.answer)
        if r.answerable:
            t[0] += 1
            t[1] += rejected
        else:
            t[2] += 1
            t[3] += rejected
    return {g: (t[3] / t[2] if t[2] else None, t[1] / t[0] if t[0] else 0.0) for g, t in out.items()}


def show_rejection(label: str, table: dict[str, tuple[float | None, float]]) -> None:
    def fmt(v: float | None) -> str:
        return "–" if v is None else f"{v:.3f}"

    parts = [
        f"{g.split(':')[-1]} {fmt(v[0])}/{v[1]:.3f}" for g, v in sorted(table.items()) if not g.startswith("squad:")
    ]
    squad = [v for g, v in table.items() if g.startswith("squad:")]
    if squad:
        parts.append(
            f"SQuAD mean {fmt(statistics.mean(v[0] for v in squad if v[0] is not None))}/"
            f"{statistics.mean(v[1] for v in squad):.3f}"
        )
    print(f"  {label:34s} rejected unanswerable / wrongly rejected: " + "; ".join(parts))


def fit_rule(rows: Sequence[Row], features: Sequence[str], max_wrong: float, l2: float = 0.01) -> Rule:
    """A threshold on one feature, or a logistic model over several; rejects ≤ max_wrong answerable."""
    x = np.array([[r.answer[f] for f in features] for r in rows])
    y = np.array([r.answerable for r in rows], dtype=np.float64)
    if len(features) == 1:
        coef, bias = np.ones(1), 0.0
    else:
        mean, scale = x.mean(0), x.std(0) + 1e-9
        z = np.c_[(x - mean) / scale, np.ones(len(x))]

        def loss(w: np.ndarray) -> float:
            p = 1 / (1 + np.exp(-(z @ w)))
            return float(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)) + l2 * w[:-1] @ w[:-1])

        w = minimize(loss, np.zeros(z.shape[1])).x
        coef = w[:-1] / scale
        bias = float(w[-1] - (w[:-1] * mean / scale).sum())
    values = x[y == 1] @ coef + bias
    threshold = float(np.quantile(values, max_wrong)) if len(values) else 0.0
    return Rule(tuple(features), tuple(round(float(c), 4) for c in coef), round(bias, 4), round(threshold, 4))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", type=Path, default=ROOT.parent / "shared" / "bench")
    parser.add_argument("--max-wrong", type=float, default=0.03, help="answerable share the rule may reject")
    parser.add_argument(
        "--features", default=",".join(ANSWER_FEATURES), help="features of the logistic answered rule to compare"
    )
    parser.add_argument("--index-dir", type=Path, default=None, help="index folder (default $QA_INDEX_DIR)")
    args = parser.parse_args(argv)
    print(f"`python -m benchmarks.fit_weights {' '.join(sys.argv[1:])}`\n")

    embedder = make_embedder()
    current = RankWeights()
    article = ROOT / "corpus" / "harmonyos-smart-mobility.txt"
    sets = [("article-dev", article, args.bench / "article-dev.questions.jsonl")]
    sets += [
        (f"squad:{p.stem}", p, p.with_suffix(".questions.jsonl"))
        for p in sorted((args.bench / "squad-dev").glob("*.txt"))
    ]
    heldout = ("article-heldout", article, ROOT / "benchmarks" / "data" / "article-heldout.questions.jsonl")

    rows: list[Row] = []
    for group, doc, questions in [*sets, heldout]:
        print(f"  features: {group}", file=sys.stderr)
        engine = Engine.open([doc], embedder=embedder, index_dir=args.index_dir)
        rows += collect(engine, questions, group, current)
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

    for features in (("score",), tuple(args.features.split(","))):
        print(f"\nAnswered rule on {', '.join(features)} (at most {args.max_wrong:.0%} of fitted answerable rejected)")
        if features == ("score",):
            current_rule = Rule(("score",), (1.0,), 0.0, AnswerRule().min_score)
            show_rejection("current threshold, dev", rejection(dev, current_rule))
            show_rejection("current threshold, held-out", rejection(held, current_rule))
        rule_half = fit_rule(even, features, args.max_wrong)
        print(f"  fitted on even half: {rule_half}")
        show_rejection("  -> odd half (checked)", rejection(odd, rule_half))
        show_rejection("  -> article held-out", rejection(held, rule_half))
        rule_all = fit_rule(dev, features, args.max_wrong)
        print(f"  fitted on all dev questions: {rule_all}")
        show_rejection("  -> dev (fitted)", rejection(dev, rule_all))
        show_rejection("  -> article held-out", rejection(held, rule_all))


if __name__ == "__main__":
    main()
