from __future__ import annotations

from qa.documents.structure import parse_layout, split_lines


def test_article_title_sections_and_captions(article_text: str) -> None:
    layout = parse_layout(article_text)
    assert layout.title is not None
    assert article_text[layout.title.start : layout.title.end].startswith("HarmonyOS Smart Mobility is expanding")
    captions = [article_text[s:e] for s, e in layout.captions]
    assert captions == ["Image/Huawei Intelligent Automotive Solution Official Website", "Image/GAC Trumpchi Official"]
    sections = {p.section for p in layout.paragraphs}
    assert sections == {
        None,
        "01 Huawei's Entry into the Automotive Industry: No Longer a Lifesaver",
        "02 Automakers Need to Stand on Their Own Feet Despite Technological Support",
        "03 Find Differentiation and Build a New Paradigm for Breaking Through",
    }


def test_article_paragraphs_are_numbered_as_a_reader_counts_them(article_text: str) -> None:
    layout = parse_layout(article_text)
    paragraphs = layout.paragraphs
    # 40 lines: the title, 3 markers, 3 headings and 2 captions are not body paragraphs.
    assert len(paragraphs) == 40 - 1 - 3 - 3 - 2
    assert [p.number for p in paragraphs] == list(range(1, len(paragraphs) + 1))
    first = paragraphs[0]
    assert (first.number, first.line, first.section) == (1, 2, None)
    assert article_text[first.start : first.end].startswith("Huawei doesn't manufacture cars")
    qijing = next(p for p in paragraphs if "Qijing" in article_text[p.start : p.end])
    assert (qijing.number, qijing.line) == (8, 11)
    assert qijing.section is not None and qijing.section.startswith("01 ")
    last = paragraphs[-1]
    assert article_text[last.start : last.end] == "Innovation in the service ecosystem is also"
    assert last.line == 40 and last.section is not None and last.section.startswith("03 ")


def test_blank_line_separated_paragraphs_as_in_squad_files() -> None:
    text = "First paragraph, quite long. " * 10 + "\n\nSecond paragraph here.\n\nThird one."
    layout = parse_layout(text)
    assert layout.title is None
    assert [p.line for p in layout.paragraphs] == [1, 3, 5]


def test_markdown_wrapped_paragraphs_headings_and_lists() -> None:
    text = (
        "# Guide\n\n"
        "## Setup\n\n"
        "This paragraph is wrapped\nover two lines.\n\n"
        "- first item\n- second item\n\n"
        "## Use\n\n"
        "Run it.\n"
    )
    layout = parse_layout(text)
    assert layout.title is not None and text[layout.title.start : layout.title.end] == "Guide"
    texts = [(text[p.start : p.end], p.section) for p in layout.paragraphs]
    assert texts == [
        ("This paragraph is wrapped\nover two lines.", "Setup"),
        ("- first item", "Setup"),
        ("- second item", "Setup"),
        ("Run it.", "Use"),
    ]


def test_line_numbers_count_crlf_and_cr_as_one_break() -> None:
    lines = split_lines("a\r\nb\rc\nd")
    assert [(ln.number, ln.start, ln.end) for ln in lines] == [(1, 0, 1), (2, 3, 4), (3, 5, 6), (4, 7, 8)]


def test_a_one_line_document_is_a_paragraph_not_a_title() -> None:
    layout = parse_layout("Only one short line.")
    assert layout.title is None
    assert len(layout.paragraphs) == 1


def test_a_sentence_after_a_number_line_stays_a_paragraph() -> None:
    text = (
        "A title for the piece\n"
        "3\n"
        "The company sold five million cars last year in China, more than ever before.\n"
        "Exports doubled.\n"
    )
    layout = parse_layout(text)
    assert [text[p.start : p.end] for p in layout.paragraphs] == [
        "The company sold five million cars last year in China, more than ever before.",
        "Exports doubled.",
    ]


def test_markdown_heading_keeps_a_hash_that_ends_a_word_and_drops_a_closing_sequence() -> None:
    text = "# Intro to C#\n\n## Setup ##\n\nSome text here.\n"
    layout = parse_layout(text)
    assert layout.title is not None and text[layout.title.start : layout.title.end] == "Intro to C#"
    assert layout.paragraphs[0].section == "Setup"
