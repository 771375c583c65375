"""The fitted parameters are data files, read by one loader that checks them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.answering import fitted
from qa.answering.answerability import AnswerabilityModel, shipped_model
from qa.answering.conversation import parse_conversation, shipped_answer_use, shipped_gate
from qa.answering.reading import shipped_use
from qa.answering.weights import RankWeights, shipped_follow_up, shipped_weights
from qa.errors import ParametersError


def test_every_shipped_file_loads() -> None:
    assert shipped_weights() == fitted.load("rank", RankWeights.from_fields)
    assert parse_conversation(fitted.Fields(json.loads(fitted.path_of("conversation").read_text()))) == (
        shipped_follow_up(),
        shipped_gate(),
        shipped_answer_use(),
    )
    assert shipped_model().features
    assert shipped_use().passages >= 1


def test_a_written_file_reads_back_the_same(tmp_path: Path) -> None:
    weights = RankWeights(0.1, 0.2, 0.3, -0.4)
    fitted.write("rank", weights.to_json(), RankWeights.from_fields, tmp_path)
    assert fitted.load("rank", RankWeights.from_fields, tmp_path) == weights
    model = shipped_model()
    fitted.write("answerability", model.to_json(), AnswerabilityModel.from_fields, tmp_path)
    assert fitted.load("answerability", AnswerabilityModel.from_fields, tmp_path) == model


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"dense": 0.5, "sentence": 0.5, "lexical": 0.5}', "must hold exactly dense, sentence, lexical, coverage"),
        ('{"dense": 0.5, "sentence": 0.5, "lexical": 0.5, "coverage": "high"}', "coverage must be a finite number"),
        ('{"dense": NaN, "sentence": 0.5, "lexical": 0.5, "coverage": 0.5}', "dense must be a finite number"),
        ('{"dense": true, "sentence": 0.5, "lexical": 0.5, "coverage": 0.5}', "dense must be a finite number"),
        ("[0.5, 0.5, 0.5, 0.5]", "must be a JSON object"),
        ('{"dense": 0.5,', "is not valid JSON"),
    ],
)
def test_a_bad_file_is_refused_naming_it_and_how_to_refit(tmp_path: Path, text: str, said: str) -> None:
    (tmp_path / "rank.json").write_text(text, encoding="utf-8")
    with pytest.raises(ParametersError, match=r"rank\.json") as caught:
        fitted.load("rank", RankWeights.from_fields, tmp_path)
    assert said in str(caught.value)
    assert "python -m benchmarks.fit_weights --write" in str(caught.value)


def test_a_gate_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    data = json.loads(fitted.path_of("conversation").read_text())
    data["gate"]["weights"] = data["gate"]["weights"][:-1]
    with pytest.raises(ParametersError, match=r"gate\.weights must be a list of 8 numbers"):
        fitted.write("conversation", data, parse_conversation, tmp_path)
    (tmp_path / "conversation.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ParametersError, match=r"conversation\.json: gate\.weights"):
        fitted.load("conversation", parse_conversation, tmp_path)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ParametersError, match="cannot be read"):
        fitted.load("rank", RankWeights.from_fields, tmp_path)
