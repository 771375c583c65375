"""The one entry point: an ``Engine`` over a corpus answers questions with ranked, verbatim passages.

    engine = Engine.open(["corpus"])
    answer = engine.ask("What did GAC Group launch together with Huawei Qiankun?", k=5)
    answer.to_json()

A question's trip, each step entered once and none calling back up: ``prepare`` checks it, reads it in
its conversation and cuts it to what the model reads (``question``), embeds it, and hands on one
``Asked`` record; ``conversation.read`` finds its candidates (``search``) and, for a follow-up, its
context and the gate's weight; ``Ranker.rank`` makes the ``Answer`` (``results``), which says which
earlier question it followed. ``history`` (the earlier questions, oldest first) is data passed in,
never state kept here: the same question with the same history gets the same answer. The CLI, the
Gradio app, the evaluation and the benchmarks all go through here."""

from __future__ import annotations

import bisect
import dataclasses
import math
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .. import settings
from ..documents.corpus import Corpus, Document, load_corpus
from ..documents.passages import Passage
from ..errors import QuestionError
from ..models import embedders
from ..models.embed import Embedder, Progress
from ..models.reader import Reader
from ..retrieval.index import IndexConfig, SearchIndex
from ..retrieval.store import Notice, StoredIndex, open_index
from ..storage import LRU, sweep
from . import conversation
from .conversation import AnswerUse, Reading, shipped_gate
from .question import MAX_TURNS, Asked, Names, check_question, check_turns, readings
from .rank import Ranker
from .results import Answer, ReadAs, Said, Span

