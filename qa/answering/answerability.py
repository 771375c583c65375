"""How sure the engine is that its top passage answers the question: a calibrated probability.

The evidence is measured per question from the ranking (``Ranker.evidence``): the rank score and its
margin over the next passage, the dense and best-sentence similarity, BM25, how much of the question's
content the highlighted sentence and the passage hold (IDF-weighted), the share of the question's
terms the corpus never uses, the rarest question term the passage lacks, whether a number or a name
is asked for and the answer holds none. A follow-up is measured
the same way, on the passage its conversation led to. A
logistic regression over them, fitted by ``benchmarks/fit_answerability.py`` on part of the bench and
checked on the rest (docs/quality.md), gives ``confidence``; ``answered`` is ``confidence >=
threshold``. The coefficients are data: ``answerability.json`` beside this module, no pickle. Held to
the signs in ``DIRECTION``, the shipped fit gives the two coverage features and the unknown-term share
a weight of 0: they are measured (and refitted each time) but do not move today's confidence.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from . import fitted
from .fitted import Fields

FEATURES = (
    "score",
    "margin",
    "dense",
    "sentence",
    "lexical",
    "coverage",
    "highlight_similarity",
    "highlight_coverage",
    "unknown_terms",
    "missing_rare_term",
    "terms",
    "type_missing",
)
READER_FEATURES = (*FEATURES, "reader")  # with the reader: its probability that the highlight answers
# How a feature may move the confidence: +1 more of it never lowers it, -1 never raises it, 0 the fit
# decides. More of the question found in the answer never makes the engine more doubtful, and more of it
# missing (words the text never uses, a rare term the passage lacks, no number or name where one is
# asked for) never makes it surer. The similarity and score signs are left to the data.
DIRECTION = dict.fromkeys(READER_FEATURES, 0) | {
    "coverage": 1,
    "highlight_coverage": 1,
    "unknown_terms": -1,
    "missing_rare_term": -1,
    "type_missing": -1,
}
# Questions that ask for a quantity or a date: their answer holds a number the question does not.
ASKS_NUMBER = re.compile(
    r"\b(how (many|much|long|old|far|big|large|tall|fast)|what (year|percentage|percent)|which year|when|"
    r"what (is|was) the (number|price|cost|share|population|size|date))\b",
    re.IGNORECASE,
)
# Questions that ask for a name (a person, a company, a place): their answer names something new.
ASKS_NAME = re.compile(
    r"^\W*(who|whom|whose|where)\b|\bwhich (person|company|companies|automaker|automakers|brand|brands|group|"
    r"firm|analyst|country|city)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_NAME = re.compile(r"\b[A-Z][A-Za-z0-9\-]+")
_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class AnswerabilityModel:
    """A logistic model over standardised ``FEATURES``, and the threshold ``answered`` uses."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float

    def confidence(self, evidence: np.ndarray) -> float:
        """The probability (0 to 1) that the top passage answers the question."""
        z = (np.asarray(evidence, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = float(z @ np.asarray(self.coef)) + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> AnswerabilityModel:
        """The model as ``answerability.json`` holds it, checked (``fitted``): over ``FEATURES``, or over
        ``READER_FEATURES`` when it was fitted with the reader's evidence (``fit_answerability --reader``)."""
        features = READER_FEATURES if fields.has_name("features", "reader") else FEATURES
        return cls(
            features=fields.names("features", features),
            mean=fields.numbers("mean", len(features)),
            scale=fields.numbers("scale", len(features)),
            coef=fields.numbers("coef", len(features)),
            intercept=fields.number("intercept"),
            threshold=fields.number("threshold"),
        )

    def neutral(self, feature: str) -> float:
        """The value of ``feature`` that moves the confidence neither way (its mean): what an engine
        without the reader gives a model fitted with it."""
        return self.mean[self.features.index(feature)]


@lru_cache(maxsize=1)
def shipped_model() -> AnswerabilityModel:
    """The model fitted for this release (``answerability.json``)."""
    return fitted.load("answerability", AnswerabilityModel.from_fields)


def type_missing(question: str, highlight: str) -> float:
    """1 when the question asks for a number (or a date) or a name and the highlighted sentence holds
    none that the question does not already hold (a name: a capitalised word, but the sentence's first)."""
    asked = {w.lower() for w in _WORD.findall(question)}
    if ASKS_NUMBER.search(question):
        return float(not any(n.lower() not in asked for n in _NUMBER.findall(highlight)))
    if ASKS_NAME.search(question):
        opening = highlight.lstrip()[:1].isupper()  # a capital that only opens the sentence names nothing
        names = [m for m in _NAME.finditer(highlight) if not (opening and not highlight[: m.start()].strip())]
        return float(not any(m.group().lower() not in asked for m in names))
    return 0.0
