"""Show an answer to a person: the presentation helpers both faces share, and the terminal text.

``position`` and ``quote_parts`` are the one place that says how a passage's place is written and how
a quote is cut around its highlight; ``qa.app.web`` builds the app's HTML from them.
"""

from __future__ import annotations

from collections.abc import Sequence

from .answering.results import Answer, Hit, ReadAs
from .documents.passages import Passage

NOT_ANSWERED = "The article does not say."
NOT_ANSWERED_MANY = "The documents do not say."
CLOSEST = "Closest passages, for checking:"
STRONG = 0.6  # confidence from which the evidence is called strong
ANSWER_CHARS = 100  # a previous answer quoted in how a follow-up was read is cut to this


def not_answered(documents: int = 1) -> str:
    """What a refusal says: plainly that the text does not say (one document: "the article")."""
    return NOT_ANSWERED if documents <= 1 else NOT_ANSWERED_MANY


def refusal(names: Sequence[str], article: bool = False) -> str:
    """A refusal naming what was searched: the bundled article, the one document, or how many."""
    if article or not names:
        return NOT_ANSWERED
    if len(names) == 1:
        return f"{names[0]} does not say."
    return f"None of your {len(names)} documents says this."


def evidence(answer: Answer) -> str:
    """The confidence in words: strong, some (answered) or weak (refused) evidence."""
    if not answer.answered:
        return "weak evidence"
    return "strong evidence" if answer.confidence >= STRONG else "some evidence"


ANSI_MARK = ("\x1b[1;7m", "\x1b[0m")
PLAIN_MARK = ("»", "«")


def position_parts(passage: Passage, section_chars: int | None = None) -> list[str]:
    """Where a passage stands: document, page (paged documents), section, ¶ paragraph (or title), line,
    characters.

    ``section_chars`` shortens a long section heading to that many characters (with an ellipsis).
    """
    p = passage
    parts = [p.doc]
    if p.page is not None:
        parts.append(f"p. {p.page}")
    if p.section:
        section = p.section
        if section_chars is not None and len(section) > section_chars:
            section = section[: section_chars - 1].rstrip() + "…"
        parts.append(section)
    parts += ["title" if p.paragraph == 0 else f"¶ {p.paragraph}", f"line {p.line}", f"chars {p.start}–{p.end}"]
    return parts


def position(passage: Passage) -> str:
    """``position_parts`` as one line: ``doc · section · ¶ 3 · line 7 · chars 100–250``."""
    return " · ".join(position_parts(passage))


def quote_parts(hit: Hit) -> tuple[str, str, str]:
    """The passage text cut around its highlight: (before, highlight, after)."""
    p, h = hit.passage, hit.highlight
    return hit.text[: h.start - p.start], hit.text[h.start - p.start : h.end - p.start], hit.text[h.end - p.start :]


def read_as(context: ReadAs, quotes: tuple[str, str] = ('"', '"')) -> str:
    """How a follow-up was read, in words: 'read as a follow-up to "…"' (and as which question)."""
    left, right = quotes
    spelled = f"read as {left}{context.question}{right}, " if context.question else "read as "
    said = ""
    if context.answer is not None:
        text = context.answer.text
        short = text if len(text) <= ANSWER_CHARS else text[: ANSWER_CHARS - 1].rstrip() + "…"
        said = f", with your previous answer: {left}{short}{right}"
    return f"{spelled}a follow-up to {left}{context.follows}{right}{said}"


def text_answer(answer: Answer, color: bool = False, documents: int = 1) -> str:
    """A readable block: the short answer (or a plain refusal), its confidence, then each passage quoted
    verbatim with position and score."""
    mark = ANSI_MARK if color else PLAIN_MARK
    lines = [f"Q: {answer.question}"]
    if answer.context is not None:
        lines.append(f"({read_as(answer.context)})")
    if answer.truncated:
        lines.append("(the question was longer than the model reads; only its beginning was used)")
    if not answer.hits:
        lines.append("No passages.")
        return "\n".join(lines)
    if answer.answered:
        lines.append(f"A: {answer.hits[0].highlight.text}")
    else:
        lines.append(f"{not_answered(documents)} {CLOSEST}")
    lines.append(f"(confidence {answer.confidence:.2f}: {evidence(answer)})")
    for hit in answer.hits:
        before, inside, after = quote_parts(hit)
        lines.append("")
        lines.append(f"[{hit.rank}] {position(hit.passage)} · score {hit.score:.3f}")
        lines.extend(f"    > {line}" for line in f"{before}{mark[0]}{inside}{mark[1]}{after}".split("\n"))
    return "\n".join(lines)