DEFAULT_CORPUS = "corpus"
DEFAULT_K = 5
READ_AS_MIN = 0.5  # a question is said to follow an earlier one when the gate gives at least this and
# the conversation changed its best passage, or when it is an ellipsis read as the question it shortens
VECTOR_CACHE = 4096  # question vectors kept, so that a conversation's earlier questions are not embedded again
ANSWERS_KEPT = 4096  # answers kept by their question and history, so that a follow-up reads the one before it
Turn = str | Mapping[str, object]  # an earlier turn: its question, or {"q": ..., "answer": {"doc", "start", "end"}}


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
        reader: Reader | None = None,
    ) -> None:
        self.corpus = corpus
        self.index = index
        self.embedder = embedder
        self.stored = stored
        self.root = settings.index_root(index_dir)  # the index root: every cache of this engine's lives there
        self.texts = {doc.name: doc.text for doc in corpus.documents}
        self.reader = reader  # reads the question with the best candidate sentences (None: ranked without)
        self.ranker = Ranker(index, self.texts, fusion=fusion, reader=reader)  # the fitted score, or plain RRF
        self.gate = shipped_gate()
        self._rows = {passage: row for row, passage in enumerate(index.passages)}
        self._starts: dict[str, tuple[list[int], list[int]]] = {}  # each document's passage starts and rows
        for row, passage in sorted(enumerate(index.passages), key=lambda rp: (rp[1].doc, rp[1].start)):
            starts, rows = self._starts.setdefault(passage.doc, ([], []))
            starts.append(passage.start)
            rows.append(row)
        self._names: Names | None = None  # the corpus's names, for reading an ellipsis (made when first needed)
        self._lock = threading.Lock()
        self.vectors = vectors or VectorCache(embedder, VECTOR_CACHE)  # engines of one model may share it
        # Each turn's answer by its conversation, for the turn after it: answers are a pure function of it.
        self.answered: LRU[tuple[tuple[str, Said | None], ...], Said | None] = LRU(ANSWERS_KEPT)

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
        reader: Reader | None = None,
        use_reader: bool = True,
    ) -> Engine:
        """Load the corpus and the model, then load (or build, or refresh) the index.

        ``fusion`` picks the ranking once: the fitted ``"weighted"`` score (default) or plain ``"rrf"``.
        The shipped reader is loaded unless ``reader`` is given or ``use_reader`` is False.
        """
        paths = list(corpus) if corpus else [DEFAULT_CORPUS]
        sweep(settings.index_root(index_dir))  # the temporary files a killed build or export left behind
        docs = load_corpus(paths, index_dir=index_dir)
        if notice is not None:
            for problem in docs.problems:
                notice(f"skipped {problem}")
        model_ = embedder or embedders.make_embedder(model, settings.models_dir(index_dir), notice=notice)
        stored = open_index(docs, paths, model_, config, index_dir, notice, progress, force=rebuild)
        if reader is None and use_reader and fusion == "weighted":
            reader = embedders.make_reader(settings.models_dir(index_dir), notice)
        return cls(docs, stored.index, model_, stored, index_dir=index_dir, fusion=fusion, reader=reader)

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

    def ask(self, question: str, k: int = DEFAULT_K, *, history: Sequence[Turn] = ()) -> Answer:
        """The ``k`` passages that best answer ``question`` (all of them if ``k`` exceeds their number).

        ``history`` holds the earlier turns of the same conversation, oldest first: each a question, or
        ``{"q": question, "answer": {"doc": ..., "start": ..., "end": ...}}`` with what it was answered
        (the highlighted sentence); an answer left out is answered again (and kept, for the next turn).
        """
        return self.ask_many([question], k, histories=[history])[0]

    def ask_many(
        self, questions: Sequence[str], k: int = DEFAULT_K, *, histories: Sequence[Sequence[Turn]] | None = None
    ) -> list[Answer]:
        """``ask`` for several questions (each with its own history), embedding them in one batch."""
        k = check_k(k)
        prepared = self.prepare(questions, histories)
        answers = [self.answer(asked, k) for asked in prepared]
        for asked, answer in zip(prepared, answers, strict=True):
            self.answered.put(asked.key, answer.said())
        return answers

    def prepare(self, questions: Sequence[str], histories: Sequence[Sequence[Turn]] | None = None) -> list[Asked]:
        """Each question checked, read in its conversation, cut to what the model reads and embedded
        (all in one batch), with the earlier questions its context keeps and what the turn before it
        answered: the record it travels as."""
        given = [check_turns(h) for h in histories] if histories is not None else [((), ()) for _ in questions]
        if len(given) != len(questions):
            raise QuestionError(f"{len(questions)} questions came with {len(given)} histories; give one for each")
        turns = [questions_ for questions_, _ in given]
        for question in questions:
            check_question(question)
        # An ellipsis ("And the M8?") is read as the question it shortens, in the history as now.
        read_as = [
            readings(q, h, self._corpus_names()) if h else (q, ()) for q, h in zip(questions, turns, strict=True)
        ]
        cut = {text: self.embedder.truncate(text) for own, earlier in read_as for text in (own, *earlier)}
        vectors = self.vectors.get(
            [cut[own][0] for own, _ in read_as], [cut[h][0] for _, earlier in read_as for h in earlier]
        )
        prepared = []
        for question, history, (own, earlier) in zip(questions, turns, read_as, strict=True):
            text, truncated = cut[own]
            texts = tuple(cut[h][0] for h in earlier)
            stacked = (
                np.stack([vectors[h] for h in texts]) if texts else np.empty((0, self.embedder.dimension), np.float32)
            )
            first = len(history) - len(earlier)  # the earlier questions the context keeps start here
            asked = Asked(question, own, text, truncated, vectors[text], history[first:], texts, stacked, first)
            prepared.append(asked)
        return [self._with_previous(a, h, s) for a, (h, s) in zip(prepared, given, strict=True)]

    def _with_previous(self, asked: Asked, history: tuple[str, ...], said: tuple[Said | None, ...]) -> Asked:
        """``asked`` with what the turn before it answered: as the caller gave it, or answered again."""
        key = tuple(zip(history, said, strict=True))
        asked = dataclasses.replace(asked, key=(*key, (asked.question, None)))
        if not history:
            return asked
        previous = said[-1]
        if previous is None:
            previous = self.answered.get(key)
        if previous is None and key not in self.answered:
            earlier = [{"q": q, "answer": a.to_json() if a else None} for q, a in key[:-1]][-2 * MAX_TURNS :]
            previous = self.ask(history[-1], 1, history=earlier).said()
            self.answered.put(key, previous)
        return dataclasses.replace(asked, previous=previous, previous_rows=self._locate(previous))

    def _locate(self, said: Said | None) -> tuple[int, int] | None:
        """The passage row and sentence row of this index that hold the start of ``said`` (None: not here)."""
        if said is None or said.doc not in self._starts:
            return None
        starts, rows = self._starts[said.doc]
        at = bisect.bisect_right(starts, said.start) - 1
        if at < 0:
            return None
        row = rows[at]
        passage = self.passages[row]
        if not passage.start <= said.start < passage.end:
            return None  # between two passages (a caption, a heading): no passage said it
        j = next((j for j, (s, e) in enumerate(passage.sentences) if s <= said.start < e), 0)
        return row, int(self.index.sentence_offsets[row]) + j

    def read(self, asked: Asked, use: AnswerUse | None = None) -> Reading:
        """How the engine reads a prepared question: its candidates with their features, and for a
        follow-up its context (with the previous answer, as ``use`` says) and the gate's weight (what
        the fit scripts fit on)."""
        return conversation.read(self.index, self.ranker.weights, self.gate, asked, use)

    def answer(self, asked: Asked, k: int = DEFAULT_K) -> Answer:
        """The ``Answer`` to a prepared question: read, ranked, and tied to the earlier question it followed."""
        k = check_k(k)
        reading = self.read(asked)
        answer = self.ranker.rank(
            reading.found,
            asked.question,
            k,
            truncated=asked.truncated,
            context=reading.around,
            follow=reading.follow,
            read_as=asked.text,
        )
        if reading.context is None or not answer.hits:
            return answer
        spelled = asked.read_as if asked.read_as != asked.question else None  # an ellipsis, read as it shortens
        unchanged = answer.hits[0].passage == self.index.passages[reading.best_alone]
        if spelled is None and (reading.follow < READ_AS_MIN or unchanged):
            return answer  # the conversation changed neither the question nor its best passage
        # The thread it took: the earlier question closest to the answer's top passage.
        row = self._rows[answer.hits[0].passage]
        closest = int(np.argmax(reading.context.vectors @ self.index.dense.vectors(row, row + 1)[0]))
        # The earlier question is shown as it was asked (an ellipsis too): it is the user's own words.
        place = asked.first_turn + closest + 1
        turn = ReadAs(asked.earlier[closest], place, reading.follow, spelled, self._said(reading))
        return dataclasses.replace(answer, context=turn)

    def _said(self, reading: Reading) -> Span | None:
        """The previous answer's sentence, when the follow-up's context was read with it."""
        if reading.context is None or reading.context.answer is None:
            return None
        passage, sentence = reading.context.answer
        start, end = self.passages[passage].sentences[sentence - int(self.index.sentence_offsets[passage])]
        return Span(start, end, self.texts[self.passages[passage].doc][start:end])

    def _corpus_names(self) -> Names:
        """The corpus's names, for reading an ellipsis (made when first needed)."""
        with self._lock:
            if self._names is None:
                self._names = Names(list(self.texts.values()))
            return self._names


