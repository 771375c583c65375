"""The questions whose answer the reader changes: each answerable question of the files, asked of the
article with the reader and without it; printed where the first passage or its highlight goes from
right to wrong or back (docs/quality.md, "what it gets right and wrong").

    .venv/bin/python -m benchmarks.reader_changes benchmarks/data/article-heldout.questions.jsonl ...
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import ARTICLE
from qa.answering.engine import Engine
from qa.evaluate import first_hit_rank, highlight_hit, read_questions
from qa.models.embedders import make_embedder


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reader_changes", description=__doc__.split("\n")[0])
    parser.add_argument("questions", type=Path, nargs="+", help="question files on the article")
    args = parser.parse_args(argv)
    embedder = make_embedder()
    with_reader = Engine.open([ARTICLE], embedder=embedder)
    if with_reader.reader is None:
        raise SystemExit("reader_changes: no reader (its weights are missing: run `make train-reader`)")
    without = Engine.open([ARTICLE], embedder=embedder, use_reader=False)
    for path in args.questions:
        for q in (q for q in read_questions(path) if q.answers):
            doc = q.doc or ARTICLE.name
            before, after = without.ask(q.q, history=q.history), with_reader.ask(q.q, history=q.history)
            right = [(first_hit_rank(a, q.answers, doc) == 1, highlight_hit(a, q.answers, doc))
                     for a in (before, after)]  # fmt: skip
            if right[0] == right[1]:
                continue
            print(f"\n{path.name}: {q.q}" + (f"  (after {list(q.history)})" if q.history else ""))
            for name, answer, (hit, light) in (("without", before, right[0]), ("with", after, right[1])):
                top = answer.hits[0]
                read = ", ".join("–" if h.reader is None else f"{h.reader:.2f}" for h in answer.hits[:2])
                print(f"  {name:7s} hit@1 {hit!s:5} highlight {light!s:5} reader [{read}]: {top.highlight.text[:160]}")


if __name__ == "__main__":
    main()
