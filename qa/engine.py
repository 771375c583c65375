"""The one entry point: an ``Engine`` over a corpus answers questions with ranked, verbatim passages.

    engine = Engine.open(["corpus"])
    answer = engine.ask("What did GAC Group launch together with Huawei Qiankun?", k=5)
    answer.to_json()

The CLI, the Gradio app and the benchmarks all go through it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .corpus import Corpus, Document, load_corpus
from .embed import CoalescingEmbedder, Embedder, Progress, make_embedder
from .errors import QuestionError
from .lexical import terms
from .passages import Passage
from .search import (
    FUSIONS,
    Answer,
    AnswerRule,
    Candidates,
    Highlight,
    Hit,
    RankWeights,
    gather,
    is_answered,
    reciprocal_rank_fusion,
    top_ids,
)
from .store import IndexConfig, Notice, StoredIndex, index_root, open_index

DEFAULT_CORPUS = "corpus"
DEFAULT_K = 5


class Engine:
    """Answers questions from one corpus; build it with ``Engine.open``. Safe to share across threads."""

    def __init__(self, corpus: Corpus, index: StoredIndex, embedder: Embedder) -> None:
        self.corpus = corpus
        self.index = index
        self.embedder = embedder
        # Questions asked at the same time by several threads (the app) share one forward pass.
        self._queries = CoalescingEmbedder(embedder)
        self.weights = RankWeights()
        self.rule = AnswerRule()
        self._texts = {doc.name: doc.text for doc in corpus.documents}
        self._sentence_spans = [span for p in index.passages for span in p.sentences]

    @classmethod
    def open(
        cls,
        corpus: Sequence[Path | str] | None = None,
        *,
        model: str | None = None,
        index_dir: Path | str | None = None,
        config: IndexConfig | None = None,
        embedder: Embedder | None = None,
        notice: Notice | None = None,
        progress: Progress | None = None,
        rebuild: bool = False,
    ) -> Engine:
        """Load the corpus and the model, then load (or build, or refresh) the index."""
        paths = list(corpus) if corpus else [DEFAULT_CORPUS]
        docs = load_corpus(paths)
        if notice is not None:
            for problem in docs.problems:
                notice(f"skipped {problem}")
        model_ = embedder or make_embedder(model, index_root(index_dir) / "models", notice=notice)
        stored = open_index(docs, paths, model_, config, index_dir, notice, progress, force=rebuild)
        return cls(docs, stored, model_)

    @property
    def documents(self) -> tuple[Document, ...]:
        return self.corpus.documents

    @property
    def passages(self) -> tuple[Passage, ...]:
        return self.index.passages

    def document(self, name: str) -> Document:
        return self.corpus.document(name)

    def ask(self, question: str, k: int = DEFAULT_K, *, fusion: str = "weighted") -> Answer:
        """The ``k`` passages that best answer ``question`` (all of them if ``k`` exceeds their number).

        ``fusion`` picks the ranking: the fitted ``"weighted"`` score (default) or plain ``"rrf"``.
        """
        return self.ask_many([question], k, fusion=fusion)[0]

    def ask_many(self, questions: Sequence[str], k: int = DEFAULT_K, *, fusion: str = "weighted") -> list[Answer]:
        """``ask`` for several questions, embedding them in one batch."""
        k = check_k(k)
        if fusion not in FUSIONS:
            raise QuestionError(f"fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
        for question in questions:
            check_question(question)
        if not questions:
            return []
        cut = [self.embedder.truncate(q) for q in questions]
        vectors = self._queries.encode([text for text, _ in cut])
        return [
            self.answer(question, text, vector, k, fusion=fusion, truncated=truncated)
            for question, (text, truncated), vector in zip(questions, cut, vectors, strict=True)
        ]

    def candidates(self, text: str, vector: np.ndarray) -> Candidates:
        """Candidate passages and their features for a question (used by ``ask`` and by weight fitting)."""
        return gather(self.index, vector, terms(text))

    def answer(
        self, question: str, text: str, vector: np.ndarray, k: int, *, fusion: str = "weighted", truncated: bool = False
    ) -> Answer:
        """Rank passages for ``question``, whose text as the model read it is ``text``, embedded as ``vector``."""
        found = self.candidates(text, vector)
        weighted = found.scores(self.weights)
        scores = weighted if fusion == "weighted" else reciprocal_rank_fusion(found.dense, found.lexical)
        order = top_ids(scores, k)
        hits = [self._hit(r, found, int(i), float(scores[i])) for r, i in enumerate(order, start=1)]
        # The rule reads the weighted score of the passage ranked first, whatever ranked it.
        answered = bool(hits) and is_answered(float(weighted[order[0]]), self.rule)
        return Answer(question=question, answered=answered, hits=tuple(hits), truncated=truncated)

    def _hit(self, rank_: int, found: Candidates, i: int, score: float) -> Hit:
        passage = self.index.passages[int(found.ids[i])]
        text = self._texts[passage.doc]
        start, end = self._sentence_spans[found.highlight_row(i)]
        return Hit(
            rank=rank_,
            score=score,
            passage=passage,
            text=text[passage.start : passage.end],
            highlight=Highlight(start, end, text[start:end]),
        )


def check_question(question: object) -> str:
    """The question if usable; else ``QuestionError`` saying what to ask instead."""
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    if not question.strip():
        raise QuestionError("the question is empty; type a question about the article")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8, e.g. from a shell
        raise QuestionError(
            "the question holds bytes that are not valid UTF-8; type it again, or set the terminal to UTF-8"
        ) from None
    return question


def check_k(k: object) -> int:
    """``k`` if it is a whole number of at least 1; else ``QuestionError``."""
    if isinstance(k, bool) or not isinstance(k, int | float) or (isinstance(k, float) and not math.isfinite(k)):
        raise QuestionError(f"k must be a whole number of at least 1, not {k!r}")
    if int(k) != k or k < 1:
        raise QuestionError(f"k must be a whole number of at least 1, not {k!r}; ask for 1 or more passages")
    return int(k)
