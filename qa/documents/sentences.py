"""Split a span of text into sentences, as absolute offsets.

A rule-based splitter tuned on the bundled article and the SQuAD bench texts: it keeps initials
("J.D. Power", "U.S."), titles ("Dr. Smith"), numbers ("1,649", "7.8%") and spaced symbols
("R & D") inside their sentence. A sentence longer than ``max_chars`` is cut at whitespace so that no
unit grows without bound (a document with no punctuation still yields readable pieces).
"""

from __future__ import annotations

import re

# Words that end with a period without ending the sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms mme mlle messrs dr prof sr jr st mt ft gen gov sen rep lt col capt sgt adm rev hon
    e.g i.e cf vs approx ca c al inc ltd corp co bros dept univ est esp""".split()
)
# Words that end with a period without ending the sentence when a number follows ("No. 5").
_NUMBER_ABBREVIATIONS = frozenset(
    """no nos vol vols p pp fig figs art sec ch jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]?$|^[A-Z]$")
_BOUNDARY = re.compile(r"(?:[.!?…]+[\"'”’)\]]*)(?=\s)|[。！？]+[\"'”’」』)\]]*")
_OPENERS = "\"'“‘([«"

DEFAULT_MAX_CHARS = 1000


def split_sentences(
    text: str, start: int = 0, end: int | None = None, max_chars: int = DEFAULT_MAX_CHARS
) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` inside ``text[start:end]``, trimmed of surrounding whitespace.

    The spans are in order, do not overlap, and only whitespace lies between them.
    """
    stop = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for match in _BOUNDARY.finditer(text, start, stop):
        cut = match.end()
        if not _ends_sentence(text, match.start(), cut, stop):
            continue
        spans.extend(_trimmed_pieces(text, pos, cut, max_chars))
        pos = cut
    spans.extend(_trimmed_pieces(text, pos, stop, max_chars))
    return spans


def _ends_sentence(text: str, punct_start: int, cut: int, stop: int) -> bool:
    nxt = cut
    while nxt < stop and text[nxt].isspace():
        nxt += 1
    if nxt >= stop:
        return True
    following = text[nxt]
    if text[punct_start] in "。！？":
        return True
    if not (following.isupper() or following.isdigit() or following in _OPENERS):
        return False
    if text[punct_start] != ".":
        return True
    word_start = punct_start
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:punct_start].lstrip(_OPENERS)
    if _INITIALS.match(word + "."):
        return False
    lowered = word.lower()
    if lowered in _ABBREVIATIONS:
        return False
    return not (lowered in _NUMBER_ABBREVIATIONS and following.isdigit())


def _trimmed_pieces(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """``text[start:end]`` trimmed, cut at whitespace into pieces of at most ``max_chars``."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    pieces: list[tuple[int, int]] = []
    while end - start > max_chars:
        cut = text.rfind(" ", start + max_chars // 2, start + max_chars)
        if cut <= start:
            cut = start + max_chars
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        pieces.append((start, piece_end))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces
