"""Fit the calibrated answerability score (``qa/answering/answerability.py``) and check it on held-out questions.

    .venv/bin/python -m benchmarks.fit_answerability [--bench ../shared/bench] [--reader] [--write]
        [--plot docs/reliability.png]

Every question is answered by the engine as shipped; its ``Answer.evidence`` (the features of the
passage ranked first) and a label — 1 when the question is answerable and that passage holds a whole
gold span, else 0 — make one row. A logistic regression over the standardised features (a coefficient
kept to the sign ``answerability.DIRECTION`` gives it) is fitted on the *fit* part, and its threshold
set there: the highest that refuses at most 3 % of the fit part's answerable article questions and at
most 5 % of its answerable SQuAD ones. Everything is reported on the *held-out* part:

* fit: article-dev, the even rows of ``answerable-article``/``unanswerable-article``, the SQuAD
  articles Force, Harvard_University and Normans (their bench rows and their ``unanswerable-squad``
  rows), the fit half of the dialogues (``dialogues-article-a``, odd SQuAD dialogues);
* held out: ``article-heldout``, the odd rows of ``answerable-article``/``unanswerable-article``, the
  SQuAD articles Packet_switching, Steam_engine and Warsaw, the other half of the dialogues.

``--reader`` fits the model of an engine with the reader (its probability is one more feature);
without it the engine ranks without the reader. ``--write`` saves the model to
``qa/answering/answerability.json`` (the engine reads the reader's feature when the file has it); ``--plot`` draws
the reliability diagram of the held-out rows (matplotlib, ``pip install -e '.[bench]'``). Calibration
error is measured over 10 equal-width bins of confidence, each weighted by its share of the rows.
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
from qa.answering.answerability import DIRECTION, FEATURES, READER_FEATURES, AnswerabilityModel, shipped_model
from qa.answering.engine import Engine
from qa.answering.rank import Ranker
from qa.evaluate import Question, first_hit_rank, read_questions
from qa.models.embedders import make_embedder

ARTICLE = ROOT / "corpus" / "harmonyos-smart-mobility.txt"
FIT_SQUAD = ("Force", "Harvard_University", "Normans")
MAX_WRONG = {"article": 0.03, "squad": 0.05}
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass
class Row:
    group: str  # "article" or "squad"
    set: str
    kind: str  # answerable, near-miss, off-topic, unanswerable, follow-up ...
    answerable: bool
    label: float
    evidence: np.ndarray
    confidence: float = 0.0


def rows_of(engine: Engine, questions: Sequence[Question], group: str, name: str) -> list[Row]:
    answers = engine.ask_many([q.q for q in questions], 5, histories=[q.history for q in questions])
    out = []
    for q, answer in zip(questions, answers, strict=True):
        doc = q.doc or engine.documents[0].name
        top = bool(q.answers) and first_hit_rank(answer, q.answers, doc) == 1
        kind = q.kind or ("answerable" if q.answers else "unanswerable")
        if q.history:
            kind = "follow-up" if q.kind != "switch" else "switch"
        out.append(Row(group, name, kind, bool(q.answers), float(top), np.array(answer.evidence), answer.confidence))
    return out


def collect(bench: Path, reader: bool = False, feature: bool = False) -> tuple[list[Row], list[Row]]:
    """(fit rows, held-out rows), answered by engines with the reader or without it; their evidence
    holds the reader's probability with ``feature``."""
    embedder = make_embedder()
    article = with_features(Engine.open([ARTICLE], embedder=embedder, use_reader=reader), feature)
    fit: list[Row] = []
    held: list[Row] = []

    def split(rows: list[Question]) -> tuple[list[Question], list[Question]]:
        return rows[0::2], rows[1::2]

    fit += rows_of(article, read_questions(bench / "article-dev.questions.jsonl"), "article", "article-dev")
    held += rows_of(article, read_questions(DATA / "article-heldout.questions.jsonl"), "article", "article-heldout")
    for name in ("answerable-article", "unanswerable-article"):
        even, odd = split(read_questions(DATA / f"{name}.questions.jsonl"))
        fit += rows_of(article, even, "article", name)
        held += rows_of(article, odd, "article", name)
    for name, part in (("dialogues-article-a", fit), ("dialogues-article-b", held)):
        part += rows_of(article, read_questions(DATA / f"{name}.questions.jsonl"), "article", name)
    unanswerable = read_questions(DATA / "unanswerable-squad.questions.jsonl")
    dialogues = read_questions(DATA / "dialogues-squad.questions.jsonl")
    order = sorted({q.id.rsplit("-", 1)[0] for q in dialogues})
    for path in sorted((bench / "squad-dev").glob("*.txt")):
        engine = Engine.open([path], embedder=embedder, reader=article.reader, use_reader=reader)
        engine = with_features(engine, feature)
        part = fit if path.stem in FIT_SQUAD else held
        part += rows_of(engine, read_questions(path.with_suffix(".questions.jsonl")), "squad", "squad")
        part += rows_of(engine, [q for q in unanswerable if q.doc == path.name], "squad", "unanswerable-squad")
        mine = [q for q in dialogues if q.doc == path.name]
        part_of = {d: i % 2 for i, d in enumerate(order)}
        fit += rows_of(engine, [q for q in mine if part_of[q.id.rsplit("-", 1)[0]] == 0], "squad", "dialogues-squad")
        held += rows_of(engine, [q for q in mine if part_of[q.id.rsplit("-", 1)[0]] == 1], "squad", "dialogues-squad")
    return fit, held


