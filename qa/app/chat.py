"""One browser session as data: its documents, those being read, its turns, and which chat message quotes
which passage.

A reply is shown as several chat messages (``qa.app.web``): the question, the head of the answer, then one
message per quoted passage. The chat's messages are always built from the session's turns
(``Conversation.messages``), so a click on a message (Gradio's select event carries only its index)
finds the passage it quotes from the same record. A ``Session`` lives on the server, one per page load,
changed only under its lock: another session never sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..answering.results import Answer, Hit
from ..render import refusal
from . import web
from .jobs import Job
from .workspace import Source

Message = dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """One question and its answer, with the documents it was answered from (``searched``; ``article``
    when that was the bundled article alone) and those still being read that it did not wait for."""

    answer: Answer
    searched: tuple[str, ...] = ()
    article: bool = False
    left_out: tuple[str, ...] = ()

    def refusal(self) -> str:
        return refusal(self.searched, self.article)


@dataclass
class Conversation:
    """The turns of one chat, oldest first."""

    turns: list[Turn] = field(default_factory=list)

    def messages(self) -> list[Message]:
        """The chat as Gradio shows it: each turn's question, answer head and quotes."""
        shown: list[Message] = []
        for turn in self.turns:
            shown.append({"role": "user", "content": web.question_html(turn.answer.question)})
            head = web.answer_html(turn.answer, refusal=turn.refusal(), left_out=turn.left_out)
            shown.append({"role": "assistant", "content": head})
            shown += [{"role": "assistant", "content": web.quote_html(hit)} for hit in turn.answer.hits]
        return shown

    def history(self) -> list[dict[str, Any]]:
        """The turns so far, oldest first, each question with what it answered (its top highlight): the
        history of the next question, so the engine reads a follow-up with the answer shown here."""
        return [
            {"q": t.answer.question, "answer": None if (s := t.answer.said()) is None else s.to_json()}
            for t in self.turns
        ]

    def hit_at(self, message: int) -> Hit | None:
        """The passage quoted by chat message ``message``, or None when that message quotes none."""
        first = 0
        for turn in self.turns:
            rank = message - first - 2  # the question and the answer head come first
            if 0 <= rank < len(turn.answer.hits):
                return turn.answer.hits[rank]
            first += 2 + len(turn.answer.hits)
        return None


@dataclass
class Session:
    """What one browser session holds: its documents (as ``Source``), the documents being read for it
    (``pending``, in the order chosen), its conversation, and status lines not yet shown.

    ``version`` counts changes, so the page redraws only when something changed; ``skip_wait`` is set
    when the person chooses to be answered without the documents still being read.
    """

    key: str
    sources: tuple[Source, ...]
    conversation: Conversation = field(default_factory=Conversation)
    pending: list[Job] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    version: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    skip_wait: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def listing(self) -> list[tuple[str, int, int, bool]]:
        """(name, pages, passages, bundled) of each document, for ``web.documents_html``."""
        return [(s.name, s.pages, s.passages, s.bundled) for s in self.sources]

    def reading(self) -> list[tuple[str, str, float]]:
        """(name, state, fraction done) of each document being read."""
        return [(j.name, j.state, j.done_fraction) for j in self.pending]

    def changed(self) -> None:
        self.version += 1


def searched(sources: Sequence[Source]) -> tuple[tuple[str, ...], bool]:
    """The names a question is answered from, and whether that is one bundled document (the article)."""
    return tuple(s.name for s in sources), len(sources) == 1 and sources[0].bundled
