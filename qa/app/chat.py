"""One browser session as data: its documents, its turns, and which chat message quotes which passage.

A reply is shown as several chat messages (``qa.app.web``): the question, the head of the answer, then one
message per quoted passage. ``Conversation`` remembers each turn's answer and where its quotes start,
so a click on a message (Gradio's select event carries only its index) finds the passage it quotes.
It lives in the browser session's state: another session never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..answering.results import Answer, Hit
from . import web
from .workspace import Source

Message = dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """One question and its answer; ``first_quote`` is the chat index of the message quoting hit 1."""

    answer: Answer
    first_quote: int


@dataclass
class Conversation:
    """The turns of one chat, oldest first."""

    turns: list[Turn] = field(default_factory=list)

    def add(self, answer: Answer, messages: list[Message], documents: int = 1) -> list[Message]:
        """``messages`` (the chat so far) followed by this turn's question, answer head and quotes."""
        shown = [
            {"role": "user", "content": web.question_html(answer.question)},
            {"role": "assistant", "content": web.answer_html(answer, documents)},
        ]
        self.turns.append(Turn(answer, len(messages) + len(shown)))
        shown += [{"role": "assistant", "content": web.quote_html(hit)} for hit in answer.hits]
        return [*messages, *shown]

    def questions(self) -> list[str]:
        """The questions asked so far, oldest first: the history of the next one."""
        return [turn.answer.question for turn in self.turns]

    def hit_at(self, message: int) -> Hit | None:
        """The passage quoted by chat message ``message``, or None when that message quotes none."""
        for turn in self.turns:
            rank = message - turn.first_quote
            if 0 <= rank < len(turn.answer.hits):
                return turn.answer.hits[rank]
        return None


@dataclass
class Session:
    """What one browser session holds: its documents (as ``Source``) and its conversation."""

    sources: tuple[Source, ...]
    conversation: Conversation = field(default_factory=Conversation)

    def listing(self) -> list[tuple[str, int, int, bool]]:
        """(name, pages, passages, bundled) of each document, for ``web.documents_html``."""
        return [(s.name, s.pages, s.passages, s.bundled) for s in self.sources]
