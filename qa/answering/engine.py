"""The one entry point: an ``Engine`` over a corpus answers questions with ranked, verbatim passages.

    engine = Engine.open(["corpus"])
    answer = engine.ask("What did GAC Group launch together with Huawei Qiankun?", k=5)
    answer.to_json()

A question goes: check it → cut it to what the model reads → embed it → read it in its conversation
→ search the index → rank. ``history`` (the earlier questions, oldest first) is data passed in, never
state kept here: the same question with the same history gets the same answer. The CLI, the Gradio
app, the evaluation and the benchmarks all go through here.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import settings
from ..documents.corpus import Corpus, Document, load_corpus
from ..documents.passages import Passage
from ..errors import QuestionError
from ..models import embedders
from ..models.embed import Embedder, Progress
from ..retrieval.index import IndexConfig, SearchIndex
from ..retrieval.search import Candidates, Query, search
from ..retrieval.store import Notice, StoredIndex, open_index
from .conversation import (
    MAX_TURNS,
    Names,
    Reading,
    follow_up,
    follows,
    make_context,
    resolve,
    shipped_gate,
)
from .rank import Ranker
from .results import Answer, ReadAs

DEFAULT_CORPUS = "corpus"
DEFAULT_K = 5
READ_AS_MIN = 0.5  # a question is said to follow an earlier one when the gate gives at least this and
# the conversation changed its best passage, or when it is an ellipsis read as the question it shortens
VECTOR_CACHE = 4096  # question vectors kept, so that a conversation's earlier questions are not embedded again


class Engine:
    """Answers questions from one corpus; build it with ``Engine.open``. Safe to share across threads."""

    def __init__(
        self,
        corpus: Corpus,
        index: SearchIndex,
        embedder: Embedder,
        stored: StoredIndex | None = None,
        vectors: VectorCache | None = None,
        index_dir: Path | str | None = None,
        fusion: str = "weighted",
    ) -> None:
        self.corpus = corpus
        self.index = index
        self.embedder = embedder
        self.stored = stored
        self.root = settings.index_root(index_dir)  # the index root: every cache of this engine's lives there
        self.texts = {doc.name: doc.text for doc in corpus.documents}
        self.ranker = Ranker(index, self.texts, fusion=fusion)  # the fitted score, or plain RRF to compare
        self.gate = shipped_gate()
        self._rows = {passage: row for row, passage in enumerate(index.passages)}
        self._names: Names | None = None  # the corpus's names, for reading an ellipsis (made when first needed)
        self._lock = threading.Lock()
        self.vectors = vectors or VectorCache(embedder, VECTOR_CACHE)  # engines of one model may share it

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
        fusion: str = "weighted",
    ) -> Engine:
        """Load the corpus and the model, then load (or build, or refresh) the index.

        ``fusion`` picks the ranking once: the fitted ``"weighted"`` score (default) or plain ``"rrf"``.
        """
        paths = list(corpus) if corpus else [DEFAULT_CORPUS]
        docs = load_corpus(paths, index_dir=index_dir)
        if notice is not None:
            for problem in docs.problems:
                notice(f"skipped {problem}")
        model_ = embedder or embedders.make_embedder(model, settings.models_dir(index_dir), notice=notice)
        stored = open_index(docs, paths, model_, config, index_dir, notice, progress, force=rebuild)
        return cls(docs, stored.index, model_, stored, index_dir=index_dir, fusion=fusion)

    @property
    def documents(self) -> tuple[Document, ...]:
        return self.corpus.documents

    @property
    def passages(self) -> tuple[Passage, ...]:
        return self.index.passages

    def document(self, name: str) -> Document:
        return self.corpus.document(name)

    def titles(self) -> dict[str, str]:
        """Each document's title line (its paragraph 0), where it has one."""
        return {p.doc: self.texts[p.doc][p.start : p.end] for p in self.passages if p.paragraph == 0}

    def ask(self, question: str, k: int = DEFAULT_K, *, history: Sequence[str] = ()) -> Answer:
        """The ``k`` passages that best answer ``question`` (all of them if ``k`` exceeds their number).

        ``history`` holds the earlier questions of the same conversation, oldest first.
        """
        return self.ask_many([question], k, histories=[history])[0]

    def ask_many(
        self,
        questions: Sequence[str],
        k: int = DEFAULT_K,
        *,
        histories: Sequence[Sequence[str]] | None = None,
    ) -> list[Answer]:
        """``ask`` for several questions (each with its own history), embedding them in one batch."""
        k = check_k(k)
        turns = [list(h) for h in histories] if histories is not None else [[] for _ in questions]
        if len(turns) != len(questions):
            raise QuestionError(f"{len(questions)} questions came with {len(turns)} histories; give one for each")
        for question, history in zip(questions, turns, strict=True):
            check_question(question)
            for earlier in history:
                check_question(earlier, "an earlier question of the conversation")
        # An ellipsis ("And the M8?") is read as the question it shortens, in the history as now; only
        # the turns the context keeps are read and embedded.
        read = [[self.resolve(h, t[:i]) for i, h in enumerate(t) if i >= len(t) - MAX_TURNS] for t in turns]
        own = [self.resolve(q, history) for q, history in zip(questions, turns, strict=True)]
        cut = {text: self.embedder.truncate(text) for text in {*own, *(h for t in read for h in t)}}
        vectors = self.vectors.get([cut[q][0] for q in own], [cut[h][0] for history in read for h in history])
        return [
            self._answer(q, o, h, r, k, cut, vectors) for q, o, h, r in zip(questions, own, turns, read, strict=True)
        ]

    def resolve(self, question: str, history: Sequence[str]) -> str:
        """``question`` as read in its conversation: an ellipsis spelled out, anything else as asked."""
        if not history:
            return question
        with self._lock:
            if self._names is None:
                self._names = Names(list(self.texts.values()))
        return resolve(question, history, self._names) or question

    def read(self, question: str, history: Sequence[str], vectors: dict[str, np.ndarray]) -> Reading:
        """The question (as the model reads it) with the context of its earlier questions, if any."""
        own = Query(vectors[question], self.index.lexical.terms(question))
        if not history:
            return Reading(own)
        return Reading(own, make_context(history, np.stack([vectors[h] for h in history]), self.index.lexical.terms))

    def candidates(self, text: str, vector: np.ndarray) -> Candidates:
        """Candidate passages and their features for a question read as ``text`` and embedded as ``vector``."""
        return search(self.index, Query(vector, self.index.lexical.terms(text)))

    def _answer(
        self,
        question: str,
        read_as: str,
        history: list[str],
        read: list[str],
        k: int,
        cut: dict[str, tuple[str, bool]],
        vectors: dict[str, np.ndarray],
    ) -> Answer:
        text, truncated = cut[read_as]
        reading = self.read(text, [cut[h][0] for h in read], vectors)
        if reading.context is None:
            return self.ranker.rank(search(self.index, reading.own), question, k, truncated=truncated)
        step = follow_up(self.index, self.ranker.weights, text, reading, reading.context)
        follow = self.gate.probability(step.cues)
        answer = self.ranker.rank(step.found, question, k, truncated=truncated, context=step.around, follow=follow)
        if not answer.hits:
            return answer
        spelled = read_as if read_as != question else None  # an ellipsis, read as the question it shortens
        unchanged = answer.hits[0].passage == self.index.passages[step.best_alone()]
        if spelled is None and (follow < READ_AS_MIN or unchanged):
            return answer  # the conversation changed neither the question nor its best passage
        row = self._rows[answer.hits[0].passage]
        turn = follows(reading.context, self.index.dense.vectors(row, row + 1)[0])
        turn += len(history) - len(reading.context.questions)  # the context keeps only the latest turns
        # The earlier question is shown as it was asked (an ellipsis too): it is the user's own words.
        return dataclasses.replace(answer, context=ReadAs(history[turn], turn + 1, follow, spelled))


