"""Read a question in its conversation: a follow-up takes its subject from the earlier questions.

"What is the Zhijie X9?" then "How much will it cost?": the second question alone names no car. The
earlier questions (oldest first, passed in as data) become a *context*: their vectors mixed turn by
turn (each turn weighs as much as all before it together) and their most recent terms. A follow-up
is searched twice, as itself and as its context, over the union of both candidate lists; each
candidate gets both feature sets (``search.features``), and ``rank`` scores it with weights fitted on
follow-up turns. A *gate* — a small logistic model over cues such as pronouns, an opening "and" or
"what about", new rare terms and how well the question alone is answered — says how much the question
depends on its context, so that a question naming its own new subject is read on its own.

An ellipsis — "And the M8?", "what about Baojun?" — is first read as the question it shortens: the
previous question (itself read that way) with its name of the same kind (one with a digit for one
with a digit) swapped for the new one, "How many the M8 were sold in August?". A name is a word the
corpus writes capitalised in the middle of its sentences, or one holding a digit.

The weights (``conversation.json``) were fitted by ``benchmarks/fit_conversation.py`` on half of the dialogues in
``benchmarks/data`` and checked on the other half (docs/quality.md). No language model is involved.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..retrieval.index import SearchIndex
from ..retrieval.search import Candidates, Query, candidate_ids, features
from . import fitted
from .fitted import Fields
from .rank import FollowUpWeights, RankWeights

MAX_TURNS = 6  # earlier questions that make the context (the most recent ones)
CONTEXT_TERMS = 12  # terms the context keeps, most recent question's first
_PRONOUN = re.compile(
    r"\b(it|its|it's|they|their|them|theirs|he|his|him|she|her|this|that|these|those|there|then|one|ones)\b",
    re.IGNORECASE,
)
_ELLIPSIS = re.compile(r"^\W*(?:and|what about|how about|same for|ok and|so)\s+(?P<x>[^?]{1,40}?)\s*\??\s*$", re.I)
_ASKING = re.compile(
    r"\b(what|which|who|whom|how|when|where|why|did|does|do|is|are|was|were|will|would|can|could|should|has|have|had)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_][\w'’-]*")
_MID_SENTENCE_WORD = re.compile(r"(?<=[a-z0-9,;:\"'’”)] )([^\W_][\w-]*)")
_DIGIT = re.compile(r"\d")
_ARTICLE_END = re.compile(r"\b(?:the|a|an)\s+$", re.IGNORECASE)
_ARTICLE_START = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
NAME_SHARE = 0.6  # a word capitalised at least this often in mid-sentence is a name
_CUE = re.compile(r"^\W*(and|what about|how about|same|also|so|then|ok|okay|but|why|when|how come)\b", re.IGNORECASE)
GATE_FEATURES = ("bias", "pronoun", "cue", "terms", "new_rare", "similarity", "alone", "overlap")


@dataclass(frozen=True)
class Context:
    """What the earlier questions give a new one: a mixed vector and their recent terms."""

    questions: tuple[str, ...]
    vectors: np.ndarray  # one row per earlier question
    vector: np.ndarray
    terms: list[str]


@dataclass(frozen=True)
class Reading:
    """How a question was read: its own query, and (for a follow-up) its context and the gate's weight."""

    own: Query
    context: Context | None = None


@dataclass(frozen=True)
class FollowUp:
    """A question with history as ranking and gate see it: the candidates' features read on their own
    (``found``) and read in the context (``around``), their score read alone, and the gate's cues."""

    found: Candidates
    around: Candidates
    alone: np.ndarray
    cues: np.ndarray

    def best_alone(self) -> int:
        """The passage row the question finds read on its own."""
        return int(self.found.ids[int(np.argmax(self.alone))])


@dataclass(frozen=True)
class GateModel:
    """Logistic weights over ``GATE_FEATURES``: the probability that a question depends on its context."""

    weights: tuple[float, ...]

    def probability(self, x: np.ndarray) -> float:
        return 1.0 / (1.0 + math.exp(-float(np.dot(self.weights, x))))

    @classmethod
    def from_fields(cls, fields: Fields) -> GateModel:
        fields.names("features", GATE_FEATURES)
        return cls(fields.numbers("weights", len(GATE_FEATURES)))

    def to_json(self) -> dict[str, list[Any]]:
        return {"features": list(GATE_FEATURES), "weights": list(self.weights)}


@lru_cache(maxsize=1)
def shipped_gate() -> GateModel:
    """The gate fitted for this release (``conversation.json``, its ``gate``)."""
    return fitted.load("conversation", parse_gate)


def parse_gate(fields: Fields) -> GateModel:
    return GateModel.from_fields(fields.section("gate"))


def parse_conversation(fields: Fields) -> tuple[FollowUpWeights, GateModel]:
    """Both parts of ``conversation.json``: the follow-up weights and the gate."""
    return FollowUpWeights.from_fields(fields.section("follow_up")), parse_gate(fields)


