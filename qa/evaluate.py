"""Measure retrieval on question files in the ``../shared/bench`` format: the one evaluation path.

Each row is ``{"id", "q", "answers": [{"text", "start", "end"}]}``; an empty ``answers`` list means the
document does not answer. A question is a hit at rank r when the passage at rank r is in the right
document and contains one whole gold span; highlight@1 asks the same of the top highlight.

``evaluate`` runs anything that answers like the engine (``Answerer``) over questions and returns
``Metrics``; ``qa eval``, the quality tests and the baseline comparison all call it.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .answering.engine import Turn
from .answering.question import check_turns
from .answering.results import Answer, Span
from .documents.corpus import Document
from .documents.passages import Passage
from .errors import QAError, QuestionError

Gold = Span  # a gold answer span of a bench question


@dataclass(frozen=True)
class Question:
    """One bench row: ``history`` holds the earlier turns of its conversation (oldest first: each a
    question, or ``{"q": ..., "answer": {"doc", "start", "end"}}``),
    ``doc`` the document that must hold the answer (when the corpus has several), ``kind`` a label
    such as ``"switch"`` (a question with history that names its own new subject)."""

    id: str
    q: str
    answers: tuple[Gold, ...]
    history: tuple[Turn, ...] = ()
    doc: str | None = None
    kind: str | None = None

    @property
    def turn(self) -> str:
        """``"first"`` (no history), ``"switch"`` (history, but labelled a topic switch) or ``"follow-up"``."""
        if not self.history:
            return "first"
        return "switch" if self.kind == "switch" else "follow-up"


@dataclass(frozen=True)
class Metrics:
    """Retrieval quality on one question set (rates are fractions, 0 to 1)."""

    questions: int
    answerable: int
    unanswerable: int
    hit1: float
    hit3: float
    hit5: float
    mrr: float
    highlight1: float
    rejected_unanswerable: float | None
    wrongly_rejected: float
    median_chars: float
    not_verbatim: int


class Answerer(Protocol):
    """What ``evaluate`` needs: the documents and passages it answers from, and answers in batches."""

    @property
    def documents(self) -> tuple[Document, ...]: ...

    @property
    def passages(self) -> tuple[Passage, ...]: ...

    def ask_many(
        self,
        questions: Sequence[str],
        k: int = ...,
        *,
        histories: Sequence[Sequence[Turn]] | None = ...,
    ) -> list[Answer]: ...


def evaluate(answerer: Answerer, questions: Sequence[Question], doc: str, k: int = 5) -> Metrics:
    """Answer every question (in its conversation) and measure the answers against the gold spans.

    A hit must be in the question's own ``doc`` when it names one, else in ``doc``.
    """
    return evaluate_groups(answerer, questions, doc, k)[""]


def evaluate_groups(
    answerer: Answerer,
    questions: Sequence[Question],
    doc: str,
    k: int = 5,
    *,
    groups: Sequence[str] = (),
) -> dict[str, Metrics]:
    """``evaluate`` of all the questions (key ``""``) and of each kind of turn in ``groups`` that has
    any (``Question.turn``), every question answered once."""
    histories = [q.history for q in questions]
    answers = answerer.ask_many([q.q for q in questions], k, histories=histories) if questions else []
    texts = {d.name: d.text for d in answerer.documents}
    lengths = [p.end - p.start for p in answerer.passages]
    out = {"": score(questions, answers, doc, texts, lengths)}
    for kind in groups:
        picked = [i for i, q in enumerate(questions) if q.turn == kind]
        if picked:
            chosen = [questions[i] for i in picked], [answers[i] for i in picked]
            out[kind] = score(*chosen, doc, texts, lengths)
    return out


def read_questions(path: Path) -> list[Question]:
    """Questions from JSON Lines with a ``q`` field, or from plain lines of text (blank lines skipped)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QAError(f"cannot read questions file {path} ({exc}); pass a UTF-8 JSON Lines file") from None
    out: list[Question] = []
    # Lines end at "\n" only: str.splitlines would also cut at U+2028, U+0085 and others inside questions.
    for number, line in enumerate((ln.removesuffix("\r") for ln in raw.split("\n")), start=1):
        if not line.strip():
            continue
        if not line.lstrip().startswith("{"):
            out.append(Question(id=f"{path.name}:{number}", q=line, answers=()))
            continue
        out.append(_question_row(path, number, line))
    return out


def _question_row(path: Path, number: int, line: str) -> Question:
    try:
        row = json.loads(line)
        question = row["q"]
        answers = tuple(Gold(int(a["start"]), int(a["end"]), str(a["text"])) for a in row.get("answers", []))
        history = row.get("history") or []
        doc = row.get("doc")
    except (ValueError, KeyError, TypeError, OverflowError, AttributeError) as exc:
        raise QAError(
            f"{path}:{number}: not a question row ({type(exc).__name__}: {exc}); "
            'each line must be JSON like {"q": "your question"} or plain text'
        ) from None
    if not isinstance(question, str):
        raise QAError(f'{path}:{number}: "q" must be a string')
    try:
        check_turns(history)
    except QuestionError as exc:
        raise QAError(f"{path}:{number}: {exc}") from None
    if doc is not None and not isinstance(doc, str):
        raise QAError(f'{path}:{number}: "doc" must be the name of a document, as a string')
    kind = row.get("kind")
    return Question(
        id=str(row.get("id", f"{path.name}:{number}")),
        q=question,
        answers=answers,
        history=tuple(history),
        doc=doc,
        kind=kind if isinstance(kind, str) else None,
    )