class VectorCache:
    """Question vectors by text, the latest ``size`` kept, so that a conversation's earlier questions
    are not embedded again at every turn. New questions are always embedded (a question costs one
    forward pass, asked again or not); earlier ones are looked up, and embedded in the same batch
    when missing."""

    def __init__(self, embedder: Embedder, size: int) -> None:
        self._embedder = embedder
        self._cache: LRU[str, np.ndarray] = LRU(size)

    def get(self, new: Sequence[str], earlier: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for text in earlier:
            vector = self._cache.get(text)
            if vector is not None:
                found[text] = vector
        missing = [t for t in dict.fromkeys([*new, *earlier]) if t not in found]
        if missing:
            found.update(zip(missing, self._embedder.encode(missing), strict=True))
            for text in missing:
                self._cache.put(text, found[text])
        return found


def check_k(k: object) -> int:
    """``k`` if it is a whole number of at least 1; else ``QuestionError``."""
    if isinstance(k, bool) or not isinstance(k, int | float) or (isinstance(k, float) and not math.isfinite(k)):
        raise QuestionError(f"k must be a whole number of at least 1, not {k!r}")
    if int(k) != k or k < 1:
        raise QuestionError(f"k must be a whole number of at least 1, not {k!r}; ask for 1 or more passages")
    return int(k)
