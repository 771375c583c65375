"""Read a question in its conversation: a follow-up takes its subject from the earlier questions.

"What is the Zhijie X9?" then "How much will it cost?": the second question alone names no car. The
earlier questions (oldest first, passed in as data, cut and read once in ``question.Asked``) become a
*context*: their vectors mixed turn by turn (each turn weighs as much as all before it together) and
their most recent terms. A follow-up is searched twice, as itself and as its context, over the union
of both candidate lists; each candidate gets both feature sets (``search.features``), and ``rank``
scores it with weights fitted on follow-up turns. A *gate* — a small logistic model over cues such as
pronouns, an opening "and" or "what about", new rare terms and how well the question alone is answered
— says how much the question depends on its context, so that a question naming its own new subject is
read on its own. ``read`` does all of it in one call and returns a ``Reading``.

The weights (``conversation.json``) were fitted by ``benchmarks/fit_conversation.py`` on half of the
dialogues in ``benchmarks/data`` and checked on the other half (docs/quality.md). No language model is
involved.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..retrieval.index import SearchIndex
from ..retrieval.search import Candidates, Query, candidate_ids, features, search
from . import fitted
from .fitted import Fields
from .question import PRONOUN, Asked
from .weights import FollowUpWeights, RankWeights

CONTEXT_TERMS = 12  # terms the context keeps, most recent question's first
_CUE = re.compile(r"^\W*(and|what about|how about|same|also|so|then|ok|okay|but|why|when|how come)\b", re.IGNORECASE)
GATE_FEATURES = ("bias", "pronoun", "cue", "terms", "new_rare", "similarity", "alone", "overlap")


@dataclass(frozen=True)
class Context:
    """What the earlier questions give a new one: a mixed vector and their recent terms."""

    questions: tuple[str, ...]
    vectors: np.ndarray  # one row per earlier question
    vector: np.ndarray
    terms: list[str]
    answer: tuple[int, int] | None = None  # the previous answer it holds: (passage row, sentence row)


@dataclass(frozen=True)
class Reading:
    """How a question was read: its candidates with their features read on their own (``found``) and,
    for a follow-up, read in its ``context`` (``around``, the same candidates), the gate's ``cues`` and
    its weight ``follow``, each candidate's score read alone, and the passage row that score puts first."""

    found: Candidates
    around: Candidates | None = None
    follow: float = 0.0
    context: Context | None = None
    cues: np.ndarray | None = None
    alone: np.ndarray | None = None
    best_alone: int = -1


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


def parse_conversation(fields: Fields) -> tuple[FollowUpWeights, GateModel, AnswerUse]:
    """Every part of ``conversation.json``: the follow-up weights, the gate, the previous answer's use."""
    use = AnswerUse.from_fields(fields.section("previous_answer"))
    return FollowUpWeights.from_fields(fields.section("follow_up")), parse_gate(fields), use


def read(
    index: SearchIndex, weights: RankWeights, gate: GateModel, asked: Asked, use: AnswerUse | None = None
) -> Reading:
    """``asked`` read in its conversation: its candidates and their features, and for a follow-up (one
    with earlier questions) its context's — with what the turn before answered, as ``use`` says — the
    gate's weight and the score read alone (``weights``)."""
    own = Query(asked.vector, index.lexical.terms(asked.text))
    context = make_context(asked.earlier_texts, asked.earlier_vectors, index.lexical.terms)
    if context is None:
        return Reading(search(index, own))
    use = use or shipped_answer_use()
    context, near = with_answer(index, context, own, asked.previous_rows, use)
    around = Query(context.vector, context.terms)
    ids = np.unique(np.concatenate([candidate_ids(index, own), candidate_ids(index, around), near]))
    found = features(index, own, ids)
    alone = weights.scores(found)
    cues = gate_features(index, asked.text, own, context, float(alone.max()) if len(ids) else 0.0)
    best = int(found.ids[int(np.argmax(alone))]) if len(ids) else -1
    return Reading(found, features(index, around, ids), gate.probability(cues), context, cues, alone, best)


