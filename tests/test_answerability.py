"""The calibrated answerability score: bounded, monotone where it must be, loaded from data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.answering import fitted
from qa.answering.answerability import DIRECTION, FEATURES, AnswerabilityModel, shipped_model, type_missing
from qa.answering.weights import shipped_weights
from qa.errors import ParametersError

EVIDENCE = st.lists(st.floats(-5, 5, allow_nan=False), min_size=len(FEATURES), max_size=len(FEATURES))


@given(EVIDENCE)
def test_confidence_is_a_probability(values: list[float]) -> None:
    confidence = shipped_model().confidence(np.array(values))
    assert 0.0 <= confidence <= 1.0


@given(EVIDENCE, st.floats(0, 1), st.floats(0, 1))
def test_more_of_the_question_in_the_answer_never_lowers_the_confidence(
    values: list[float], a: float, b: float
) -> None:
    """Raise the coverage of the passage and of its highlighted sentence: the rank score rises with it
    (the ranker adds its coverage weight), and the confidence does not fall."""
    model = shipped_model()
    low, high = sorted((a, b))
    coverage_weight = shipped_weights().coverage

    def evidence(coverage: float) -> np.ndarray:
        x = dict(zip(FEATURES, values, strict=True))
        x["score"] += coverage_weight * coverage
        x["coverage"] = x["highlight_coverage"] = coverage
        return np.array([x[f] for f in FEATURES])

    assert model.confidence(evidence(high)) >= model.confidence(evidence(low)) - 1e-12


def test_the_fitted_signs_are_the_promised_ones() -> None:
    model = shipped_model()
    for feature, coef in zip(model.features, model.coef, strict=True):
        assert coef * DIRECTION[feature] >= 0, feature
    assert 0 < model.threshold < 1


def test_a_model_fitted_for_other_features_is_refused(tmp_path: Path) -> None:
    data = shipped_model().to_json()
    data["features"] = data["features"][:-1]
    (tmp_path / "answerability.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ParametersError, match=r"answerability\.json: features names other features"):
        fitted.load("answerability", AnswerabilityModel.from_fields, tmp_path)


@pytest.mark.parametrize(
    ("question", "highlight", "missing"),
    [
        ("How many units did it sell?", "It sold 1,649 units in August.", 0.0),
        ("How many units did it sell?", "It sold few units.", 1.0),
        ("When will the Zhijie X9 launch in 2026?", "The Zhijie X9 will launch in 2026.", 1.0),  # only the asked year
        ("Who founded Seres?", "Seres' revival showed automakers a path.", 1.0),
        ("Who founded Seres?", "Seres was founded by Zhang Xinghai.", 0.0),
        ("Who founded it?", "it was founded by Zhang Xinghai.", 0.0),  # the first name, though not opening it
        ("Who founded it?", "Zhang founded it.", 1.0),  # a capital opening the sentence names nothing
        ("What is the Zhijie X9?", "The Zhijie X9 is an MPV.", 0.0),  # neither a number nor a name asked for
    ],
)
def test_a_missing_number_or_name_is_noticed(question: str, highlight: str, missing: float) -> None:
    assert type_missing(question, highlight) == missing