def make_context(questions: Sequence[str], vectors: np.ndarray, terms: Callable[[str], list[str]]) -> Context | None:
    """The context of the last ``MAX_TURNS`` earlier questions (None without any), their ``terms`` by the
    index's tokenizer."""
    questions = list(questions)[-MAX_TURNS:]
    vectors = np.asarray(vectors, dtype=np.float32)[-MAX_TURNS:]
    if not questions:
        return None
    mixed: np.ndarray | None = None
    recent: list[str] = []
    for question, vector in zip(questions, vectors, strict=True):
        mixed = vector if mixed is None else vector + mixed  # each turn weighs as much as all before it
        mixed = mixed / max(float(np.linalg.norm(mixed)), 1e-12)
        own = terms(question)
        recent = (own + [t for t in recent if t not in own])[:CONTEXT_TERMS]
    assert mixed is not None
    return Context(tuple(questions), vectors, np.ascontiguousarray(mixed, dtype=np.float32), recent)


def follow_up(index: SearchIndex, weights: RankWeights, text: str, reading: Reading, context: Context) -> FollowUp:
    """Both feature sets over the union of the question's and its ``context``'s candidates, the score
    each candidate gets read alone (``weights``), and the gate's cues for the question read as ``text``."""
    around = Query(context.vector, context.terms)
    ids = np.unique(np.concatenate([candidate_ids(index, reading.own), candidate_ids(index, around)]))
    found = features(index, reading.own, ids)
    alone = weights.scores(found)
    cues = gate_features(index, text, reading.own, context, float(alone.max()) if len(ids) else 0.0)
    return FollowUp(found, features(index, around, ids), alone, cues)


def gate_features(index: SearchIndex, question: str, own: Query, context: Context, alone_best: float) -> np.ndarray:
    """The cues ``GateModel`` weighs, in the order of ``GATE_FEATURES``."""
    new = index.lexical.query([t for t in own.terms if t not in set(context.terms)])
    ceiling = math.log1p(max(len(index.passages), 1))
    return np.array(
        [
            1.0,
            float(bool(_PRONOUN.search(question))),
            float(bool(_CUE.match(question))),
            min(len(own.terms), 8) / 8,
            float(new.idf.max()) / ceiling if len(new.ids) else 0.0,
            float(own.vector @ context.vector),
            alone_best,
            len(set(own.terms) & set(context.terms)) / max(len(own.terms), 1),
        ]
    )


def follows(context: Context, passage_vector: np.ndarray) -> int:
    """Which earlier question (its index) the answer's top passage is closest to: the thread it took."""
    return int(np.argmax(context.vectors @ passage_vector))


class Names:
    """The words a corpus writes as names: capitalised in the middle of its sentences (most times)."""

    def __init__(self, texts: Sequence[str]) -> None:
        seen: Counter[str] = Counter()
        capital: Counter[str] = Counter()
        for text in texts:
            for match in _MID_SENTENCE_WORD.finditer(text):
                word = match.group(1)
                seen[word.lower()] += 1
                capital[word.lower()] += word[0].isupper()
        self._names = {w for w, n in seen.items() if capital[w] >= NAME_SHARE * n}

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The runs of names (or words with a digit) in ``text``, as (start, end)."""
        runs: list[tuple[int, int]] = []
        current: tuple[int, int] | None = None
        for match in _WORD.finditer(text):
            word = match.group().lower()
            named = (word in self._names or word.rstrip("s") in self._names or bool(_DIGIT.search(word))) and not (
                _ASKING.fullmatch(word)
            )
            if named:
                current = (current[0] if current else match.start(), match.end())
            elif current:
                runs.append(current)
                current = None
        return [*runs, current] if current else runs


def resolve(question: str, history: Sequence[str], names: Names) -> str | None:
    """The question an ellipsis ("And the M8?") shortens, or None when ``question`` is not one."""
    match = _ELLIPSIS.match(question)
    if not match or not history:
        return None
    new = match.group("x")
    if _ASKING.search(new) or _PRONOUN.search(new) or len(new.split()) > 4:
        return None  # "what about its price?" names nothing to put in: the context reads it instead
    history = history[-MAX_TURNS:]  # as far back as the context goes (and no deeper recursion)
    previous = resolve(history[-1], history[:-1], names) or history[-1]
    spans = names.spans(previous)
    if not spans:
        return f"{previous.rstrip(' ?')} {new}?"
    digit = bool(_DIGIT.search(new))
    start, end = next((s for s in spans if bool(_DIGIT.search(previous[s[0] : s[1]])) == digit), spans[0])
    if _ARTICLE_END.search(previous[:start]):  # "the M8" in place of "M8" after a "the": one article
        new = _ARTICLE_START.sub("", new)
    return previous[:start] + new + previous[end:]
