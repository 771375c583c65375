"""What a question gets back: ranked passages with their highlight, and the JSON contract they make.

The engine produces these; the terminal, the HTML, the evaluation and the API all read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..documents.passages import Passage


@dataclass(frozen=True)
class Span:
    """A verbatim piece of a document: ``text == document[start:end]``."""

    start: int
    end: int
    text: str


Highlight = Span  # the sentence of a passage that best answers


@dataclass(frozen=True)
class Said:
    """What an earlier turn answered: a span of a document (its highlighted sentence), by offsets."""

    doc: str
    start: int
    end: int

    def to_json(self) -> dict[str, object]:
        return {"doc": self.doc, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Hit:
    """One ranked passage; ``text == document[passage.start:passage.end]``."""

    rank: int
    score: float
    passage: Passage
    text: str
    highlight: Highlight
    reader: float | None = None  # the reader's probability that the highlight answers (None: not read)

    def to_json(self) -> dict[str, Any]:
        p = self.passage
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "doc": p.doc,
            "start": p.start,
            "end": p.end,
            "text": self.text,
            "section": p.section,
            "paragraph": p.paragraph,
            "line": p.line,
            "highlight": {
                "start": self.highlight.start,
                "end": self.highlight.end,
                "text": self.highlight.text,
                "page": p.page,  # a highlight lies inside its passage, which lies inside one page
            },
            "page": p.page,
            "reader": None if self.reader is None else round(float(self.reader), 4),
        }


@dataclass(frozen=True)
class ReadAs:
    """How a follow-up was read: tied to the earlier question ``follows`` (``turn``: its 1-based place
    in the history), with ``weight`` the share of the reading that came from the conversation, and
    ``question`` the question it was read as when it was an ellipsis ("And the M8?"), else None;
    ``answer`` the previous answer's sentence it was read with, when it was."""

    follows: str
    turn: int
    weight: float
    question: str | None = None
    answer: Span | None = None  # the previous answer the follow-up was read with (its highlighted sentence)

    def to_json(self) -> dict[str, Any]:
        answer = self.answer
        return {
            "follows": self.follows,
            "turn": self.turn,
            "weight": round(self.weight, 3),
            "read_as": self.question,
            "answer": None if answer is None else {"start": answer.start, "end": answer.end, "text": answer.text},
        }


@dataclass(frozen=True)
class Answer:
    """The passages that best answer ``question``; ``answered`` is False when the evidence is weak.

    ``truncated`` tells that the question was longer than the model reads and was cut; ``context`` how
    a follow-up was read (None when the question was read on its own); ``confidence`` the calibrated
    probability that the top passage answers, and ``answered`` whether it reaches the threshold.
    """

    question: str
    answered: bool
    hits: tuple[Hit, ...]
    truncated: bool = False
    context: ReadAs | None = None
    confidence: float = 0.0  # the calibrated probability that the top passage answers (answerability)
    evidence: tuple[float, ...] = ()  # the features that probability was computed from

    def said(self) -> Said | None:
        """What this answer said: its top passage's highlighted sentence (None when it found no passage)."""
        if not self.hits:
            return None
        top = self.hits[0]
        return Said(top.passage.doc, top.highlight.start, top.highlight.end)

    @classmethod
    def from_json(cls, record: dict[str, Any], truncated: bool = False) -> Answer:
        """An answer from its ``to_json`` object (as saved in the browser): passages with the positions
        and text it holds. ``KeyError``/``TypeError``/``ValueError`` when it is not of that shape."""
        hits = []
        for item in record["passages"]:
            light = item["highlight"]
            passage = Passage(
                str(item["doc"]), int(item["start"]), int(item["end"]), item["section"], int(item["paragraph"]),
                int(item["line"]), (), item["page"] if item["page"] is None else int(item["page"]),
            )  # fmt: skip
            highlight = Span(int(light["start"]), int(light["end"]), str(light["text"]))
            if not passage.start <= highlight.start <= highlight.end <= passage.end:
                raise ValueError("a highlight outside its passage")
            said = item.get("reader")
            reader = None if said is None else float(said)
            hits.append(Hit(int(item["rank"]), float(item["score"]), passage, str(item["text"]), highlight, reader))
        context = record["context"]
        read = None
        if context is not None:
            said = context.get("answer")
            answer = None if said is None else Span(int(said["start"]), int(said["end"]), str(said["text"]))
            read = ReadAs(
                str(context["follows"]), int(context["turn"]), float(context["weight"]), context["read_as"], answer
            )
        return cls(
            str(record["question"]), bool(record["answered"]), tuple(hits), truncated, read,
            float(record["confidence"]),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of ``qa ask --json`` and the app's ``/ask`` endpoint."""
        return {
            "question": self.question,
            "answered": self.answered,
            "passages": [h.to_json() for h in self.hits],
            "context": self.context.to_json() if self.context else None,
            "confidence": round(self.confidence, 4),
        }
