"""Show an answer to a person: as terminal text here; the app's HTML lives in ``qa.web``."""

from __future__ import annotations

from .passages import Passage
from .search import Answer, Hit

NOT_ANSWERED = "The article does not seem to answer this question. The closest passages are:"
ANSI_MARK = ("\x1b[1;7m", "\x1b[0m")
PLAIN_MARK = ("»", "«")


def position(passage: Passage) -> str:
    """Where a passage stands: document · section · ¶ paragraph (or title) · line · characters."""
    p = passage
    parts = [p.doc]
    if p.section:
        parts.append(p.section)
    parts += ["title" if p.paragraph == 0 else f"¶ {p.paragraph}", f"line {p.line}", f"chars {p.start}–{p.end}"]
    return " · ".join(parts)


def marked_quote(hit: Hit, mark: tuple[str, str]) -> str:
    """The passage text with its highlight wrapped in ``mark``."""
    p, h = hit.passage, hit.highlight
    before = hit.text[: h.start - p.start]
    inside = hit.text[h.start - p.start : h.end - p.start]
    after = hit.text[h.end - p.start :]
    return f"{before}{mark[0]}{inside}{mark[1]}{after}"


def text_answer(answer: Answer, color: bool = False) -> str:
    """A readable block: the short answer, then each passage quoted verbatim with position and score."""
    mark = ANSI_MARK if color else PLAIN_MARK
    lines = [f"Q: {answer.question}"]
    if answer.truncated:
        lines.append("(the question was longer than the model reads; only its beginning was used)")
    if not answer.hits:
        lines.append("No passages.")
        return "\n".join(lines)
    if answer.answered:
        lines.append(f"A: {answer.hits[0].highlight.text}")
    else:
        lines.append(NOT_ANSWERED)
    for hit in answer.hits:
        lines.append("")
        lines.append(f"[{hit.rank}] {position(hit.passage)} · score {hit.score:.3f}")
        lines.extend(f"    > {line}" for line in marked_quote(hit, mark).split("\n"))
    return "\n".join(lines)
