"""Index build and question cost against plain PyTorch sentence-transformers, measured in one run.

    .venv/bin/python -m benchmarks.build_speed [--bench ../shared/bench] [--repeats 3]

Corpus: the article and the six SQuAD dev articles. Measured one after the other, in this process,
each the median of ``--repeats`` runs:

* **reference**: PyTorch sentence-transformers (same model) encoding the same files cut into
  400-character chunks, batch 32 — what a plain pipeline pays to embed this corpus;
* **qa index**: ``open_index`` into an empty folder with the model loaded and its ONNX export cached
  (splitting, embedding passages and sentences, FAISS, BM25, writing the folder), for each precision;
* **a warm question's marginal cost** in ``qa ask --questions``: (time to answer all the bench questions
  of the article and SQuAD in one ``ask_many`` − time for the first 10) / the questions between, against
  one PyTorch query forward pass (``model.forward`` of one tokenised question, no_grad).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.common import ARTICLE, median_of


def build(corpus: Any, files: Sequence[Path], embedder: Any) -> None:
    """``qa index`` into an empty folder (the model loaded, its export cached)."""
    from qa.retrieval.store import open_index

    with tempfile.TemporaryDirectory() as folder:
        open_index(corpus, files, embedder, root=Path(folder))


def chunks(text: str, size: int = 400) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("build_speed", __doc__, repeats=3)
    parser.add_argument("--precisions", default="fp32,int8")
    args = parser.parse_args(argv)

    import torch

    from qa.answering.engine import Engine
    from qa.documents.corpus import load_corpus
    from qa.evaluate import read_questions
    from qa.models.embed_torch import SentenceTransformerEmbedder
    from qa.models.embedders import make_embedder

    files = [ARTICLE, *sorted((args.bench / "squad-dev").glob("*.txt"))]
    corpus = load_corpus(files)
    pieces = [c for d in corpus.documents for c in chunks(d.text)]
    question_files = [
        args.bench / "article-dev.questions.jsonl",
        *[p.with_suffix(".questions.jsonl") for p in files[1:]],
    ]
    questions = [q.q for f in question_files for q in read_questions(f)]
    print(f"`python -m benchmarks.build_speed {' '.join(sys.argv[1:])}`\n")
    print(
        f"Corpus: {len(corpus.documents)} documents, {sum(len(d.text) for d in corpus.documents):,} characters; "
        f"{len(pieces)} chunks of 400 characters; {len(questions)} questions. Load average at the start: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}.\n"
    )

    st = SentenceTransformerEmbedder().model
    st.encode(pieces[:32], batch_size=32, show_progress_bar=False)
    reference = median_of(args.repeats, partial(st.encode, pieces, batch_size=32, show_progress_bar=False))
    with torch.inference_mode():
        for q in questions[:10]:
            st.forward(st.preprocess([q]))
        forward = statistics.median([median_of(1, partial(st.forward, st.preprocess([q]))) for q in questions[:200]])
    print("| what | seconds (median) | × reference |")
    print("|---|---:|---:|")
    print(f"| reference: PyTorch sentence-transformers, 400-character chunks, batch 32 | {reference:.2f} | 1.00 |")
    rows = []
    for precision in args.precisions.split(","):
        os.environ["QA_PRECISION"] = precision
        embedder = make_embedder()
        embedder.encode(["warm up"])
        seconds = median_of(args.repeats, partial(build, corpus, files, embedder))
        label = f"`qa index`, {precision} (passages and sentences embedded)"
        print(f"| {label} | {seconds:.2f} | {seconds / reference:.2f} |", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            engine = Engine.open(files, embedder=embedder, index_dir=folder)
            engine.ask_many(questions[:20], 5)
            total = median_of(args.repeats, partial(engine.ask_many, questions, 5))
            first = median_of(args.repeats, partial(engine.ask_many, questions[:10], 5))
        rows.append((precision, (total - first) / (len(questions) - 10)))
    unit = f"× one PyTorch query forward ({forward * 1000:.2f} ms)"
    print(f"\n| a question's marginal cost in `qa ask --questions` | ms | {unit} |")
    print("|---|---:|---:|")
    for precision, marginal in rows:
        print(f"| {precision} | {marginal * 1000:.2f} | {marginal / forward:.2f} |")


if __name__ == "__main__":
    main()
