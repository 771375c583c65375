"""Hypothesis strategies for documents: article-like structure, and arbitrary text."""

from __future__ import annotations

from hypothesis import strategies as st

WORDS = [
    "Huawei",
    "automakers",
    "the",
    "market",
    "J.D.",
    "Power",
    "R",
    "&",
    "D",
    "1,649",
    "7.8%",
    "Dr.",
    "Smith",
    "U.S.",
    "e.g.",
    "No.",
    "5",
    "said",
    '"Qijing."',
    "(EHV)",
    "café",
    "東京",
    "—",
    "-",
    "sales",
    "units",
]
END = [".", "!", "?", '."', "…", ""]


def sentence() -> st.SearchStrategy[str]:
    words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=25).map(" ".join)
    return st.tuples(words, st.sampled_from(END)).map(lambda t: t[0] + t[1])


def line() -> st.SearchStrategy[str]:
    paragraph = st.lists(sentence(), min_size=1, max_size=12).map(" ".join)
    special = st.sampled_from(["01", "02", "Image/Official site", "# A heading", "Short heading", "", "   "])
    return st.one_of(paragraph, paragraph, paragraph, special)


BREAKS = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n \n"])


@st.composite
def documents(draw: st.DrawFn) -> str:
    """Article-like text: paragraphs, markers, headings, captions, mixed line ends."""
    lines = draw(st.lists(line(), min_size=1, max_size=15))
    out = ""
    for i, text in enumerate(lines):
        out += text
        if i < len(lines) - 1 or draw(st.booleans()):
            out += draw(BREAKS)
    return out


any_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(list(" \n\r\t.!?\"'")),
    max_size=400,
)
