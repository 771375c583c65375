from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.engine import Engine
from qa.errors import QuestionError
from tests.helpers import CONTRACT, check_answer


def check_contract(obj: dict[str, Any], engine: Engine, k: int) -> None:
    """The JSON contract, with exactly ``min(k, passages)`` passages, and no field beyond the contract's."""
    check_answer(obj, engine.texts, k)
    assert set(obj) == {"question", "answered", "passages"}
    assert len(obj["passages"]) == min(k, len(engine.passages))
    assert all(set(p) == set(CONTRACT) and set(p["highlight"]) == {"start", "end", "text"} for p in obj["passages"])


def test_ask_returns_ranked_verbatim_passages(fake_engine: Engine) -> None:
    answer = fake_engine.ask("What did GAC Group launch together with Huawei Qiankun?", k=3)
    obj = json.loads(json.dumps(answer.to_json()))
    check_contract(obj, fake_engine, 3)
    assert obj["question"] == "What did GAC Group launch together with Huawei Qiankun?"


def test_k_above_the_passage_count_returns_every_passage_once(fake_engine: Engine) -> None:
    n = len(fake_engine.passages)
    answer = fake_engine.ask("Huawei", k=n + 50)
    assert len(answer.hits) == n
    assert len({(h.passage.start, h.passage.end) for h in answer.hits}) == n
    assert not any(h.text.startswith("Image/") for h in answer.hits)


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_refused(fake_engine: Engine, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        fake_engine.ask(question)


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "3", float("nan")])
def test_bad_k_is_refused(fake_engine: Engine, k: Any) -> None:
    with pytest.raises(QuestionError, match="k must be"):
        fake_engine.ask("Huawei", k=k)


def test_question_longer_than_the_model_reads_is_cut_and_flagged(fake_engine: Engine) -> None:
    answer = fake_engine.ask("Huawei cars " * 1000, k=1)
    assert answer.truncated
    assert answer.to_json()["question"] == "Huawei cars " * 1000


def test_ask_many_matches_ask(fake_engine: Engine) -> None:
    questions = ["Who launched Qijing?", "What powertrains will the Zhijie X9 offer?"]
    many = fake_engine.ask_many(questions, k=2)
    assert [a.to_json() for a in many] == [fake_engine.ask(q, k=2).to_json() for q in questions]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(max_size=300), k=st.integers(min_value=-3, max_value=80))
def test_any_question_and_k_give_a_valid_answer_or_a_documented_error(
    fake_engine: Engine, question: str, k: int
) -> None:
    try:
        answer = fake_engine.ask(question, k=k)
    except QuestionError:
        assert not question.strip() or k < 1
        return
    check_contract(json.loads(json.dumps(answer.to_json())), fake_engine, k)
