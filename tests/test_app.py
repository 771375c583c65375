"""The app's handlers as plain functions, without a server."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from app import Handlers, build
from qa.answering.engine import Engine
from qa.app.chat import Conversation
from qa.app.workspace import Workspaces


def select(index: int) -> gr.SelectData:
    """What Gradio hands the handler when the user clicks chat message ``index``."""
    return gr.SelectData(None, {"index": index, "value": ""})


@pytest.fixture
def handlers(fake_engine: Engine) -> Handlers:
    return Handlers(Workspaces(fake_engine))


def test_a_turn_appends_question_and_answer_and_shows_the_top_passage(handlers: Handlers) -> None:
    history, box, source, chat = handlers.respond("Who launched Qijing?", 3, [], None)
    assert [m["role"] for m in history] == ["user", "assistant", "assistant", "assistant", "assistant"]
    assert box == ""
    assert "qa-answer" in history[1]["content"] and all("qa-quote" in m["content"] for m in history[2:])
    assert 'class="qa-passage"' in source and len(chat.conversation.turns) == 1


def test_follow_up_questions_keep_the_conversation(handlers: Handlers) -> None:
    history, _, _, chat = handlers.respond("Who launched Qijing?", 2, [], None)
    history, _, _, chat = handlers.respond("And what about the Zhijie X9?", 2, history, chat)
    assert [m["role"] for m in history] == ["user", "assistant", "assistant", "assistant"] * 2
    assert [t.answer.question for t in chat.conversation.turns] == [
        "Who launched Qijing?",
        "And what about the Zhijie X9?",
    ]


def test_empty_question_warns_and_changes_nothing(handlers: Handlers) -> None:
    with pytest.warns(UserWarning, match="Type a question"):
        history, box, _, chat = handlers.respond("   ", 5, [], None)
    assert history == [] and box == "   " and chat.conversation.turns == []


def test_hostile_question_is_shown_as_text(handlers: Handlers) -> None:
    history, _, _, _ = handlers.respond("<script>alert(1)</script>", 2, [], None)
    assert "<script>" not in history[0]["content"] and "&lt;script&gt;" in history[0]["content"]


def test_clicking_a_quote_shows_that_passage_and_other_messages_change_nothing(handlers: Handlers) -> None:
    _, _, _, chat = handlers.respond("Who launched Qijing?", 3, [], None)
    hit = chat.conversation.turns[0].answer.hits[2]
    html = handlers.show_citation(chat, select(4))  # the third quote of the first turn
    assert 'class="qa-passage"' in html and f"chars {hit.passage.start}–{hit.passage.end}" in html
    for index in (0, 1, 5, 99):  # the question, the answer head, past the end
        assert isinstance(handlers.show_citation(chat, select(index)), type(gr.skip()))
    assert isinstance(handlers.show_citation(None, select(2)), type(gr.skip()))


def test_api_returns_the_cli_json_object_and_errors_cleanly(handlers: Handlers, fake_engine: Engine) -> None:
    assert handlers.api_ask("Who launched Qijing?", 2) == fake_engine.ask("Who launched Qijing?", 2).to_json()
    with pytest.raises(gr.Error, match="empty"):
        handlers.api_ask("", 2)
    with pytest.raises(gr.Error, match="k must be"):
        handlers.api_ask("Who?", 0)


def test_clear_resets_chat_box_and_source(handlers: Handlers) -> None:
    _, _, _, session = handlers.respond("Who launched Qijing?", 2, [], None)
    history, box, source, chat = handlers.clear(session)
    assert history == [] and box == "" and "qa-passage" not in source and chat.conversation == Conversation()
    assert chat.sources == session.sources  # the documents stay


def test_the_page_builds_with_the_ask_endpoint(fake_engine: Engine) -> None:
    demo = build(fake_engine)
    names = [fn.api_name for fn in demo.fns.values()]
    assert "ask" in names


def test_overload_answers_busy_instead_of_failing(fake_engine: Engine) -> None:
    import threading

    from qa.app.server import Gate

    gate = Gate(active=1, waiting=0)
    handlers = Handlers(Workspaces(fake_engine), gate)
    inside, release = threading.Event(), threading.Event()

    def occupy() -> None:
        with gate.admit():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=occupy)
    worker.start()
    inside.wait(5)
    try:
        with pytest.raises(gr.Error, match="busy"):
            handlers.api_ask("Who launched Qijing?", 2)
    finally:
        release.set()
        worker.join(5)
    assert handlers.api_ask("Who launched Qijing?", 2)["passages"]


def test_an_oversized_question_is_refused_with_the_limit(handlers: Handlers) -> None:
    from qa.answering.question import MAX_QUESTION_CHARS

    with pytest.raises(gr.Error, match="at most 100,000"):
        handlers.api_ask("x" * (MAX_QUESTION_CHARS + 1), 2)
    with pytest.warns(UserWarning, match="at most 100,000"):
        history, _, _, _ = handlers.respond("x" * (MAX_QUESTION_CHARS + 1), 2, [], None)
    assert history == []
    assert handlers.api_ask("Huawei " * 14_000, 1)["passages"]  # long but allowed: cut to what the model reads


def test_the_server_binds_to_loopback_and_opens_no_share_link(
    fake_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import launch
    from tests.helpers import free_port

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SHARE", raising=False)
    monkeypatch.setenv("GRADIO_SERVER_PORT", str(free_port()))
    demo = build(fake_engine)
    try:
        launch(demo, prevent_thread_lock=True, quiet=True)
        assert demo.server_name == "127.0.0.1"
        assert not demo.share
    finally:
        demo.close()


def test_main_opens_no_share_link_even_when_gradio_share_is_set(
    fake_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app

    seen: dict[str, object] = {}
    monkeypatch.setenv("GRADIO_SHARE", "true")
    monkeypatch.setattr(app.Engine, "open", lambda *args, **kwargs: fake_engine)
    monkeypatch.setattr(app, "make_embedder", lambda *args, **kwargs: fake_engine.embedder)
    monkeypatch.setattr(app, "launch", lambda demo, **kwargs: seen.update(kwargs))
    app.main([])
    assert seen["share"] is False
    app.main(["--share"])
    assert seen["share"] is True


def test_the_chat_reads_each_question_in_its_own_conversation(handlers: Handlers, fake_engine: Engine) -> None:
    history, _, _, chat = handlers.respond("What is the Zhijie X9?", 2, [], None)
    history, _, _, chat = handlers.respond("How much will it cost?", 2, history, chat)
    expected = fake_engine.ask("How much will it cost?", 2, history=["What is the Zhijie X9?"])
    assert chat.conversation.turns[-1].answer == expected
    if expected.context is not None:
        assert "Read as a follow-up to “What is the Zhijie X9?”" in history[-3]["content"]
    _, _, _, fresh = handlers.clear(chat)
    _, _, _, fresh = handlers.respond("How much will it cost?", 2, [], fresh)
    assert fresh.conversation.turns[-1].answer == fake_engine.ask(
        "How much will it cost?", 2
    )  # Clear chat forgot the thread


def test_the_api_takes_an_optional_history(handlers: Handlers, fake_engine: Engine) -> None:
    history = ["What is the Zhijie X9?"]
    assert (
        handlers.api_ask("How much will it cost?", 2, history)
        == fake_engine.ask("How much will it cost?", 2, history=history).to_json()
    )
    assert handlers.api_ask("How much will it cost?", 2) == fake_engine.ask("How much will it cost?", 2).to_json()
    with pytest.raises(gr.Error, match="earlier question"):
        handlers.api_ask("And then?", 2, [""])


def test_a_quote_from_a_document_replaced_under_its_name_is_not_shown_at_stale_offsets(handlers: Handlers) -> None:
    session, *_ = handlers.remove([s.name for s in handlers.session(None).sources], None)
    session, *_ = handlers.add_text("Lake Baikal is the deepest lake. It holds a fifth of fresh water.", session)[0]
    _, _, _, session = handlers.respond("Which lake is the deepest?", 1, [], session)
    session, *_ = handlers.remove(["Pasted text"], session)
    session, *_ = handlers.add_text("Rivers: the Amazon carries the most water of all of them.", session)[0]
    with pytest.warns(UserWarning, match="has changed since this answer"):
        assert isinstance(handlers.show_citation(session, select(2)), type(gr.skip()))


def test_names_in_messages_are_shown_as_text(handlers: Handlers, tmp_path: Path) -> None:
    """A toast renders HTML: a file name with markup in it must reach it escaped."""
    path = tmp_path / "a<b>c.txt"
    path.write_text("Lakes\n\nLake Baikal is the deepest lake.\n", encoding="utf-8")
    session = list(handlers.add_files([str(path)], None))[-1][0]
    _, _, _, session = handlers.respond("Which lake is the deepest?", 1, [], session)
    assert session.conversation.turns[0].answer.hits[0].passage.doc == "a<b>c.txt"
    session, *_ = handlers.remove(["a<b>c.txt"], session)
    with pytest.warns(UserWarning, match="a&lt;b&gt;c.txt was removed"):
        handlers.show_citation(session, select(2))


def test_a_failing_index_build_is_a_message_not_a_traceback(
    handlers: Handlers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.errors import IndexStoreError

    def fail(*_: object) -> None:
        raise IndexStoreError("the disk is full; free some space and ask again")

    monkeypatch.setattr(handlers.workspaces, "engine", fail)
    with pytest.raises(gr.Error, match="the disk is full"):
        handlers.respond("Which lake is the deepest?", 1, [], None)


def test_a_bad_upload_limit_stops_the_app_before_it_serves(fake_model: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import main

    monkeypatch.setenv("QA_MAX_DOCS", "many")
    with pytest.raises(SystemExit, match="QA_MAX_DOCS"):
        main([])
