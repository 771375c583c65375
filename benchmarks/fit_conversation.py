"""Fit how follow-up questions are read (``qa/answering/conversation.py``, ``rank.py``), checked on held-out dialogues.

    .venv/bin/python -m benchmarks.fit_conversation [--bench ../shared/bench]

Data: the dialogues in ``benchmarks/data`` (written by helpers who never saw the method). Fitted on
one half — ``dialogues-article-a`` and the odd-numbered SQuAD dialogues — and reported on the other —
``dialogues-article-b`` and the even-numbered SQuAD dialogues; each SQuAD dialogue is read against
its own article. Three things are fitted, in the engine's own features:

* the follow-up rank weights (own and context features), by a listwise softmax over each answerable
  follow-up's candidates (gold = passages holding a whole gold span), as ``fit_weights`` does;
* the gate, a logistic model of "this question depends on its conversation" (follow-ups 1, topic
  switches 0) over ``conversation.GATE_FEATURES``;
* the follow-up answered threshold: the lowest score that refuses at most 6 % of the fitted answerable
  follow-ups.

It prints the parameters fitted (``--write`` saves the weights and the gate to
``qa/answering/conversation.json``, which the engine reads), then hit@1/hit@3/highlight@1 and refusals
per kind of turn on both halves, with the parameters in the library (as shipped).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from benchmarks import common
from benchmarks.common import DATA, ROOT
from qa.answering import fitted
from qa.answering.conversation import GateModel, parse_conversation
from qa.answering.engine import Engine
from qa.answering.weights import FollowUpWeights, RankWeights, shipped_follow_up
from qa.evaluate import Metrics, Question, evaluate, pool_metrics, read_questions
from qa.models.embed import Embedder
from qa.models.embedders import make_embedder
from qa.retrieval.search import Candidates

FEATURES = ("dense", "sentence", "lexical", "coverage")
MAX_WRONG = 0.06


@dataclass
class Turn:
    """One dialogue turn with history: its feature matrix (own | context), gold mask and gate cues."""

    question: Question
    x: np.ndarray
    gold: np.ndarray
    cues: np.ndarray
    alone: np.ndarray


def halves(bench: Path) -> tuple[list[tuple[Path, list[Question]]], list[tuple[Path, list[Question]]]]:
    """(fit, report): each a list of (document, questions), dialogues kept whole."""
    squad = read_questions(DATA / "dialogues-squad.questions.jsonl")
    dialogues = sorted({q.id.rsplit("-", 1)[0] for q in squad})
    parity = {d: i % 2 for i, d in enumerate(dialogues)}
    fit: list[tuple[Path, list[Question]]] = [
        (ROOT / "corpus", read_questions(DATA / "dialogues-article-a.questions.jsonl"))
    ]
    report: list[tuple[Path, list[Question]]] = [
        (ROOT / "corpus", read_questions(DATA / "dialogues-article-b.questions.jsonl"))
    ]
    for doc in sorted({q.doc for q in squad if q.doc}):
        rows = [q for q in squad if q.doc == doc]
        fit.append((bench / "squad-dev" / doc, [q for q in rows if parity[q.id.rsplit("-", 1)[0]] == 0]))
        report.append((bench / "squad-dev" / doc, [q for q in rows if parity[q.id.rsplit("-", 1)[0]] == 1]))
    return fit, report


def as_matrix(found: Candidates) -> np.ndarray:
    return np.stack([getattr(found, f) for f in FEATURES], axis=1).astype(np.float64)


def turns(engine: Engine, questions: Sequence[Question]) -> list[Turn]:
    """Features of every turn with history, as the engine reads them (``Engine.prepare``, ``Engine.read``)."""
    out = []
    followed = [q for q in questions if q.history]
    for q, asked in zip(followed, engine.prepare([q.q for q in followed], [q.history for q in followed]), strict=True):
        reading = engine.read(asked)
        assert reading.around is not None and reading.cues is not None and reading.alone is not None
        passages = [engine.passages[int(i)] for i in reading.found.ids]
        gold = np.array([any(p.start <= g.start and g.end <= p.end for g in q.answers) for p in passages])
        x = np.hstack([as_matrix(reading.found), as_matrix(reading.around)])
        out.append(Turn(q, x, gold, reading.cues, reading.alone))
    return out


def fit_rank(data: Sequence[Turn], start: np.ndarray) -> np.ndarray:
    rows = [(t.x, t.gold) for t in data if t.question.turn == "follow-up" and t.gold.any()]
    return common.fit_listwise(rows, start)


def fit_gate(data: Sequence[Turn], l2: float = 0.001) -> np.ndarray:
    """Logistic regression, the few topic switches weighted up to count as much as the follow-ups."""
    x = np.array([t.cues for t in data])
    y = np.array([0.0 if t.question.turn == "switch" else 1.0 for t in data])
    balance = np.where(y == 0, y.sum() / max(len(y) - y.sum(), 1), 1.0)

    def loss(w: np.ndarray) -> float:
        p = 1 / (1 + np.exp(-(x @ w)))
        log_likelihood = y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9)
        return float(-np.mean(balance * log_likelihood) + l2 * w[1:] @ w[1:])

    return np.asarray(minimize(loss, np.zeros(x.shape[1])).x)


def fit_threshold(data: Sequence[Turn], w: np.ndarray) -> float:
    scores = sorted(float((t.x @ w).max()) for t in data if t.question.turn == "follow-up" and t.question.answers)
    return scores[int(MAX_WRONG * len(scores))]


def weights_of(w: np.ndarray) -> FollowUpWeights:
    own, context = (tuple(float(round(v, 2)) for v in part) for part in (w[:4], w[4:]))
    return FollowUpWeights(RankWeights(*own), RankWeights(*context))


def line(m: Metrics) -> str:
    refused = "–" if m.rejected_unanswerable is None else f"{m.rejected_unanswerable:.3f}"
    return (
        f"hit@1 {m.hit1:.3f} hit@3 {m.hit3:.3f} hl@1 {m.highlight1:.3f} wrongly refused {m.wrongly_rejected:.3f} "
        f"unanswerable refused {refused} (n={m.answerable}+{m.unanswerable})"
    )


def report(engines: dict[Path, Engine], rows: Sequence[tuple[Path, list[Question]]], alone: bool = False) -> None:
    """One line per kind of turn for the article, and for the SQuAD articles pooled."""
    for label, part in (("article", rows[:1]), ("SQuAD", rows[1:])):
        for kind in ("first", "follow-up", "switch"):
            measured = []
            for path, qs in part:
                group = [q for q in qs if q.turn == kind]
                if alone:
                    group = [dataclasses.replace(q, history=()) for q in group]
                if group:
                    measured.append(evaluate(engines[path], group, engines[path].documents[0].name))
            if measured:
                print(f"  {label:8s} {kind:10s} {line(pool_metrics(measured))}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("fit_conversation", __doc__)
    parser.add_argument("--write", action="store_true", help=f"save the fit to {fitted.path_of('conversation')}")
    args = parser.parse_args(argv)
    embedder: Embedder = make_embedder()
    fit_half, report_half = halves(args.bench)
    engines = {path: Engine.open([path], embedder=embedder) for path, _ in fit_half}
    data = [t for path, qs in fit_half for t in turns(engines[path], qs)]
    shipped = shipped_follow_up()
    start = np.array([getattr(w, f) for w in (shipped.own, shipped.context) for f in FEATURES])
    w = fit_rank(data, start)
    gate = fit_gate(data)
    threshold = fit_threshold(data, w)
    print("Fitted on dialogues-article-a and the odd SQuAD dialogues:")
    print(f"  {weights_of(w)}")
    gate_model = GateModel(tuple(float(round(g, 2)) for g in gate))
    print(f"  {gate_model}")
    print(f"  follow-up score refusing {MAX_WRONG:.0%} of the fitted answerable follow-ups: {threshold:.2f}")
    if args.write:
        kept = json.loads(fitted.path_of("conversation").read_text(encoding="utf-8"))  # previous_answer stays
        params = {**kept, "follow_up": weights_of(w).to_json(), "gate": gate_model.to_json()}
        print(f"  wrote {fitted.write('conversation', params, parse_conversation)}")
    for half, rows in (("fit half", fit_half), ("held-out half", report_half)):
        print(f"\nEach question read alone (no history), {half}:")
        report(engines, rows, alone=True)
        print(f"\nIn its conversation, as shipped, {half}:")
        report(engines, rows)


if __name__ == "__main__":
    main()
