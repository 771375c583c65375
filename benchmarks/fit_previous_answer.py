"""Choose how a follow-up reads the previous answer (``conversation.json``, its ``previous_answer``).

    .venv/bin/python -m benchmarks.fit_previous_answer [--bench ../shared/bench] [--write]

Each follow-up's previous answer is the engine's own answer to the turn before (as the chat shows it).
A setting says how much the previous answer's sentence vector weighs in the context (``weight``), how
many of its rarest terms join the context's terms (``terms``), and whether its passage (and how many
neighbours on each side) join the candidates (``neighbours``, -1 for none). Chosen on the fit half of
the dialogues (``dialogues-article-a`` and the odd SQuAD dialogues, as ``fit_conversation`` splits
them) by hit@1 of the answerable follow-ups; reported on the held-out dialogues (``dialogues-article-b``
and the even SQuAD dialogues, and the dialogues written for this step: ``dialogues-article-c`` and
``dialogues-squad-b``), by kind of turn, against reading without the previous answer.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.common import DATA, ROOT
from benchmarks.fit_conversation import halves
from qa.answering import fitted
from qa.answering.conversation import AnswerUse, parse_conversation
from qa.answering.engine import Engine
from qa.answering.question import Asked
from qa.evaluate import Question, first_hit_rank, highlight_hit, read_questions
from qa.models.embedders import make_embedder

WEIGHTS = (0.0, 0.5, 1.0, 2.0)
TERMS = (0, 3, 6)
NEIGHBOURS = (-1, 0, 1)
NONE = AnswerUse(0.0, 0, -1)


@dataclass
class Case:
    part: str
    engine: Engine
    question: Question
    asked: Asked
    depends: bool


def cases(part: str, engine: Engine, questions: Sequence[Question], depends: set[str]) -> list[Case]:
    followed = [q for q in questions if q.history]
    prepared = engine.prepare([q.q for q in followed], [q.history for q in followed])
    return [Case(part, engine, q, a, q.id in depends) for q, a in zip(followed, prepared, strict=True)]


def outcomes(case: Case, use: AnswerUse) -> tuple[bool, bool, bool]:
    """(hit@1, highlight@1, answered) of one follow-up read with ``use``."""
    engine, asked = case.engine, case.asked
    reading = engine.read(asked, use)
    answer = engine.ranker.rank(
        reading.found, asked.question, 1, context=reading.around, follow=reading.follow, read_as=asked.text
    )
    doc = case.question.doc or engine.documents[0].name
    gold = case.question.answers
    return first_hit_rank(answer, gold, doc) == 1, highlight_hit(answer, gold, doc), answer.answered


def table(data: Sequence[Case], use: AnswerUse) -> dict[str, tuple[float, float, float, float, int, int]]:
    """Per part and kind: hit@1, highlight@1, answerable wrongly refused, unanswerable refused, n+n."""
    groups: dict[str, list[tuple[Case, tuple[bool, bool, bool]]]] = {}
    for case in data:
        result = outcomes(case, use)
        kind = "switch" if case.question.kind == "switch" else "follow-up"
        for name in (f"{case.part} {kind}", *([f"{case.part} on the answer"] if case.depends else [])):
            groups.setdefault(name, []).append((case, result))
    out = {}
    for name, rows in sorted(groups.items()):
        answerable = [r for c, r in rows if c.question.answers]
        unanswerable = [r for c, r in rows if not c.question.answers]
        out[name] = (
            mean([r[0] for r in answerable]),
            mean([r[1] for r in answerable]),
            mean([not r[2] for r in answerable]),
            mean([not r[2] for r in unanswerable]),
            len(answerable),
            len(unanswerable),
        )
    return out


def mean(values: Sequence[bool]) -> float:
    return float(np.mean(values)) if values else float("nan")


def show(rows: dict[str, tuple[float, float, float, float, int, int]]) -> None:
    for name, (hit, light, wrong, refused, n, m) in rows.items():
        print(f"  {name:34s} hit@1 {hit:.3f} hl@1 {light:.3f} wrongly refused {wrong:.3f} "
              f"unanswerable refused {refused:.3f} (n={n}+{m})")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("fit_previous_answer", __doc__)
    parser.add_argument("--write", action="store_true", help=f"save the choice to {fitted.path_of('conversation')}")
    args = parser.parse_args(argv)
    embedder = make_embedder()
    fit_half, held_half = halves(args.bench)
    engines: dict[Path, Engine] = {}

    def engine(path: Path) -> Engine:
        if path not in engines:
            engines[path] = Engine.open([path], embedder=embedder)
        return engines[path]

    new_article = read_questions(DATA / "dialogues-article-c.questions.jsonl")
    new_squad = read_questions(DATA / "dialogues-squad-b.questions.jsonl")
    depends = {
        json.loads(line)["id"]
        for name in ("dialogues-article-c", "dialogues-squad-b")
        for line in (DATA / f"{name}.questions.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line).get("depends_on_answer")
    }
    fit = [c for path, qs in fit_half for c in cases("fit", engine(path), qs, depends)]
    held = []
    for i, (path, qs) in enumerate(held_half):
        held += cases("article-b" if i == 0 else "squad", engine(path), qs, depends)
    held += cases("article-c", engine(ROOT / "corpus"), new_article, depends)
    for doc in sorted({q.doc for q in new_squad if q.doc}):
        held += cases(
            "squad-b", engine(args.bench / "squad-dev" / doc), [q for q in new_squad if q.doc == doc], depends
        )
    answerable = [c for c in fit if c.question.answers and c.question.kind != "switch"]
    print(f"fit on {len(answerable)} answerable follow-ups; held out {len(held)} turns with history")
    scored = []
    for weight, terms, neighbours in itertools.product(WEIGHTS, TERMS, NEIGHBOURS):
        use = AnswerUse(weight, terms, neighbours)
        hits = float(np.mean([outcomes(c, use)[0] for c in answerable]))
        scored.append((hits, -(weight + terms + neighbours), use))
        print(f"  {use}: hit@1 {hits:.3f}", flush=True)
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)  # the best; the lightest at a tie
    best = scored[0][2]
    print(f"\nchosen: {best}")
    print("\nheld out, without the previous answer:")
    show(table(held, NONE))
    print(f"\nheld out, with the previous answer ({best}):")
    show(table(held, best))
    if args.write:
        current = json.loads(fitted.path_of("conversation").read_text(encoding="utf-8"))
        current["previous_answer"] = best.to_json()
        print(f"wrote {fitted.write('conversation', current, parse_conversation)}")


if __name__ == "__main__":
    main()
