"""Read a question in its conversation: a follow-up takes its subject from the earlier questions.

"What is the Zhijie X9?" then "How much will it cost?": the second question alone names no car. The
earlier questions (oldest first, passed in as data) become a *context*: their vectors mixed turn by
turn (each turn weighs as much as all before it together) and their most recent terms. A follow-up
is searched twice, as itself and as its context, over the union of both candidate lists; each
candidate gets both feature sets (``search.features``), and ``rank`` scores it with weights fitted on
follow-up turns. A *gate* — a small logistic model over cues such as pronouns, an opening "and" or
"what about", new rare terms and how well the question alone is answered — says how much the question
depends on its context, so that a question naming its own new subject is read on its own.

The weights were fitted by ``benchmarks/fit_conversation.py`` on half of the dialogues in
``benchmarks/data`` and checked on the other half (docs/quality.md). No language model is involved.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .index import SearchIndex
from .lexical import terms
from .search import Candidates, Query, candidate_ids, features

MAX_TURNS = 6  # earlier questions that make the context (the most recent ones)
CONTEXT_TERMS = 12  # terms the context keeps, most recent question's first
_PRONOUN = re.compile(
    r"\b(it|its|it's|they|their|them|theirs|he|his|him|she|her|this|that|these|those|there|then|one|ones)\b",
    re.IGNORECASE,
)
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
    follow: float = 0.0  # 0: read on its own … 1: read wholly as a follow-up


@dataclass(frozen=True)
class GateModel:
    """Logistic weights over ``GATE_FEATURES``: the probability that a question depends on its context."""

    weights: tuple[float, ...] = (6.28, 4.57, 2.56, -5.5, -1.52, 0.05, -2.46, 1.03)

    def probability(self, x: np.ndarray) -> float:
        return 1.0 / (1.0 + math.exp(-float(np.dot(self.weights, x))))


def make_context(questions: Sequence[str], vectors: np.ndarray) -> Context | None:
    """The context of the last ``MAX_TURNS`` earlier questions (None without any)."""
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


def follow_up_candidates(index: SearchIndex, reading: Reading) -> tuple[Candidates, Candidates]:
    """Both feature sets over the union of the question's and its context's candidates."""
    assert reading.context is not None
    context = Query(reading.context.vector, reading.context.terms)
    ids = np.unique(np.concatenate([candidate_ids(index, reading.own), candidate_ids(index, context)]))
    return features(index, reading.own, ids), features(index, context, ids)


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
