"""The app's handlers as plain functions, without a server."""

from __future__ import annotations

import gradio as gr
import pytest

from app import Handlers, build
from qa.engine import Engine


@pytest.fixture
def handlers(fake_engine: Engine) -> Handlers:
    return Handlers(fake_engine)


def test_a_turn_appends_question_and_answer_and_shows_the_top_passage(handlers: Handlers) -> None:
    history, box, source = handlers.respond("Who launched Qijing?", 3, [])
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert box == ""
    assert "qa-answer" in history[1]["content"] and history[1]["content"].count("qa-quote") == 3
    assert 'class="qa-passage"' in source


def test_follow_up_questions_keep_the_conversation(handlers: Handlers) -> None:
    history, _, _ = handlers.respond("Who launched Qijing?", 2, [])
    history, _, _ = handlers.respond("And what about the Zhijie X9?", 2, history)
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]


def test_empty_question_warns_and_changes_nothing(handlers: Handlers) -> None:
    with pytest.warns(UserWarning, match="Type a question"):
        history, box, _ = handlers.respond("   ", 5, [])
    assert history == [] and box == "   "


def test_hostile_question_is_shown_as_text(handlers: Handlers) -> None:
    history, _, _ = handlers.respond("<script>alert(1)</script>", 2, [])
    assert "<script>" not in history[0]["content"] and "&lt;script&gt;" in history[0]["content"]


def test_citation_click_shows_that_passage(handlers: Handlers, fake_engine: Engine) -> None:
    from qa.web import citation

    hit = fake_engine.ask("Who launched Qijing?", k=3).hits[2]
    html = handlers.show_citation(citation(hit, 0).css_class() + " 12345")
    assert 'class="qa-passage"' in html and f"chars {hit.passage.start}–{hit.passage.end}" in html
    with pytest.raises(gr.Error):
        handlers.show_citation("garbage")


def test_api_returns_the_cli_json_object_and_errors_cleanly(handlers: Handlers, fake_engine: Engine) -> None:
    assert handlers.api_ask("Who launched Qijing?", 2) == fake_engine.ask("Who launched Qijing?", 2).to_json()
    with pytest.raises(gr.Error, match="empty"):
        handlers.api_ask("", 2)
    with pytest.raises(gr.Error, match="k must be"):
        handlers.api_ask("Who?", 0)


def test_clear_resets_chat_box_and_source(handlers: Handlers) -> None:
    history, box, source = handlers.clear()
    assert history == [] and box == "" and "qa-passage" not in source


def test_the_page_builds_with_the_ask_endpoint(fake_engine: Engine) -> None:
    demo = build(fake_engine)
    names = [fn.api_name for fn in demo.fns.values()]
    assert "ask" in names
