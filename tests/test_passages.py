from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.documents.corpus import Document, load_corpus
from qa.documents.passages import Passage, SplitConfig, group_sentences, split_document
from qa.documents.sentences import split_sentences
from qa.documents.structure import parse_layout
from tests.helpers import ARTICLE, BENCH, requires_bench
from tests.strategies import any_text, documents

_BREAK = re.compile(r"\r\n|\r|\n")


def doc_of(text: str) -> Document:
    return Document(name="doc.txt", path=Path("doc.txt"), text=text, sha256="x")


def check_invariants(text: str, passages: list[Passage], max_chars: int) -> None:
    layout = parse_layout(text)
    blocks = ([layout.title] if layout.title else []) + list(layout.paragraphs)
    previous_end = 0
    for p in passages:
        quote = text[p.start : p.end]
        assert quote and quote == quote.strip()
        assert previous_end <= p.start, "passages overlap or are out of order"
        previous_end = p.end
        inside = [b for b in blocks if b.start <= p.start and p.end <= b.end]
        assert len(inside) == 1, "a passage must stay inside one paragraph"
        assert p.paragraph == inside[0].number and p.section == inside[0].section
        assert p.line == 1 + len(_BREAK.findall(text, 0, p.start))
        assert p.sentences[0][0] == p.start and p.sentences[-1][1] == p.end
        for (_, e1), (s2, _) in zip(p.sentences, p.sentences[1:], strict=False):
            assert e1 <= s2 and text[e1:s2].strip() == ""
        assert p.end - p.start <= max_chars or len(p.sentences) == 1
    # Together the passages hold every sentence of every paragraph, and nothing else.
    expected = [s for b in blocks for s in split_sentences(text, b.start, b.end)]
    assert [s for p in passages for s in p.sentences] == expected
    for start, end in layout.captions:
        assert all(p.end <= start or p.start >= end for p in passages), "a caption became a passage"


@given(documents() | any_text, st.integers(min_value=40, max_value=700))
def test_passages_are_verbatim_sentence_groups_inside_one_paragraph(text: str, max_chars: int) -> None:
    passages = split_document(doc_of(text), SplitConfig(max_chars=max_chars))
    check_invariants(text, passages, max_chars)


@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=40), st.integers(50, 800))
def test_grouping_is_balanced_and_within_budget(lengths: list[int], max_chars: int) -> None:
    spans, pos = [], 0
    for length in lengths:
        spans.append((pos, pos + length))
        pos += length + 1
    groups = group_sentences(spans, max_chars)
    assert [s for g in groups for s in g] == spans
    for g in groups:
        assert g[-1][1] - g[0][0] <= max_chars or len(g) == 1


def test_article_passages_positions(article_text: str) -> None:
    doc = load_corpus([ARTICLE]).documents[0]
    passages = split_document(doc)
    check_invariants(article_text, passages, SplitConfig().max_chars)
    title = passages[0]
    assert (title.paragraph, title.line, title.section, title.start) == (0, 1, None, 0)
    qijing = next(p for p in passages if "Qijing" in article_text[p.start : p.end])
    assert (qijing.paragraph, qijing.line) == (8, 11)
    assert qijing.section == "01 Huawei's Entry into the Automotive Industry: No Longer a Lifesaver"
    x9 = next(p for p in passages if article_text[p.start : p.end].startswith("The Zhijie X9 (an MPV"))
    assert (x9.paragraph, x9.line, x9.section is not None and x9.section[:2]) == (18, 25, "02")
    assert not any("Image/" in article_text[p.start : p.end] for p in passages)
    assert article_text[passages[-1].start : passages[-1].end] == "Innovation in the service ecosystem is also"


def test_crlf_document_offsets_stay_exact() -> None:
    text = "Title\r\n01\r\nA heading\r\nFirst sentence here. Second one.\r\n\r\nNext paragraph.\r\n"
    passages = split_document(doc_of(text))
    quotes = [(text[p.start : p.end], p.line, p.paragraph) for p in passages]
    assert quotes == [("Title", 1, 0), ("First sentence here. Second one.", 4, 1), ("Next paragraph.", 6, 2)]
    assert passages[1].section == "01 A heading"


@requires_bench()
@pytest.mark.parametrize("path", [ARTICLE, *sorted((BENCH / "squad-dev").glob("*.txt"))], ids=lambda p: p.stem)
def test_median_passage_is_within_budget(path: Path) -> None:
    passages = split_document(load_corpus([path]).documents[0])
    lengths = [p.end - p.start for p in passages]
    assert statistics.median(lengths) <= 450
    assert all(n <= 900 for p, n in zip(passages, lengths, strict=True) if len(p.sentences) > 1)
