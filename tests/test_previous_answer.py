"""A follow-up read with what the turn before answered: given by the caller, or answered again."""

from __future__ import annotations

import pytest

from qa.answering.conversation import AnswerUse
from qa.answering.engine import Engine
from qa.errors import QuestionError
from qa.render import read_as

FIRST = "What is the Zhijie X9?"
FOLLOW = "How much will it cost?"


def said(engine: Engine, question: str, history: list[object] | None = None) -> dict[str, object]:
    top = engine.ask(question, 1, history=history or []).hits[0]
    return {"doc": top.passage.doc, "start": top.highlight.start, "end": top.highlight.end}


def test_history_turns_may_carry_their_answer_and_a_left_out_one_is_answered_again(fake_engine: Engine) -> None:
    given = said(fake_engine, FIRST)
    with_answer = fake_engine.ask(FOLLOW, 3, history=[{"q": FIRST, "answer": given}])
    fresh = Engine(fake_engine.corpus, fake_engine.index, fake_engine.embedder)  # nothing kept yet
    answered_again = fresh.ask(FOLLOW, 3, history=[FIRST])
    assert answered_again == with_answer  # the same answer as with the answer given
    asked = fresh.prepare([FOLLOW], [[FIRST]])[0]
    assert asked.previous is not None and (asked.previous.start, asked.previous.end) == (given["start"], given["end"])
    assert asked.previous_rows is not None


def test_a_bad_history_turn_is_refused_with_the_shape_it_must_have(fake_engine: Engine) -> None:
    for bad in (
        [{"question": FIRST}],
        [{"q": FIRST, "answer": {"doc": "x.txt", "start": 5}}],
        [{"q": FIRST, "answer": {"doc": "x.txt", "start": 9, "end": 3}}],
        [{"q": FIRST, "answer": "the X9"}],
        "not a list",
    ):
        with pytest.raises(QuestionError, match=r"history must be a list|end must come after"):
            fake_engine.ask(FOLLOW, 3, history=bad)  # type: ignore[arg-type]


def test_an_answer_from_another_document_is_not_read(fake_engine: Engine) -> None:
    asked = fake_engine.prepare([FOLLOW], [[{"q": FIRST, "answer": {"doc": "other.txt", "start": 0, "end": 9}}]])[0]
    assert asked.previous is not None and asked.previous_rows is None
    assert fake_engine.ask(FOLLOW, 3, history=[{"q": FIRST, "answer": {"doc": "other.txt", "start": 0, "end": 9}}])


def test_the_previous_answer_joins_the_context_and_its_passage_the_candidates(fake_engine: Engine) -> None:
    asked = fake_engine.prepare([FOLLOW], [[FIRST]])[0]
    assert asked.previous_rows is not None
    passage, _ = asked.previous_rows
    plain = fake_engine.read(asked, AnswerUse(0.0, 0, -1))
    used = fake_engine.read(asked, AnswerUse(1.0, 4, 1))
    assert plain.context is not None and plain.context.answer is None
    assert used.context is not None and used.context.answer == asked.previous_rows
    assert passage in set(used.found.ids.tolist())
    assert not (used.context.vector == plain.context.vector).all()
    assert len(used.context.terms) >= len(plain.context.terms)


def test_the_json_context_says_which_answer_a_follow_up_was_read_with(
    fake_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("qa.answering.conversation.shipped_answer_use", lambda: AnswerUse(1.0, 4, 1))
    history = ["What powertrains will the Zhijie X9 offer?"]
    answer = fake_engine.ask("And the M8?", 3, history=history)  # an ellipsis: always read in its context
    assert answer.context is not None and answer.context.answer is not None
    shown = answer.to_json()["context"]["answer"]
    previous = fake_engine.ask(history[0], 1).hits[0]
    assert (shown["start"], shown["end"]) == (previous.highlight.start, previous.highlight.end)
    assert fake_engine.texts[previous.passage.doc][shown["start"] : shown["end"]] == shown["text"]
    assert "with your previous answer" in read_as(answer.context)
