from __future__ import annotations

import dataclasses
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

from qa.answering.engine import Engine
from qa.app.chat import Conversation, Turn
from qa.app.web import answer_html, question_html, quote_html, source_html
from qa.documents.corpus import Document
from qa.documents.passages import Passage

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def visible_text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


class MarkedText(HTMLParser):
    """Collects the text inside every element whose class list holds ``cls``."""

    def __init__(self, cls: str) -> None:
        super().__init__()
        self.cls, self.depth, self.found = cls, 0, [""]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += 1
        elif self.cls in (dict(attrs).get("class") or "").split():
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            if not self.depth:
                self.found.append("")

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.found[-1] += data


def marked(html: str, cls: str) -> list[str]:
    parser = MarkedText(cls)
    parser.feed(html)
    return [t for t in parser.found if t]


def test_question_is_escaped_and_long_ones_are_cut_for_display() -> None:
    html = question_html(HOSTILE)
    assert "<script>" not in html and "<img" not in html
    assert visible_text(html) == HOSTILE
    long_html = question_html("x" * 5000)
    assert "more characters" in long_html and len(long_html) < 2000


def test_answer_shows_short_answer_badges_scores_and_verbatim_quotes(fake_engine: Engine) -> None:
    answer = fake_engine.ask("What powertrains will the Zhijie X9 offer?", k=3)
    html = answer_html(answer) + "".join(quote_html(hit) for hit in answer.hits)
    assert html.count('class="qa-quote"') == 3
    assert html.count('class="qa-cite"') == 3 and html.count('<mark class="qa-hl">') == 3
    assert marked(html, "qa-text") == [hit.text for hit in answer.hits]
    assert marked(html, "qa-hl") == [hit.highlight.text for hit in answer.hits]
    assert "¶ " in html and "line " in html and "chars " in html and "score " in html


def test_not_answered_says_so_plainly(fake_engine: Engine) -> None:
    asked = fake_engine.ask("zzzz qqqq", k=2)
    answer = dataclasses.replace(asked, answered=False, confidence=0.05)  # as the real model refuses it
    html = answer_html(answer)
    assert "The article does not say." in html and "Closest passages, for checking:" in html
    assert "weak evidence" in html
    assert "The documents do not say." in answer_html(answer, documents=3)


def test_document_text_is_escaped_in_quotes_and_source(tmp_path: Path, fake_model: object) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    text = f"A title here\nThe page says {HOSTILE} and more words about rivers.\n"
    (folder / "doc.txt").write_text(text, encoding="utf-8")
    engine = Engine.open([folder])
    answer = engine.ask("What does the page say about rivers?", k=2)
    top = answer.hits[0]
    html = answer_html(answer) + quote_html(top) + source_html(engine.documents[0], top.passage)
    assert "<script>" not in html and "<img" not in html
    assert HOSTILE in visible_text(html)


def test_source_marks_the_cited_passage_and_its_highlight(fake_engine: Engine) -> None:
    hit = fake_engine.ask("Who launched Qijing?", k=1).hits[0]
    highlight = (hit.highlight.start, hit.highlight.end)
    html = source_html(fake_engine.document(hit.passage.doc), hit.passage, highlight)
    assert marked(html, "qa-passage") == [hit.text]
    assert marked(html, "qa-hl") == [hit.highlight.text]


def test_large_documents_show_a_window_around_the_passage() -> None:
    text = "Filler sentence here. " * 20000
    doc = Document("big.txt", Path("big.txt"), text, "x")
    passage = Passage("big.txt", 300000, 300021, None, 1, 1, ((300000, 300021),))
    html = source_html(doc, passage, (300000, 300021))
    assert "Showing characters" in html and len(html) < 150_000
    assert marked(html, "qa-passage") == [text[300000:300021]]


def test_a_conversation_finds_the_passage_each_chat_message_quotes(fake_engine: Engine) -> None:
    first = fake_engine.ask("Who launched Qijing?", k=3)
    second = fake_engine.ask("What powertrains will the Zhijie X9 offer?", k=2)
    chat = Conversation([Turn(first), Turn(second)])
    messages = chat.messages()
    # question, head, 3 quotes; question, head, 2 quotes
    assert [m["role"] for m in messages] == [
        "user",
        "assistant",
        *["assistant"] * 3,
        "user",
        "assistant",
        "assistant",
        "assistant",
    ]
    assert [chat.hit_at(i) for i in range(len(messages))] == [
        None,
        None,
        *first.hits,
        None,
        None,
        *second.hits,
    ]
    assert chat.hit_at(len(messages)) is None and chat.hit_at(-1) is None
    assert all(
        marked(messages[i]["content"], "qa-text") == [hit.text] for i, hit in ((2, first.hits[0]), (7, second.hits[0]))
    )
