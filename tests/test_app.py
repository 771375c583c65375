"""The page through Gradio's own wiring (``tests.wiring``): each event runs as the page runs it, its
outputs checked against what the event lists; no handler is called and indexed into by hand."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from app import Handlers, build
from qa.answering.engine import Engine
from qa.app.chat import Session
from qa.app.workspace import Workspaces
from tests.wiring import Wiring

LAKES = "Lake Baikal is the deepest lake. It holds a fifth of the fresh water on the surface of the Earth."
RIVERS = "The Amazon carries more water than any other river. It ends in the Atlantic Ocean."


class Page:
    """A built page and the handlers behind it; ``open`` starts a browser session on it."""

    def __init__(self, engine: Engine) -> None:
        self.handlers = Handlers(Workspaces(engine))
        self.demo = build(engine, self.handlers)

    def open(self, saved: Any = None) -> Wiring:
        tab = Wiring(self.demo)
        tab.fire(None, "load", saved)
        return tab

    def session(self, tab: Wiring) -> Session:
        return self.handlers.sessions.get(tab.session)

    def settle(self, tab: Wiring, timeout: float = 30) -> None:
        """Wait until the documents being read for ``tab`` are ready, then let the page's timer show them."""
        session = self.session(tab)
        end = time.monotonic() + timeout
        while session.pending and time.monotonic() < end:
            time.sleep(0.02)
        assert not session.pending, "documents still being read"
        tab.fire(gr.Timer, "tick")


@pytest.fixture
def page(fake_engine: Engine) -> Page:
    return Page(fake_engine)


