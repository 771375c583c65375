"""A conversation to take away: as Markdown for a person, as JSON lines (the ``/ask`` object) for a program.

Every quote is written verbatim, each line of it behind ``> `` and nothing else changed, with its place
(document · page · section · ¶ · line · characters), so that a reader can check it against the source.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..render import CLOSEST, evidence, position, read_as
from .chat import Turn


def markdown(turns: Sequence[Turn], title: str = "Conversation") -> str:
    """The conversation as Markdown: each question, its answer (or refusal), confidence, how a follow-up
    was read, and every quoted passage verbatim with its position and highlighted sentence."""
    lines = [f"# {title}", ""]
    for number, turn in enumerate(turns, 1):
        answer = turn.answer
        lines += [f"## {number}. {answer.question}", ""]
        if answer.context is not None:
            lines += [f"*{read_as(answer.context, ('“', '”')).capitalize()}*", ""]
        if not answer.hits:
            lines += ["No passage to show.", ""]
            continue
        said = f"**Answer:** {answer.hits[0].highlight.text}" if answer.answered else f"**{turn.refusal()}** {CLOSEST}"
        lines += [said, "", f"Confidence {answer.confidence:.2f} ({evidence(answer)}).", ""]
        if turn.left_out:
            lines += [f"Answered without {', '.join(turn.left_out)} (still being read).", ""]
        for hit in answer.hits:
            h = hit.highlight
            lines.append(f"[{hit.rank}] {position(hit.passage)} · score {hit.score:.3f}")
            lines.append("")
            lines += [f"> {line}" if line else ">" for line in hit.text.split("\n")]
            lines += ["", f"Highlighted (chars {h.start}–{h.end}): “{h.text}”", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def json_lines(turns: Sequence[Turn]) -> str:
    """One ``/ask`` JSON object per turn, oldest first."""
    return "".join(json.dumps(turn.answer.to_json(), ensure_ascii=False) + "\n" for turn in turns)
