"""A question prepared for its trip: checked, read in its conversation, cut to what the model reads.

``Asked`` is the record a question travels as, made once by ``Engine.prepare``: the question as
asked, as read (an ellipsis spelled out), the text the model reads and whether it was cut, its vector,
and the earlier questions its context keeps, read and embedded the same way. ``readings`` is the one
place a history is cut: the context keeps the latest ``MAX_TURNS`` earlier questions, and each of them
(like the question) is read against the ``MAX_TURNS`` before it.

An ellipsis — "And the M8?", "what about Baojun?" — is read as the question it shortens: the previous
question (itself read that way) with its name of the same kind (one with a digit for one with a
digit) swapped for the new one, "How many the M8 were sold in August?". A name is a word the corpus
writes capitalised in the middle of its sentences, or one holding a digit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import QuestionError
from .results import Said

MAX_TURNS = 6  # earlier questions that make the context (the most recent ones)
MAX_QUESTION_CHARS = 100_000  # longer questions are refused; the model reads only the first ~250 words
PRONOUN = re.compile(
    r"\b(it|its|it's|they|their|them|theirs|he|his|him|she|her|this|that|these|those|there|then|one|ones)\b",
    re.IGNORECASE,
)
_ELLIPSIS = re.compile(r"^\W*(?:and|what about|how about|same for|ok and|so)\s+(?P<x>[^?]{1,40}?)\s*\??\s*$", re.I)
_ASKING = re.compile(
    r"\b(what|which|who|whom|how|when|where|why|did|does|do|is|are|was|were|will|would|can|could|should|has|have|had)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_][\w'’-]*")
_MID_SENTENCE_WORD = re.compile(r"(?<=[a-z0-9,;:\"'’”)] )([^\W_][\w-]*)")
_DIGIT = re.compile(r"\d")
_ARTICLE_END = re.compile(r"\b(?:the|a|an)\s+$", re.IGNORECASE)
_ARTICLE_START = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
NAME_SHARE = 0.6  # a word capitalised at least this often in mid-sentence is a name


@dataclass(frozen=True)
class Asked:
    """One question as it travels: prepared once, read by ``conversation.read``, ranked by ``Ranker``."""

    question: str  # as asked
    read_as: str  # as read in its conversation: an ellipsis spelled out, anything else as asked
    text: str  # ``read_as`` cut to what the model reads
    truncated: bool  # whether ``text`` is shorter than ``read_as``
    vector: np.ndarray  # ``text`` embedded
    earlier: tuple[str, ...] = ()  # the earlier questions the context keeps (the latest ones), as asked
    earlier_texts: tuple[str, ...] = ()  # each of them read in its own conversation and cut
    earlier_vectors: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    first_turn: int = 0  # the place of ``earlier[0]`` in the conversation (0-based): older turns are cut
    previous: Said | None = None  # what the turn before answered (given by the caller, or answered again)
    previous_rows: tuple[int, int] | None = None  # its passage row and sentence row in the index
    key: tuple[tuple[str, Said | None], ...] = ()  # the conversation up to this question: what its answer is kept by


def check_question(question: object, what: str = "the question") -> str:
    """The question if usable; else ``QuestionError`` saying what to ask instead."""
    if not isinstance(question, str):
        raise QuestionError(f"{what} must be text, not {type(question).__name__}")
    if not question.strip():
        raise QuestionError(f"{what} is empty; type a question about the article")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"{what} is {len(question):,} characters long; ask in at most {MAX_QUESTION_CHARS:,} "
            "(the model reads only the first 250 words or so)"
        )
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8, e.g. from a shell
        raise QuestionError(
            f"{what} holds bytes that are not valid UTF-8; type it again, or set the terminal to UTF-8"
        ) from None
    return question


HISTORY_SHAPE = (
    'history must be a list of the earlier turns, oldest first: each a question, or {"q": question, '
    '"answer": {"doc": name, "start": offset, "end": offset}}'
)


def check_history(history: object) -> tuple[str, ...]:
    """The earlier questions if usable (a list of questions, oldest first); else ``QuestionError``."""
    return check_turns(history)[0]


def check_turns(history: object) -> tuple[tuple[str, ...], tuple[Said | None, ...]]:
    """The earlier turns' questions and, where the caller gave them, their answers; else ``QuestionError``.

    A turn is a question, or an object ``{"q": question, "answer": {"doc": ..., "start": ..., "end": ...}}``
    (the answer may be left out or null)."""
    if isinstance(history, str | bytes) or not isinstance(history, Sequence):
        raise QuestionError(HISTORY_SHAPE)
    questions, answers = [], []
    for turn in history:
        said = None
        if isinstance(turn, dict):
            if set(turn) - {"q", "answer"} or "q" not in turn:
                raise QuestionError(HISTORY_SHAPE)
            said = _said(turn.get("answer"))
            turn = turn["q"]
        questions.append(check_question(turn, "an earlier question of the conversation"))
        answers.append(said)
    return tuple(questions), tuple(answers)


def _said(answer: object) -> Said | None:
    if answer is None:
        return None
    if isinstance(answer, Said):
        return answer
    ok = isinstance(answer, dict) and isinstance(answer.get("doc"), str)
    bounds = [answer.get(k) for k in ("start", "end")] if isinstance(answer, dict) else []
    if not ok or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in bounds):
        raise QuestionError(HISTORY_SHAPE)
    assert isinstance(answer, dict)
    if answer["end"] <= answer["start"]:
        raise QuestionError("an earlier answer's end must come after its start")
    return Said(answer["doc"], answer["start"], answer["end"])


def readings(question: str, history: Sequence[str], names: Names) -> tuple[str, tuple[str, ...]]:
    """``question`` read in its conversation, and the earlier questions the context keeps (the latest
    ``MAX_TURNS``), each read in its own: the one place a history is cut."""
    kept = history[-2 * MAX_TURNS :]  # the context's questions, and those each of them may shorten
    first = max(len(kept) - MAX_TURNS, 0)
    earlier = tuple(read_in_turn(h, kept[max(i - MAX_TURNS, 0) : i], names) for i, h in enumerate(kept) if i >= first)
    return read_in_turn(question, kept[first:], names), earlier


def read_in_turn(question: str, before: Sequence[str], names: Names) -> str:
    """``question`` as read after the questions ``before`` it: each ellipsis spelled out from the one before."""
    previous: str | None = None
    for earlier in before:
        previous = spelled_out(earlier, previous, names) or earlier
    return spelled_out(question, previous, names) or question


def spelled_out(question: str, previous: str | None, names: Names) -> str | None:
    """The question an ellipsis ("And the M8?") shortens, read from the ``previous`` question; None when
    ``question`` is not one."""
    match = _ELLIPSIS.match(question)
    if not match or previous is None:
        return None
    new = match.group("x")
    if _ASKING.search(new) or PRONOUN.search(new) or len(new.split()) > 4:
        return None  # "what about its price?" names nothing to put in: the context reads it instead
    spans = names.spans(previous)
    if not spans:
        return f"{previous.rstrip(' ?')} {new}?"
    digit = bool(_DIGIT.search(new))
    start, end = next((s for s in spans if bool(_DIGIT.search(previous[s[0] : s[1]])) == digit), spans[0])
    if _ARTICLE_END.search(previous[:start]):  # "the M8" in place of "M8" after a "the": one article
        new = _ARTICLE_START.sub("", new)
    return previous[:start] + new + previous[end:]


class Names:
    """The words a corpus writes as names: capitalised in the middle of its sentences (most times)."""

    def __init__(self, texts: Sequence[str]) -> None:
        seen: Counter[str] = Counter()
        capital: Counter[str] = Counter()
        for text in texts:
            for match in _MID_SENTENCE_WORD.finditer(text):
                word = match.group(1)
                seen[word.lower()] += 1
                capital[word.lower()] += word[0].isupper()
        self._names = {w for w, n in seen.items() if capital[w] >= NAME_SHARE * n}

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The runs of names (or words with a digit) in ``text``, as (start, end)."""
        runs: list[tuple[int, int]] = []
        current: tuple[int, int] | None = None
        for match in _WORD.finditer(text):
            word = match.group().lower()
            named = (word in self._names or word.rstrip("s") in self._names or bool(_DIGIT.search(word))) and not (
                _ASKING.fullmatch(word)
            )
            if named:
                current = (current[0] if current else match.start(), match.end())
            elif current:
                runs.append(current)
                current = None
        return [*runs, current] if current else runs