def first_hit_rank(answer: Answer, gold: Sequence[Gold], doc: str) -> int | None:
    """Rank of the first passage in ``doc`` holding a whole gold span, or None."""
    for hit in answer.hits:
        p = hit.passage
        if p.doc == doc and any(p.start <= g.start and g.end <= p.end for g in gold):
            return hit.rank
    return None


def highlight_hit(answer: Answer, gold: Sequence[Gold], doc: str) -> bool:
    if not answer.hits:
        return False
    top = answer.hits[0]
    h = top.highlight
    return top.passage.doc == doc and any(h.start <= g.start and g.end <= h.end for g in gold)


def verbatim_errors(answer: Answer, texts: dict[str, str]) -> int:
    """Hits whose quote or highlight is not exactly the document's text at their offsets."""
    bad = 0
    for hit in answer.hits:
        p, h = hit.passage, hit.highlight
        text = texts[p.doc]
        if (
            hit.text != text[p.start : p.end]
            or h.text != text[h.start : h.end]
            or not (p.start <= h.start <= h.end <= p.end)
        ):
            bad += 1
    return bad


def score(
    questions: Sequence[Question],
    answers: Sequence[Answer],
    doc: str,
    texts: dict[str, str],
    passage_lengths: Sequence[int],
) -> Metrics:
    """Metrics of ``answers`` (one per question, same order) against the gold spans in ``doc``."""
    ranks: list[int | None] = []
    highlights = 0
    rejected = 0
    wrongly = 0
    not_verbatim = 0
    unanswerable = 0
    for question, answer in zip(questions, answers, strict=True):
        not_verbatim += verbatim_errors(answer, texts)
        if not question.answers:
            unanswerable += 1
            rejected += not answer.answered
            continue
        target = question.doc or doc
        ranks.append(first_hit_rank(answer, question.answers, target))
        highlights += highlight_hit(answer, question.answers, target)
        wrongly += not answer.answered
    n = len(ranks)

    def rate(count: float) -> float:
        return count / n if n else 0.0

    return Metrics(
        questions=len(questions),
        answerable=n,
        unanswerable=unanswerable,
        hit1=rate(sum(r is not None and r <= 1 for r in ranks)),
        hit3=rate(sum(r is not None and r <= 3 for r in ranks)),
        hit5=rate(sum(r is not None and r <= 5 for r in ranks)),
        mrr=rate(sum(1.0 / r for r in ranks if r is not None)),
        highlight1=rate(highlights),
        rejected_unanswerable=rejected / unanswerable if unanswerable else None,
        wrongly_rejected=rate(wrongly),
        median_chars=float(statistics.median(passage_lengths)) if passage_lengths else 0.0,
        not_verbatim=not_verbatim,
    )


def mean_metrics(rows: Sequence[Metrics]) -> Metrics:
    """The unweighted mean over question sets (counts are summed)."""

    def avg(values: Sequence[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    rejections = [m.rejected_unanswerable for m in rows if m.rejected_unanswerable is not None]
    return Metrics(
        questions=sum(m.questions for m in rows),
        answerable=sum(m.answerable for m in rows),
        unanswerable=sum(m.unanswerable for m in rows),
        hit1=avg([m.hit1 for m in rows]),
        hit3=avg([m.hit3 for m in rows]),
        hit5=avg([m.hit5 for m in rows]),
        mrr=avg([m.mrr for m in rows]),
        highlight1=avg([m.highlight1 for m in rows]),
        rejected_unanswerable=avg(rejections) if rejections else None,
        wrongly_rejected=avg([m.wrongly_rejected for m in rows]),
        median_chars=avg([m.median_chars for m in rows]),
        not_verbatim=sum(m.not_verbatim for m in rows),
    )


def pool_metrics(rows: Sequence[Metrics]) -> Metrics:
    """Several question sets taken as one: rates weighted by the questions they are rates of."""

    def pooled(field: str, weight: str) -> float:
        total = sum(getattr(m, weight) for m in rows)
        return sum((getattr(m, field) or 0.0) * getattr(m, weight) for m in rows) / total if total else 0.0

    unanswerable = sum(m.unanswerable for m in rows)
    return dataclasses.replace(
        mean_metrics(rows),
        hit1=pooled("hit1", "answerable"),
        hit3=pooled("hit3", "answerable"),
        hit5=pooled("hit5", "answerable"),
        mrr=pooled("mrr", "answerable"),
        highlight1=pooled("highlight1", "answerable"),
        wrongly_rejected=pooled("wrongly_rejected", "answerable"),
        rejected_unanswerable=pooled("rejected_unanswerable", "unanswerable") if unanswerable else None,
    )