def with_features(engine: Engine, feature: bool) -> Engine:
    """``engine``, its answers' evidence made of every feature fitted (the reader's too, with ``feature``),
    whichever features the shipped model uses; the ranking is the same."""
    features = READER_FEATURES if feature else FEATURES
    zeros = tuple(0.0 for _ in features)
    model = AnswerabilityModel(features, zeros, tuple(1.0 for _ in features), zeros, 0.0, 0.5)
    engine.ranker = Ranker(engine.index, engine.texts, model=model, fusion=engine.ranker.fusion, reader=engine.reader)
    return engine


def fit_model(rows: Sequence[Row], features: tuple[str, ...] = FEATURES, l2: float = 0.01) -> AnswerabilityModel:
    x = np.array([r.evidence for r in rows])
    y = np.array([r.label for r in rows])
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale

    def loss(w: np.ndarray) -> float:
        p = 1 / (1 + np.exp(-(z @ w[1:] + w[0])))
        return float(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)) + l2 * w[1:] @ w[1:])

    signs = [DIRECTION[f] for f in features]
    bounds = [(None, None)] + [(0, None) if d > 0 else (None, 0) if d < 0 else (None, None) for d in signs]
    w = minimize(loss, np.zeros(z.shape[1] + 1), method="L-BFGS-B", bounds=bounds).x
    return AnswerabilityModel(
        features,
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in w[1:]),
        float(w[0]),
        0.5,
    )


def score(model: AnswerabilityModel, rows: Sequence[Row]) -> None:
    for r in rows:
        r.confidence = model.confidence(r.evidence)


def fit_threshold(rows: Sequence[Row]) -> float:
    """The highest threshold that refuses at most ``MAX_WRONG`` of each group's answerable questions."""
    limits = []
    for group, share in MAX_WRONG.items():
        confidences = sorted(r.confidence for r in rows if r.group == group and r.answerable)
        limits.append(confidences[int(share * len(confidences))])
    return round(min(limits), 3)


def refusals(rows: Sequence[Row], threshold: float) -> str:
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    wrong = np.mean([r.confidence < threshold for r in answerable]) if answerable else float("nan")
    right = np.mean([r.confidence < threshold for r in unanswerable]) if unanswerable else float("nan")
    return (
        f"unanswerable refused {right:.3f} (n={len(unanswerable)}), "
        f"answerable wrongly refused {wrong:.3f} (n={len(answerable)})"
    )


def calibration(rows: Sequence[Row], bins: int = 10) -> tuple[float, list[tuple[float, float, int]]]:
    """Expected calibration error over equal-width bins, and (mean confidence, observed rate, n) per bin."""
    table = []
    error = 0.0
    for b in range(bins):
        inside = [r for r in rows if b / bins <= r.confidence < (b + 1) / bins or (b == bins - 1 and r.confidence == 1)]
        if inside:
            predicted = float(np.mean([r.confidence for r in inside]))
            observed = float(np.mean([r.label for r in inside]))
            table.append((predicted, observed, len(inside)))
            error += len(inside) / len(rows) * abs(predicted - observed)
    return error, table


