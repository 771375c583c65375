"""The one entry point: an ``Engine`` over a corpus answers questions with ranked, verbatim passages.

    engine = Engine.open(["corpus"])
    answer = engine.ask("What did GAC Group launch together with Huawei Qiankun?", k=5)
    answer.to_json()

A question goes: check it → cut it to what the model reads → embed it → search the index → rank.
The CLI, the Gradio app, the evaluation and the benchmarks all go through here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import embedders, settings
from .corpus import Corpus, Document, load_corpus
from .embed import Embedder, Progress
from .errors import QuestionError
from .index import IndexConfig, SearchIndex
from .lexical import terms
from .passages import Passage
from .rank import Ranker, check_fusion
from .results import Answer
from .search import Candidates, Query, search
from .store import Notice, StoredIndex, open_index

DEFAULT_CORPUS = "corpus"
DEFAULT_K = 5


class Engine:
    """Answers questions from one corpus; build it with ``Engine.open``. Safe to share across threads."""

    def __init__(self, corpus: Corpus, index: SearchIndex, embedder: Embedder, stored: StoredIndex | None = None):
        self.corpus = corpus
        self.index = index
        self.embedder = embedder
        self.stored = stored
        self.texts = {doc.name: doc.text for doc in corpus.documents}
        self.ranker = Ranker(index, self.texts)

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
        model_ = embedder or embedders.make_embedder(model, settings.models_dir(index_dir), notice=notice)
        stored = open_index(docs, paths, model_, config, index_dir, notice, progress, force=rebuild)
        return cls(docs, stored.index, model_, stored)

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
        check_fusion(fusion)
        for question in questions:
            check_question(question)
        cut = [self.embedder.truncate(q) for q in questions]
        vectors = self.embedder.encode([text for text, _ in cut])
        return [
            self.ranker.rank(self.candidates(text, vector), question, k, fusion=fusion, truncated=truncated)
            for question, (text, truncated), vector in zip(questions, cut, vectors, strict=True)
        ]

    def candidates(self, text: str, vector: np.ndarray) -> Candidates:
        """Candidate passages and their features for a question read as ``text`` and embedded as ``vector``."""
        return search(self.index, Query(vector, terms(text)))


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