@pytest.fixture
def slow_reading(page: Page, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Pasted text is read only once the event is set (as a large document would take a while)."""
    release = threading.Event()
    read = page.handlers.workspaces.read_text

    def slow(text: str, name: str) -> Any:
        release.wait(30)
        return read(text, name)

    monkeypatch.setattr(page.handlers.workspaces, "read_text", slow)
    yield release
    release.set()


def ask(tab: Wiring, question: str, k: int = 3) -> list[list[Any]]:
    return tab.fire("qa-question", "submit", question, k)


def chat_text(tab: Wiring) -> str:
    return " ".join(_content(m) for m in tab.value("qa-chat") or [])


def _content(message: dict[str, Any]) -> str:
    content = message["content"]
    return " ".join(c.get("text", "") for c in content) if isinstance(content, list) else str(content)


def answers(tab: Wiring) -> list[str]:
    return [_content(m) for m in tab.value("qa-chat") or [] if "qa-answer" in _content(m)]


def test_pasted_text_is_added_and_answered(page: Page) -> None:
    tab = page.open()
    tab.fire("qa-add-text", "click", LAKES)
    assert tab.value("qa-paste") == ""  # accepted: the box is emptied
    assert "Pasted text" in tab.value("qa-doc-list")
    page.settle(tab)
    assert "Added Pasted text; ask away." in tab.value("qa-doc-status")
    assert "2 documents" in tab.value("qa-what")
    ask(tab, "Which lake is the deepest?")
    assert "Pasted text" in chat_text(tab) and "Baikal" in tab.value("qa-source")


def test_empty_pasted_text_says_so_and_keeps_the_box(page: Page) -> None:
    tab = page.open()
    tab.fire("qa-add-text", "click", "   ")
    assert "Not added: the pasted text is empty" in tab.value("qa-doc-status")
    assert tab.value("qa-paste") is None  # left as typed
    assert not page.session(tab).pending


def test_a_turn_shows_question_answer_quotes_and_the_top_passage(page: Page) -> None:
    tab = page.open()
    ask(tab, "Who launched Qijing?", 3)
    messages = tab.value("qa-chat")
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant", "assistant", "assistant"]
    assert "qa-answer" in _content(messages[1]) and all("qa-quote" in _content(m) for m in messages[2:])
    assert 'class="qa-passage"' in tab.value("qa-source") and tab.value("qa-question") == ""


def test_follow_ups_keep_the_conversation_until_clear_chat(page: Page, fake_engine: Engine) -> None:
    tab = page.open()
    ask(tab, "What is the Zhijie X9?", 2)
    ask(tab, "How much will it cost?", 2)
    expected = fake_engine.ask("How much will it cost?", 2, history=["What is the Zhijie X9?"])
    assert page.session(tab).conversation.turns[-1].answer == expected
    if expected.context is not None:
        assert "Read as a follow-up to “What is the Zhijie X9?”" in answers(tab)[-1]
    tab.fire("qa-clear", "click")
    assert tab.value("qa-chat") == [] and page.session(tab).sources == page.handlers.workspaces.bundled
    ask(tab, "How much will it cost?", 2)
    assert page.session(tab).conversation.turns[-1].answer == fake_engine.ask("How much will it cost?", 2)


def test_empty_question_warns_and_changes_nothing(page: Page) -> None:
    tab = page.open()
    with pytest.warns(UserWarning, match="Type a question"):
        ask(tab, "   ")
    assert tab.value("qa-chat") == [] and page.session(tab).conversation.turns == []


def test_hostile_question_is_shown_as_text(page: Page) -> None:
    tab = page.open()
    ask(tab, "<script>alert(1)</script>", 2)
    shown = _content(tab.value("qa-chat")[0])
    assert "<script>" not in shown and "&lt;script&gt;" in shown


def test_clicking_a_quote_shows_that_passage_and_other_messages_change_nothing(page: Page) -> None:
    tab = page.open()
    ask(tab, "Who launched Qijing?", 3)
    hit = page.session(tab).conversation.turns[0].answer.hits[2]
    tab.fire("qa-chat", "select", data={"index": 4, "value": ""})  # the third quote
    source = tab.value("qa-source")
    assert f"chars {hit.passage.start}–{hit.passage.end}" in source
    for index in (0, 1, 5, 99):  # the question, the answer head, past the end
        tab.fire("qa-chat", "select", data={"index": index, "value": ""})
        assert tab.value("qa-source") == source


def test_removing_a_document_while_one_is_read_stays_removed(page: Page, slow_reading: threading.Event) -> None:
    tab = page.open()
    tab.fire("qa-add-text", "click", LAKES)
    tab.fire("qa-remove-button", "click", ["harmonyos-smart-mobility.txt"])
    assert "harmonyos" not in tab.value("qa-doc-list").split("qa-reading")[0]
    slow_reading.set()
    page.settle(tab)
    assert [s.name for s in page.session(tab).sources] == ["Pasted text"]
    assert "harmonyos" not in tab.value("qa-doc-list")


def test_a_document_removed_while_it_is_read_is_not_added(page: Page, slow_reading: threading.Event) -> None:
    tab = page.open()
    tab.fire("qa-add-text", "click", LAKES)
    tab.fire("qa-remove-button", "click", ["Pasted text"])
    slow_reading.set()
    page.settle(tab)
    assert [s.name for s in page.session(tab).sources] == ["harmonyos-smart-mobility.txt"]
    assert "Pasted text" not in tab.value("qa-doc-list")


def test_a_file_chosen_while_another_is_read_is_read_after_it(
    page: Page, slow_reading: threading.Event, tmp_path: Path
) -> None:
    tab = page.open()
    tab.fire("qa-add-text", "click", LAKES)
    rivers = tmp_path / "rivers.txt"
    rivers.write_text(f"Rivers\n\n{RIVERS}\n", encoding="utf-8")
    tab.upload("qa-add", rivers)
    listing = tab.value("qa-doc-list")
    assert "Pasted text" in listing and "rivers.txt" in listing  # both listed, being read
    slow_reading.set()
    page.settle(tab)
    assert [s.name for s in page.session(tab).sources][1:] == ["Pasted text", "rivers.txt"]  # in the order chosen


def test_a_question_asked_while_a_document_is_read_waits_for_it(page: Page, slow_reading: threading.Event) -> None:
    tab = page.open()
    tab.fire("qa-add-text", "click", LAKES)
    threading.Timer(0.6, slow_reading.set).start()
    steps = ask(tab, "Which lake is the deepest?", 2)
    assert "Reading Pasted text — your question will be answered from it too" in json.dumps(
        steps[0], ensure_ascii=False
    )
    assert page.session(tab).conversation.turns[0].answer.hits[0].passage.doc == "Pasted text"
    assert "Answered without" not in chat_text(tab)


def test_a_question_can_be_answered_without_waiting_and_says_what_it_left_out(
    page: Page, slow_reading: threading.Event
) -> None:
    tab = page.open()
    tab.fire("qa-add-text", "click", LAKES)
    other = Wiring(page.demo, tab.session)  # the same page: its button is clicked while the question waits
    threading.Timer(0.5, lambda: other.fire("qa-skip-wait", "click")).start()
    ask(tab, "Which lake is the deepest?", 2)
    turn = page.session(tab).conversation.turns[0]
    assert turn.left_out == ("Pasted text",) and "Answered without Pasted text (still being read)." in chat_text(tab)


def test_a_refusal_names_what_was_searched(page: Page) -> None:
    tab = page.open()
    ask(tab, "zzqx vvbn?", 1)
    head = answers(tab)[-1]
    if "qa-unanswered" in head:
        assert "The article does not say." in head
    tab.fire("qa-add-text", "click", LAKES)
    page.settle(tab)
    tab.fire("qa-add-text", "click", RIVERS)
    page.settle(tab)
    turn = page.session(tab).conversation.turns[0]
    assert turn.refusal() == "The article does not say."
    ask(tab, "zzqx vvbn?", 1)
    assert page.session(tab).conversation.turns[-1].refusal() == "None of your 3 documents says this."
    assert "3 documents" in tab.value("qa-what")


def test_a_reload_brings_back_documents_and_conversation_and_no_one_else_sees_them(page: Page) -> None:
    tab = page.open()
    tab.fire("qa-add-text", "click", LAKES)
    page.settle(tab)
    ask(tab, "Which lake is the deepest?", 2)
    saved = tab.value(gr.BrowserState)
    reloaded = page.open(saved)  # the browser hands back what it kept
    assert "Pasted text" in reloaded.value("qa-doc-list")
    assert "Which lake is the deepest?" in chat_text(reloaded) and "Baikal" in reloaded.value("qa-source")
    ask(reloaded, "How much fresh water does it hold?", 2)
    turn = page.session(reloaded).conversation.turns[-1]
    assert turn.answer.hits[0].passage.doc == "Pasted text"
    stranger = page.open()  # another browser keeps nothing: it starts from the bundled article
    assert "Pasted text" not in stranger.value("qa-doc-list") and chat_text(stranger) == ""


def test_a_tampered_saved_session_is_ignored_with_a_notice(page: Page) -> None:
    tab = page.open()
    ask(tab, "Who launched Qijing?", 2)
    saved = dict(tab.value(gr.BrowserState))
    saved["documents"] = [{"name": "<b>x</b>", "sha256": "../../etc/passwd", "bundled": True}]
    with pytest.warns(UserWarning, match="changed outside the app"):
        reloaded = page.open(saved)
    assert chat_text(reloaded) == "" and "harmonyos" in reloaded.value("qa-doc-list")
    with pytest.warns(UserWarning, match="not a saved conversation"):
        page.open("<script>")


def test_clear_chat_and_remove_are_kept_too(page: Page) -> None:
    tab = page.open()
    ask(tab, "Who launched Qijing?", 2)
    tab.fire("qa-clear", "click")
    tab.fire("qa-remove-button", "click", ["harmonyos-smart-mobility.txt"])
    reloaded = page.open(tab.value(gr.BrowserState))
    assert chat_text(reloaded) == "" and "No documents" in reloaded.value("qa-doc-list")


def test_the_conversation_downloads_with_every_quote_verbatim(page: Page, fake_engine: Engine) -> None:
    from tests.helpers import markdown_quotes

    tab = page.open()
    ask(tab, "Who launched Qijing?", 3)
    ask(tab, "What powertrains will the Zhijie X9 offer?", 2)
    markdown = Path(tab.value("qa-download-md")["path"]).read_text(encoding="utf-8")
    text = fake_engine.documents[0].text
    hits = [h for t in page.session(tab).conversation.turns for h in t.answer.hits]
    assert [q[3] for q in markdown_quotes(markdown)] == [text[h.passage.start : h.passage.end] for h in hits]
    assert all(quote == text[start:end] for _, start, end, quote in markdown_quotes(markdown))
    for hit in hits:
        assert f"chars {hit.passage.start}–{hit.passage.end}" in markdown
        assert f"Highlighted (chars {hit.highlight.start}–{hit.highlight.end})" in markdown
    rows = Path(tab.value("qa-download-jsonl")["path"]).read_text(encoding="utf-8").splitlines()
    assert [json.loads(r)["question"] for r in rows] == [
        "Who launched Qijing?",
        "What powertrains will the Zhijie X9 offer?",
    ]


def test_api_returns_the_cli_json_object_and_errors_cleanly(page: Page, fake_engine: Engine) -> None:
    handlers = page.handlers
    assert handlers.api_ask("Who launched Qijing?", 2) == fake_engine.ask("Who launched Qijing?", 2).to_json()
    with pytest.raises(gr.Error, match="empty"):
        handlers.api_ask("", 2)
    with pytest.raises(gr.Error, match="k must be"):
        handlers.api_ask("Who?", 0)
    history = ["What is the Zhijie X9?"]
    assert (
        handlers.api_ask("How much will it cost?", 2, history)
        == fake_engine.ask("How much will it cost?", 2, history=history).to_json()
    )
    with pytest.raises(gr.Error, match="earlier question"):
        handlers.api_ask("And then?", 2, [""])


def test_the_page_builds_with_the_ask_endpoint(page: Page) -> None:
    assert "ask" in [fn.api_name for fn in page.demo.fns.values()]


def test_overload_answers_busy_instead_of_failing(fake_engine: Engine) -> None:
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


def test_an_oversized_question_is_refused_with_the_limit(page: Page) -> None:
    from qa.answering.question import MAX_QUESTION_CHARS

    with pytest.raises(gr.Error, match="at most 100,000"):
        page.handlers.api_ask("x" * (MAX_QUESTION_CHARS + 1), 2)
    tab = page.open()
    with pytest.warns(UserWarning, match="at most 100,000"):
        ask(tab, "x" * (MAX_QUESTION_CHARS + 1), 2)
    assert tab.value("qa-chat") == []
    assert page.handlers.api_ask("Huawei " * 14_000, 1)["passages"]  # long but allowed: cut to what the model reads


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


def test_a_quote_from_a_document_replaced_under_its_name_is_not_shown_at_stale_offsets(page: Page) -> None:
    tab = page.open()
    tab.fire("qa-remove-button", "click", ["harmonyos-smart-mobility.txt"])
    tab.fire("qa-add-text", "click", LAKES)
    page.settle(tab)
    ask(tab, "Which lake is the deepest?", 1)
    tab.fire("qa-remove-button", "click", ["Pasted text"])
    tab.fire("qa-add-text", "click", "Rivers: the Amazon carries the most water of all of them.")
    page.settle(tab)
    with pytest.warns(UserWarning, match="has changed since this answer"):
        tab.fire("qa-chat", "select", data={"index": 2, "value": ""})


def test_names_in_messages_are_shown_as_text(page: Page, tmp_path: Path) -> None:
    """A toast renders HTML: a file name with markup in it must reach it escaped (whatever of it Gradio
    keeps: it strips some characters from uploaded names)."""
    path = tmp_path / "Tom & <Jerry>.txt"
    path.write_text("Lakes\n\nLake Baikal is the deepest lake.\n", encoding="utf-8")
    tab = page.open()
    tab.upload("qa-add", path)
    page.settle(tab)
    ask(tab, "Which lake is the deepest?", 1)
    name = page.session(tab).conversation.turns[0].answer.hits[0].passage.doc
    assert name.startswith("Tom") and html.escape(name) in tab.value("qa-doc-list")
    tab.fire("qa-remove-button", "click", [name])
    with pytest.warns(UserWarning, match=re.escape(f"{html.escape(name)} was removed")):
        tab.fire("qa-chat", "select", data={"index": 2, "value": ""})


def test_a_failing_index_build_is_a_message_not_a_traceback(page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.errors import IndexStoreError

    tab = page.open()

    def fail(*_: object) -> None:
        raise IndexStoreError("the disk is full; free some space and ask again")

    monkeypatch.setattr(page.handlers.workspaces, "engine", fail)
    with pytest.raises(gr.Error, match="the disk is full"):
        ask(tab, "Which lake is the deepest?", 1)


def test_a_bad_upload_limit_stops_the_app_before_it_serves(fake_model: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import main

    monkeypatch.setenv("QA_MAX_DOCS", "many")
    with pytest.raises(SystemExit, match="QA_MAX_DOCS"):
        main([])


def test_closing_the_page_forgets_its_session_on_the_server(page: Page) -> None:
    tab = page.open()
    ask(tab, "Who launched Qijing?", 2)
    assert page.handlers.sessions.get(tab.session).conversation.turns
    tab.fire(None, "unload")
    assert page.handlers.sessions.get(tab.session).conversation.turns == []  # a new, empty one


def test_a_saved_session_survives_the_browsers_own_json(page: Page, fake_engine: Engine, tmp_path: Path) -> None:
    """The browser keeps numbers as JavaScript does (1.0 comes back as 1): the signature still holds."""
    import dataclasses

    from qa.app.chat import Conversation, Turn
    from qa.app.saved import Signer

    def as_javascript(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: as_javascript(v) for k, v in value.items()}
        if isinstance(value, list):
            return [as_javascript(v) for v in value]
        return int(value) if isinstance(value, float) and value.is_integer() else value

    answer = dataclasses.replace(fake_engine.ask("Who launched Qijing?", 2), confidence=1.0)
    signer = Signer(tmp_path)
    saved = signer.dump([("harmonyos-smart-mobility.txt", "abc", True)], Conversation([Turn(answer)]))
    assert saved["turns"][0]["answer"]["confidence"] == 1.0
    kept = signer.load(json.loads(json.dumps(as_javascript(saved))))
    assert kept is not None and kept.problem is None
    assert kept.conversation.turns[0].answer.confidence == 1.0
