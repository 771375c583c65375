"""Choose how the reader moves the ranking (``qa/answering/reading.json``) on the validation questions.

    .venv/bin/python -m benchmarks.fit_reading [--bench ../shared/bench] [--write]

Validation only: the answerable questions of ``../shared/bench`` (article-dev on the article, each
SQuAD dev article on itself). Every question is prepared and searched once; the reader reads the best
sentences of its top candidates once, at the largest budget tried (its scores are kept and looked up
for the smaller budgets, which read a subset of the same sentences). Each setting of ``ReaderUse`` —
how many candidates, how many sentences of each, the weight of the reader's probability in the rank
score and in the choice of the highlight — is then scored by hit@1 and highlight@1, the mean over the
seven sets weighting the article like each SQuAD article, and by its cost: the pairs read a question
on average. The ten best settings are then tried with each gate (read only the questions whose two
best candidates are closer than the gate). Chosen: the cheapest setting within ``TIE`` of the best.
Printed: every setting, the settings no cheaper one beats (quality against cost), the chosen one and,
for comparison, the ranking without the reader; ``benchmarks/eval_reader.py --speed`` times a pair.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.common import ARTICLE
from qa.answering import fitted
from qa.answering.conversation import Reading
from qa.answering.engine import Engine
from qa.answering.rank import Ranker
from qa.answering.reading import ReaderUse
from qa.evaluate import Question, first_hit_rank, highlight_hit, read_questions
from qa.models.embedders import make_embedder, make_reader
from qa.models.reader import Reader, ReaderSettings

PASSAGES = (1, 2, 3, 5)
SENTENCES = (1, 2, 3)
WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)
HIGHLIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)
GATES = (0.0, 1.0, 0.5, 0.3, 0.2, 0.1)  # 0: read every question
TIE = 0.002  # a setting this close to the best (hit@1 + highlight@1) that reads fewer pairs is preferred


class KeptReader:
    """The reader, each (question, text) scored once and kept: smaller budgets read a subset."""

    def __init__(self, inner: Reader) -> None:
        self.inner = inner
        self.kept: dict[tuple[str, str], float] = {}
        self.pairs = 0  # pairs asked for (kept or not): what the setting would cost

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def settings(self) -> ReaderSettings:
        return self.inner.settings

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        self.pairs += len(texts)
        missing = [t for t in dict.fromkeys(texts) if (question, t) not in self.kept]
        if missing:
            for text, logit in zip(missing, self.inner.score(question, missing), strict=True):
                self.kept[(question, text)] = float(logit)
        return np.array([self.kept[(question, t)] for t in texts], dtype=np.float32)


@dataclass
class Case:
    """One validation question as the engine read it."""

    set: str
    engine: Engine
    question: Question
    doc: str
    reading: Reading
    text: str


def cases(bench: Path, reader: KeptReader) -> list[Case]:
    embedder = make_embedder()
    out: list[Case] = []
    sets = [(ARTICLE, bench / "article-dev.questions.jsonl", "article-dev")]
    sets += [(p, p.with_suffix(".questions.jsonl"), p.stem) for p in sorted((bench / "squad-dev").glob("*.txt"))]
    for corpus, questions, name in sets:
        engine = Engine.open([corpus], embedder=embedder, use_reader=False)
        rows = [q for q in read_questions(questions) if q.answers]
        prepared = engine.prepare([q.q for q in rows], [q.history for q in rows])
        for q, asked in zip(rows, prepared, strict=True):
            doc = q.doc or engine.documents[0].name
            out.append(Case(name, engine, q, doc, engine.read(asked), asked.text))
    return out


def evaluate(
    all_cases: Sequence[Case], reader: KeptReader | None, use: ReaderUse | None
) -> dict[str, tuple[float, float]]:
    """hit@1 and highlight@1 of each set (and their mean over sets) with the reader used as ``use``."""
    rankers: dict[int, Ranker] = {}
    per_set: dict[str, list[tuple[bool, bool]]] = {}
    for case in all_cases:
        key = id(case.engine)
        if key not in rankers:
            rankers[key] = Ranker(case.engine.index, case.engine.texts, reader=reader, use=use)
        r = case.reading
        answer = rankers[key].rank(r.found, case.question.q, 1, context=r.around, follow=r.follow, read_as=case.text)
        hit = first_hit_rank(answer, case.question.answers, case.doc) == 1
        per_set.setdefault(case.set, []).append((hit, highlight_hit(answer, case.question.answers, case.doc)))
    table = {
        name: (float(np.mean([h for h, _ in v])), float(np.mean([x for _, x in v]))) for name, v in per_set.items()
    }
    table["mean"] = (float(np.mean([v[0] for v in table.values()])), float(np.mean([v[1] for v in table.values()])))
    return table


@dataclass
class Scored:
    """One setting's validation figures and cost (pairs read a question, on average)."""

    use: ReaderUse
    table: dict[str, tuple[float, float]]
    cost: float

    @property
    def quality(self) -> float:
        return self.table["mean"][0] + self.table["mean"][1]

    def line(self) -> str:
        hit, light = self.table["mean"]
        return f"hit@1 {hit:.3f}, highlight@1 {light:.3f}, {self.cost:.2f} pairs a question ({self.use})"


