from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.answering.engine import Engine
from qa.errors import QuestionError
from tests.helpers import CONTRACT, check_answer


def check_contract(obj: dict[str, Any], engine: Engine, k: int) -> None:
    """The JSON contract, with exactly ``min(k, passages)`` passages, and no field beyond the contract's."""
    check_answer(obj, engine.texts, k)
    assert set(obj) == {"question", "answered", "passages", "context", "confidence"}
    assert 0 <= obj["confidence"] <= 1
    assert len(obj["passages"]) == min(k, len(engine.passages))
    for p in obj["passages"]:
        assert set(p) == set(CONTRACT) and set(p["highlight"]) == {"start", "end", "text", "page"}


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


# --- conversations ---------------------------------------------------------------------------------


def test_a_follow_up_is_read_in_its_conversation_and_says_so(fake_engine: Engine) -> None:
    history = ["What is the Zhijie X9?"]
    answer = fake_engine.ask("How much will it cost?", 3, history=history)
    check_answer(answer.to_json(), fake_engine.texts, 3)
    alone = fake_engine.ask("How much will it cost?", 3)
    assert alone.context is None and alone.to_json()["context"] is None
    if answer.context is not None:  # it changed the best passage: it names the thread it took
        assert answer.context.follows in history and answer.context.turn == 1
        assert answer.to_json()["context"]["follows"] == "What is the Zhijie X9?"
        assert answer.hits[0].passage != alone.hits[0].passage
    # The conversation is data: the same question with the same history gets the same answer.
    assert fake_engine.ask("How much will it cost?", 3, history=history).to_json() == answer.to_json()


def test_ask_many_with_histories_matches_ask(fake_engine: Engine) -> None:
    turns = [("Who launched Qijing?", []), ("And Dongfeng?", ["Who launched Qijing?"])]
    many = fake_engine.ask_many([q for q, _ in turns], 2, histories=[h for _, h in turns])
    assert [a.to_json() for a in many] == [fake_engine.ask(q, 2, history=h).to_json() for q, h in turns]


@pytest.mark.parametrize(("history", "said"), [([""], "earlier question"), ([3], "earlier question")])
def test_a_bad_earlier_question_is_refused(fake_engine: Engine, history: list[Any], said: str) -> None:
    with pytest.raises(QuestionError, match=said):
        fake_engine.ask("And then?", history=history)


def test_the_context_follows_the_latest_turns_of_a_long_conversation(fake_engine: Engine) -> None:
    history = [f"Question number {i} about Huawei?" for i in range(30)] + ["What is the Zhijie X9?"]
    answer = fake_engine.ask("How much will it cost?", 2, history=history)
    if answer.context is not None:
        assert history[answer.context.turn - 1] == answer.context.follows
        assert answer.context.turn > 30 - 6


def test_the_gate_reads_a_question_naming_a_new_subject_on_its_own() -> None:
    """With the real cues: a pronoun and an opening "and" push towards the conversation; a question
    that the text answers well on its own, with many terms and a new rare one, does not."""
    from qa.answering.conversation import shipped_gate

    gate = shipped_gate()
    follow_up = np.array([1.0, 1.0, 1.0, 2 / 8, 0.0, 0.5, 0.6, 0.0])  # "and how much is it?"
    new_subject = np.array([1.0, 0.0, 0.0, 6 / 8, 0.9, 0.2, 1.8, 0.0])  # "What did J.D. Power find about safety?"
    assert gate.probability(follow_up) > 0.9 > 0.1 > gate.probability(new_subject)


def test_an_ellipsis_is_read_as_the_question_it_shortens(article_text: str) -> None:
    from qa.answering.question import Names, readings

    names = Names([article_text])

    def read_as(question: str, history: list[str]) -> str:
        return readings(question, history, names)[0]

    s7 = "How many Xiangwang S7s were sold in August?"
    assert read_as("and the M8?", [s7]) == "How many the M8 were sold in August?"  # a name with a digit
    assert read_as("What about Baojun?", ["How has Voyah done in the MPV market?"]) == (
        "How has Baojun done in the MPV market?"
    )
    # A chain of them: each read through the one before.
    assert read_as("and the S7?", [s7, "and the M8?"]) == "How many the S7 were sold in August?"
    for not_one in (
        "and what does it cost?",
        "How much will it cost?",
        "and how did they do that in the end then?",
        "what about its price?",  # a pronoun names nothing to put in: the context reads it instead
    ):
        assert read_as(not_one, [s7]) == not_one
    assert read_as("and the M8?", []) == "and the M8?"
    # A long chain is read through the turns the context keeps, not through all of them.
    long = [*["and the M8?"] * 5000, s7, "and the M8?"]
    assert read_as("and the S7?", long) == "How many the S7 were sold in August?"
    assert readings("and the S7?", long, names)[1][-2:] == (s7, "How many the M8 were sold in August?")
    assert len(readings("and the S7?", long, names)[1]) == 6  # the context keeps the latest six


def test_an_ellipsis_says_how_it_was_read(fake_engine: Engine) -> None:
    answer = fake_engine.ask("and the M8?", 2, history=["How many Xiangwang S7s were sold in August?"])
    assert answer.context is not None and answer.context.question == "How many the M8 were sold in August?"
    assert answer.to_json()["context"]["read_as"] == "How many the M8 were sold in August?"
    assert answer.to_json()["question"] == "and the M8?"


def test_a_follow_up_names_the_earlier_question_as_it_was_asked(fake_engine: Engine) -> None:
    history = ["How many Xiangwang S7s were sold in August?", "and the M8?"]
    answer = fake_engine.ask("and the S7?", 2, history=history)
    assert answer.context is not None and answer.context.follows in history


def test_a_very_long_conversation_is_answered_from_its_latest_turns(fake_engine: Engine) -> None:
    history = [f"What happened in year {1900 + i}?" for i in range(3000)]
    answer = fake_engine.ask("How much will it cost?", 2, history=history)
    assert answer.hits and (answer.context is None or answer.context.follows in history[-6:])


def test_the_ranking_is_chosen_once_when_the_engine_is_made(fake_engine: Engine) -> None:
    rrf = Engine(fake_engine.corpus, fake_engine.index, fake_engine.embedder, fusion="rrf")
    question = "What did GAC Group launch together with Huawei Qiankun?"
    weighted, fused = fake_engine.ask(question, 3), rrf.ask(question, 3)
    check_answer(fused.to_json(), rrf.texts, 3)
    assert [h.score for h in fused.hits] != [h.score for h in weighted.hits]
    assert all(h.score < 1 / 30 for h in fused.hits)  # 1/(60+1) twice at most
    with pytest.raises(QuestionError, match="fusion must be one of weighted, rrf"):
        Engine(fake_engine.corpus, fake_engine.index, fake_engine.embedder, fusion="mean")
