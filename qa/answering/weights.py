"""The rank weights as data: the weights of the rank score and of a follow-up's score.

``RankWeights`` weigh a candidate's features (``search.Candidates``): fitted by
``benchmarks/fit_weights.py`` (``rank.json``). ``FollowUpWeights`` weigh a follow-up's own features and
its context's: fitted by ``benchmarks/fit_conversation.py`` (``conversation.json``). Both are read by
``fitted``; ``rank`` and ``conversation`` use them (neither imports the other).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..retrieval.search import Candidates
from . import fitted
from .fitted import Fields

RANK_FEATURES = ("dense", "sentence", "lexical", "coverage")


@dataclass(frozen=True)
class RankWeights:
    """Weights of the rank score over ``RANK_FEATURES``, fitted by ``benchmarks/fit_weights.py`` (``rank.json``)."""

    dense: float
    sentence: float
    lexical: float
    coverage: float

    def scores(self, found: Candidates) -> np.ndarray:
        return (
            self.dense * found.dense
            + self.sentence * found.sentence
            + self.lexical * found.lexical
            + (self.coverage * found.coverage)
        )

    @classmethod
    def from_fields(cls, fields: Fields) -> RankWeights:
        return cls(*fields.named(RANK_FEATURES))

    def to_json(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FollowUpWeights:
    """Weights of a follow-up's score: its own features and its context's (``conversation``), fitted by
    ``benchmarks/fit_conversation.py`` (``conversation.json``, its ``follow_up``)."""

    own: RankWeights
    context: RankWeights

    @classmethod
    def from_fields(cls, fields: Fields) -> FollowUpWeights:
        return cls(RankWeights.from_fields(fields.section("own")), RankWeights.from_fields(fields.section("context")))

    def to_json(self) -> dict[str, dict[str, float]]:
        return {"own": self.own.to_json(), "context": self.context.to_json()}


@lru_cache(maxsize=1)
def shipped_weights() -> RankWeights:
    """The rank weights fitted for this release (``rank.json``)."""
    return fitted.load("rank", RankWeights.from_fields)


@lru_cache(maxsize=1)
def shipped_follow_up() -> FollowUpWeights:
    """The follow-up weights fitted for this release (``conversation.json``)."""
    return fitted.load("conversation", lambda fields: FollowUpWeights.from_fields(fields.section("follow_up")))
