from __future__ import annotations

import pytest
from hypothesis import given

from qa.documents.sentences import split_sentences
from tests.strategies import any_text, documents


def texts(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    "text",
    [
        'The "2025 China Automotive Intelligent Experience Research (TXI)" by J.D. Power also shows it.',
        "Making up for deficiencies in basic R & D is an inevitable task.",
        "However, the former only sold 1,649 units in August, and the latter sold 5,203 units.",
        "In early 2024 the penetration rate of urban NOA was only 7.8%, leading brands were favored.",
        "Dr. Smith met Mr. Jones in the U.S. Army camp at 5 p.m. yesterday.",
        "See No. 5 and Fig. 3 for the e.g. case.",
    ],
)
def test_keeps_abbreviations_numbers_and_symbols_inside_one_sentence(text: str) -> None:
    assert texts(text) == [text]


def test_splits_after_quotes_and_question_marks() -> None:
    text = 'A brand named "Qijing." Meanwhile, more came. Did it work? Yes! Done'
    assert texts(text) == ['A brand named "Qijing."', "Meanwhile, more came.", "Did it work?", "Yes!", "Done"]


def test_article_sentences_keep_known_hard_cases(article_text: str) -> None:
    sentences = texts(article_text)
    assert any(
        s.startswith('The "2025 China Automotive Intelligent Experience Research (TXI)" by J.D. Power')
        for s in sentences
    )
    assert "J.D." not in {s.split()[-1] for s in sentences}
    assert sum(1 for s in sentences if "R & D" in s) == 6


def test_over_long_sentence_is_cut_at_whitespace() -> None:
    text = "word " * 500
    spans = split_sentences(text, max_chars=300)
    assert all(e - s <= 300 for s, e in spans)
    assert " ".join(text[s:e] for s, e in spans) == text.strip()


@given(documents() | any_text)
def test_spans_are_ordered_trimmed_and_only_whitespace_lies_between(text: str) -> None:
    spans = split_sentences(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert text[previous_end:start].strip() == ""
        assert text[start:end] == text[start:end].strip()
        previous_end = end
    assert text[previous_end:].strip() == ""