def scored(all_cases: Sequence[Case], reader: KeptReader, use: ReaderUse) -> Scored:
    before = reader.pairs
    table = evaluate(all_cases, reader, use)
    result = Scored(use, table, (reader.pairs - before) / len(all_cases))
    print(f"  {result.line()}", flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("fit_reading", __doc__)
    parser.add_argument("--write", action="store_true", help=f"save the chosen setting to {fitted.path_of('reading')}")
    args = parser.parse_args(argv)
    inner = make_reader(notice=lambda line: print(f"notice: {line}"))
    if inner is None:
        raise SystemExit("fit_reading: no reader to fit (its weights are missing: run `make train-reader`)")
    reader = KeptReader(inner)
    all_cases = cases(args.bench, reader)
    print(f"{len(all_cases)} answerable validation questions")
    base = evaluate(all_cases, None, None)
    print(f"without the reader: hit@1 {base['mean'][0]:.3f}, highlight@1 {base['mean'][1]:.3f}")
    evaluate(all_cases, reader, ReaderUse(max(PASSAGES), max(SENTENCES), 1.0, 1.0))  # read the largest budget once
    results = []
    for passages, sentences, weight, highlight in itertools.product(PASSAGES, SENTENCES, WEIGHTS, HIGHLIGHTS):
        results.append(scored(all_cases, reader, ReaderUse(passages, sentences, weight, highlight)))
    results.sort(key=lambda r: (-r.quality, r.cost))
    for gate in GATES[1:]:  # the gates, on the ten best settings read for every question
        results += [scored(all_cases, reader, dataclasses.replace(r.use, gate=gate)) for r in results[:10]]
    print("\nquality against cost (the best setting at each cost, and each gate's best):")
    shown: set[tuple[float, float]] = set()
    for r in sorted(results, key=lambda r: r.cost):
        better = [o for o in results if o.cost <= r.cost and o.quality > r.quality]
        if not better and (r.cost, r.quality) not in shown:  # the first of settings that score alike
            shown.add((r.cost, r.quality))
            print(f"  {r.line()}")
    top = max(r.quality for r in results)
    best = min((r for r in results if r.quality >= top - TIE), key=lambda r: (r.cost, -r.quality))
    print(f"\nchosen: {best.line()}")
    for name in sorted(best.table):
        hit, light = best.table[name]
        print(f"  {name:22s} hit@1 {base[name][0]:.3f} → {hit:.3f}   highlight@1 {base[name][1]:.3f} → {light:.3f}")
    if args.write:
        print(f"wrote {fitted.write('reading', best.use.to_json(), ReaderUse.from_fields)}")


if __name__ == "__main__":
    main()