@dataclass(frozen=True)
class AnswerUse:
    """How the previous answer joins a follow-up's context (``conversation.json``, its ``previous_answer``):
    its sentence vector mixed in with ``weight`` (against the earlier questions' 1), its ``terms`` rarest
    terms the question lacks added to the context's, and its passage with ``neighbours`` passages on each
    side added to the candidates."""

    weight: float = 0.0
    terms: int = 0
    neighbours: int = -1  # -1: not even its own passage

    @classmethod
    def from_fields(cls, fields: Fields) -> AnswerUse:
        weight = fields.number("weight")
        return cls(weight, fields.whole("terms", 0), fields.whole("neighbours", -1))

    def to_json(self) -> dict[str, float]:
        return {"weight": self.weight, "terms": self.terms, "neighbours": self.neighbours}


@lru_cache(maxsize=1)
def shipped_answer_use() -> AnswerUse:
    """How this release reads a follow-up with the previous answer (``conversation.json``)."""
    return fitted.load("conversation", lambda fields: AnswerUse.from_fields(fields.section("previous_answer")))


def with_answer(
    index: SearchIndex, context: Context, own: Query, rows: tuple[int, int] | None, use: AnswerUse
) -> tuple[Context, np.ndarray]:
    """``context`` with the previous answer's sentence (at ``rows``: passage row, sentence row) in it, and
    the passage rows it adds to the candidates."""
    if rows is None or (use.weight <= 0 and use.terms <= 0 and use.neighbours < 0):
        return context, np.empty(0, dtype=np.int64)
    passage, sentence = rows
    vector = context.vector
    if use.weight > 0:
        mixed = context.vector + use.weight * index.sentence_vectors[sentence]
        vector = np.ascontiguousarray(mixed / max(float(np.linalg.norm(mixed)), 1e-12), dtype=np.float32)
    terms = context.terms
    if use.terms > 0:  # the answer's rarest terms that the question does not hold
        asked = set(index.lexical.query(own.terms).ids.tolist())
        held = np.array([i for i in index.sentence_terms[sentence].indices.tolist() if i not in asked], dtype=np.int64)
        rarest = held[np.argsort(-index.lexical.idf_of(held), kind="stable")][: use.terms]
        terms = [*context.terms, *(t for t in index.lexical.names(rarest) if t not in context.terms)]
    doc = index.passages[passage].doc
    span = range(passage - use.neighbours, passage + use.neighbours + 1) if use.neighbours >= 0 else range(0)
    near = [r for r in span if 0 <= r < len(index.passages) and index.passages[r].doc == doc]
    answered = Context(context.questions, context.vectors, vector, terms, (passage, sentence))
    return answered, np.array(near, dtype=np.int64)


def make_context(questions: Sequence[str], vectors: np.ndarray, terms: Callable[[str], list[str]]) -> Context | None:
    """The context of the earlier ``questions`` (None without any), their ``terms`` by the index's tokenizer."""
    if not questions:
        return None
    vectors = np.asarray(vectors, dtype=np.float32)
    mixed: np.ndarray | None = None
    recent: list[str] = []
    for question, vector in zip(questions, vectors, strict=True):
        mixed = vector if mixed is None else vector + mixed  # each turn weighs as much as all before it
        mixed = mixed / max(float(np.linalg.norm(mixed)), 1e-12)
        own = terms(question)
        recent = (own + [t for t in recent if t not in own])[:CONTEXT_TERMS]
    assert mixed is not None
    return Context(tuple(questions), vectors, np.ascontiguousarray(mixed, dtype=np.float32), recent)


def gate_features(index: SearchIndex, question: str, own: Query, context: Context, alone_best: float) -> np.ndarray:
    """The cues ``GateModel`` weighs, in the order of ``GATE_FEATURES``."""
    new = index.lexical.query([t for t in own.terms if t not in set(context.terms)])
    ceiling = math.log1p(max(len(index.passages), 1))
    return np.array(
        [
            1.0,
            float(bool(PRONOUN.search(question))),
            float(bool(_CUE.match(question))),
            min(len(own.terms), 8) / 8,
            float(new.idf.max()) / ceiling if len(new.ids) else 0.0,
            float(own.vector @ context.vector),
            alone_best,
            len(set(own.terms) & set(context.terms)) / max(len(own.terms), 1),
        ]
    )