class VectorCache:
    """Question vectors by text, the latest ``size`` kept, so that a conversation's earlier questions
    are not embedded again at every turn. New questions are always embedded (a question costs one
    forward pass, asked again or not); earlier ones are looked up, and embedded in the same batch
    when missing."""

    def __init__(self, embedder: Embedder, size: int) -> None:
        self._embedder = embedder
        self._size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, new: Sequence[str], earlier: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in earlier:
                if text in self._cache:
                    self._cache.move_to_end(text)
                    found[text] = self._cache[text]
        missing = [t for t in dict.fromkeys([*new, *earlier]) if t not in found]
        if missing:
            found.update(zip(missing, self._embedder.encode(missing), strict=True))
            with self._lock:
                for text in missing:
                    self._cache[text] = found[text]
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return found


def check_question(question: object, what: str = "the question") -> str:
    """The question if usable; else ``QuestionError`` saying what to ask instead."""
    if not isinstance(question, str):
        raise QuestionError(f"{what} must be text, not {type(question).__name__}")
    if not question.strip():
        raise QuestionError(f"{what} is empty; type a question about the article")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8, e.g. from a shell
        raise QuestionError(
            f"{what} holds bytes that are not valid UTF-8; type it again, or set the terminal to UTF-8"
        ) from None
    return question


def check_k(k: object) -> int:
    """``k`` if it is a whole number of at least 1; else ``QuestionError``."""
    if isinstance(k, bool) or not isinstance(k, int | float) or (isinstance(k, float) and not math.isfinite(k)):
        raise QuestionError(f"k must be a whole number of at least 1, not {k!r}")
    if int(k) != k or k < 1:
        raise QuestionError(f"k must be a whole number of at least 1, not {k!r}; ask for 1 or more passages")
    return int(k)