def plot(rows: Sequence[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 5.2), dpi=110)
    ax.plot([0, 1], [0, 1], color="#9ca3af", linestyle="--", linewidth=1, label="perfect calibration")
    for group, color in (("all held-out rows", "#1d4ed8"), ("article", "#b45309"), ("squad", "#047857")):
        part = [r for r in rows if group == "all held-out rows" or r.group == group]
        error, table = calibration(part)
        xs, ys, _ = zip(*table, strict=True)
        ax.plot(xs, ys, marker="o", color=color, label=f"{group} (n={len(part)}, ECE {error:.3f})")
        if group == "all held-out rows":
            for x, y, n in table:
                ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7, color=color)
    ax.set_xlabel("predicted confidence (mean of each 0.1-wide bin)")
    ax.set_ylabel("observed rate: the top passage answers")
    ax.set_title("Reliability of the answerability score (held-out rows)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def report(rows: Sequence[Row], threshold: float) -> None:
    for group in ("article", "squad"):
        part = [r for r in rows if r.group == group]
        print(f"  {group:8s} all: {refusals(part, threshold)}")
        for kind in sorted({r.kind for r in part}):
            print(f"    {kind:14s} {refusals([r for r in part if r.kind == kind], threshold)}")
        for name in sorted({r.set for r in part}):
            print(f"    set {name:24s} {refusals([r for r in part if r.set == name], threshold)}")
    error, _ = calibration(rows)
    print(f"  expected calibration error (10 equal-width bins, all rows): {error:.3f}")
    for group in ("article", "squad"):
        print(f"    {group}: {calibration([r for r in rows if r.group == group])[0]:.3f}")
    print("  refusal against false refusal at other thresholds:")
    for t in THRESHOLDS:
        cells = "; ".join(f"{g} {refusals([r for r in rows if r.group == g], t)}" for g in ("article", "squad"))
        print(f"    {t:.2f}: {cells}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("fit_answerability", __doc__)
    parser.add_argument("--reader", action="store_true", help="fit the model of an engine with the reader")
    parser.add_argument(
        "--no-reader-feature",
        action="store_true",
        help="with --reader: rank with the reader, but fit without its probability as a feature",
    )
    parser.add_argument("--write", action="store_true", help="save the fitted model beside the code")
    parser.add_argument("--plot", type=Path, default=None, help="draw the reliability diagram to this PNG")
    args = parser.parse_args(argv)
    with_feature = args.reader and not args.no_reader_feature
    features = READER_FEATURES if with_feature else FEATURES
    fit, held = collect(args.bench, args.reader, with_feature)
    if with_feature and not any(r.evidence[-1] for r in fit):
        raise SystemExit("fit_answerability: --reader, but the engine has no reader (see the notice above)")
    neutral = {f: shipped_model().neutral(f) for f in shipped_model().features if f not in features}
    values = [{**dict(zip(features, r.evidence, strict=True)), **neutral} for r in held]
    as_shipped = [np.array([v[f] for f in shipped_model().features]) for v in values]
    shipped = [
        dataclasses.replace(r, confidence=shipped_model().confidence(e)) for r, e in zip(held, as_shipped, strict=True)
    ]
    model = fit_model(fit, features)
    score(model, fit)
    model = dataclasses.replace(model, threshold=fit_threshold(fit))
    score(model, held)
    print(f"fitted on {len(fit)} rows; threshold {model.threshold} (≤3 % article, ≤5 % SQuAD answerable refused)")
    print("  " + json.dumps(dict(zip(features, [round(c, 3) for c in model.coef], strict=True))))
    print("\nheld out, as fitted here:")
    report(held, model.threshold)
    print("\nheld out, as shipped (qa/answering/answerability.json):")
    report(shipped, shipped_model().threshold)
    if args.write:
        print(f"\nwrote {fitted.write('answerability', model.to_json(), AnswerabilityModel.from_fields)}")
    if args.plot:
        plot(held, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
