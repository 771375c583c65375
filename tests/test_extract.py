"""PDF, Word and HTML files: what is stored, its pages and headings, and every kind of bad file.

The files are made here: PDFs printed by Chromium (with its date/URL/page-number header and footer),
Word files by python-docx, HTML pages with a cookie banner, navigation, sidebar, footer and scripts.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from qa.answering.engine import Engine
from qa.documents.corpus import load_corpus, read_document
from qa.documents.passages import split_document
from qa.errors import DocumentError
from tests.documents import (
    encrypted_pdf,
    page_html,
    print_pdf,
    requires_chromium,
    scanned_pdf,
    word_file,
    zip_bomb,
)
from tests.helpers import BENCH, check_answer, requires_bench

SQUAD = BENCH / "squad-dev" / "Normans.txt"
pytestmark = requires_bench()


def paragraphs(limit: int = 40) -> list[str]:
    return [p for p in SQUAD.read_text(encoding="utf-8").split("\n\n") if p.strip()][:limit]


@pytest.fixture(scope="module")
def normans_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pdf")
    return print_pdf(page_html("The Normans", paragraphs(), headings_every=4), folder / "normans.pdf")


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


@requires_chromium()
def test_a_printed_pdf_keeps_every_word_in_order_and_no_page_chrome(normans_pdf: Path) -> None:
    document = read_document(normans_pdf, "normans.pdf")
    source = " ".join(paragraphs())
    assert words(document.text) == ["the", "normans", *[w for p in _with_parts(paragraphs()) for w in words(p)]]
    assert "file:" not in document.text and not re.search(r"\b\d+/\d+\b", document.text)  # URL, "2/9"
    assert document.pages and document.pages[0][0] == 0 and len(source) < len(document.text) + 200
    title = document.headings[0]
    assert document.text[title[0] : title[1]] == "The Normans" and title[2] == 1
    assert {document.text[s:e] for s, e, level in document.headings if level == 2} >= {"Part 1", "Part 2"}


def _with_parts(texts: list[str]) -> list[str]:
    out = []
    for i, text in enumerate(texts):
        if i % 4 == 0:
            out.append(f"Part {i // 4 + 1}")
        out.append(text)
    return out


@requires_chromium()
def test_every_pdf_passage_lies_in_one_page_whose_printed_text_holds_it(normans_pdf: Path) -> None:
    import pypdfium2 as pdfium

    document = read_document(normans_pdf, "normans.pdf")
    pdf = pdfium.PdfDocument(normans_pdf)
    printed = [" ".join(words(pdf[i].get_textpage().get_text_range())) for i in range(len(pdf))]
    passages = split_document(document)
    assert passages and all(p.page is not None for p in passages)
    for p in passages:
        assert p.page is not None
        start, end = document.pages[p.page - 1]
        assert start <= p.start < p.end <= end
        first = " ".join(words(document.text[p.start : p.end])[:6])
        assert first in printed[p.page - 1].replace("- ", ""), (p.page, first)


@requires_chromium()
def test_a_pdf_is_answered_with_its_page_in_the_json(normans_pdf: Path, fake_model: object) -> None:
    engine = Engine.open([normans_pdf])
    answer = engine.ask("Who was the leader of the Norse raiders?", 3).to_json()
    check_answer(answer, engine.texts, 3)
    assert all(isinstance(p["page"], int) and p["page"] >= 1 for p in answer["passages"])


def test_html_keeps_the_article_and_leaves_out_its_chrome(tmp_path: Path) -> None:
    path = tmp_path / "normans.html"
    path.write_text(page_html("The Normans", paragraphs(8), headings_every=4, chrome=True), encoding="utf-8")
    document = read_document(path, path.name)
    for chrome in ("cookies", "About us", "Related stories", "Copyright", "tracker"):
        assert chrome not in document.text
    assert words(document.text) == ["the", "normans", *[w for p in _with_parts(paragraphs(8)) for w in words(p)]]
    assert [document.text[s:e] for s, e, _ in document.headings] == ["The Normans", "Part 1", "Part 2"]
    assert document.pages == ()


def test_a_page_nested_200000_levels_deep_is_read(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    deep = "<div>" * 200_000 + "<p>Lake Baikal is the deepest lake in the world.</p>" + "</div>" * 200_000
    path.write_text(f"<html><body>{deep}</body></html>", encoding="utf-8")
    assert read_document(path, path.name).text == "Lake Baikal is the deepest lake in the world."


def test_a_page_whose_text_is_one_10_mb_line_is_read(tmp_path: Path) -> None:
    path = tmp_path / "long.html"
    line = "Lake Baikal is the deepest lake. " * 330_000  # 10.9 MB in one text node
    path.write_text(f"<html><body><p>{line}</p></body></html>", encoding="utf-8")
    assert read_document(path, path.name).text == line.strip()


def test_nested_lists_line_breaks_and_bold_words_keep_every_word_once(tmp_path: Path) -> None:
    path = tmp_path / "lists.html"
    body = (
        "<p>The M<b>9</b> is the flagship car of this long sentence.<br>Its second line follows the break.</p>"
        "<ul><li>Charging takes twenty minutes <ul><li>at a fast charger on the motorway</li></ul></li>"
        "<li>Range is seven hundred kilometres</li></ul>"
    )
    path.write_text(f"<html><body><article><h1>Cars</h1>{body}</article></body></html>", encoding="utf-8")
    text = read_document(path, path.name).text
    assert "The M9 is" in text and "sentence. Its second" in text
    assert text.count("at a fast charger") == 1 and text.count("Charging takes") == 1


def test_a_merged_word_table_cell_is_read_once(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "Prices of the three models in euros"
    for column, price in enumerate(["M5 costs 25000", "M7 costs 33000", "M9 costs 47000"]):
        table.cell(1, column).text = price
    path = tmp_path / "prices.docx"
    document.save(str(path))
    text = read_document(path, path.name).text
    assert text.count("Prices of the three models") == 1 and "M9 costs 47000" in text


def test_word_headings_become_sections(tmp_path: Path) -> None:
    path = word_file(
        tmp_path / "normans.docx", "The Normans", [("Origins", paragraphs(2)), ("Conquest", paragraphs(4)[2:])]
    )
    document = read_document(path, path.name)
    passages = split_document(document)
    assert list(dict.fromkeys(p.section for p in passages if p.paragraph > 0)) == ["Origins", "Conquest"]
    assert passages[0].paragraph == 0 and document.text.startswith("The Normans\n\n")
    assert all(p.page is None for p in passages)


def test_the_same_file_is_converted_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.html"
    path.write_text(page_html("Rivers", ["Rivers flow to the sea. The sea is salty."]), encoding="utf-8")
    first = read_document(path, "a.html")
    monkeypatch.setattr("qa.documents.extract._run_worker", lambda *args: pytest.fail("converted again"))
    assert read_document(path, "again.html").text == first.text


BAD = {
    "encrypted.pdf": "encrypted PDF",
    "scanned.pdf": "scanned PDF: no text to quote; OCR is not supported",
    "truncated.pdf": "is not a readable PDF",
    "random.pdf": "is not a readable PDF",
    "bomb.docx": "zip bomb",
    "broken.docx": "is not a readable Word document",
    "notazip.docx": "not a .docx archive",
    "markup.html": "holds no readable text",
    "empty.pdf": "is empty",
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad")
    good = print_pdf(page_html("Fine", ["A fine paragraph of text."]), folder / "good.pdf", header_footer=False)
    encrypted_pdf(good, folder / "encrypted.pdf")
    scanned_pdf(folder / "scanned.pdf")
    (folder / "truncated.pdf").write_bytes(good.read_bytes()[:300])
    (folder / "random.pdf").write_bytes(bytes(range(256)) * 40)
    zip_bomb(folder / "bomb.docx")
    with zipfile.ZipFile(folder / "broken.docx", "w") as archive:  # the right parts, but not Word's XML
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "this is < not > XML")
    (folder / "notazip.docx").write_bytes(b"PK but not really a zip archive")
    (folder / "markup.html").write_text(
        "<html><head><script>var a = 1;</script></head><body><nav><a>Home</a></nav></body></html>"
    )
    (folder / "empty.pdf").write_bytes(b"")
    good.unlink()
    return folder


@requires_chromium()
@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_file_is_refused_by_name_with_what_to_do(bad_files: Path, name: str) -> None:
    with pytest.raises(DocumentError) as info:
        read_document(bad_files / name, name)
    assert BAD[name] in str(info.value) and name in str(info.value)


@requires_chromium()
def test_a_folder_with_bad_files_still_loads_the_good_one(bad_files: Path, tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in BAD:
        (folder / name).write_bytes((bad_files / name).read_bytes())
    (folder / "good.txt").write_text("Good title\nA good document about rivers.\n")
    corpus = load_corpus([folder])
    assert [d.name for d in corpus.documents] == ["good.txt"]
    assert sorted(Path(p.path).name for p in corpus.problems) == sorted(BAD)


@pytest.mark.parametrize(
    ("program", "said"),
    [
        ("while True: pass", "could not be read within 2 s and 600 MB"),  # a reader that never ends
        ("x = bytearray(3_000_000_000)", "needs more than 600 MB"),  # one that wants all the memory
        ("import os; os.kill(os.getpid(), 9)", "could not be read within"),  # one that crashes
    ],
    ids=["hangs", "greedy", "crashes"],
)
def test_a_hanging_greedy_or_crashing_reader_is_stopped_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, program: str, said: str
) -> None:
    """The worker's own limits and the caller's timeout hold, whatever the reader does: the file is
    refused by name with the reason, and the caller goes on."""
    import sys

    from qa.documents import extract

    monkeypatch.setenv("QA_EXTRACT_SECONDS", "2")
    monkeypatch.setenv("QA_EXTRACT_MEMORY_MB", "600")
    worker = (
        "import json, sys\nfrom qa.documents.extract import limit\nlimit(int(sys.argv[1]), int(sys.argv[2]))\n"
        f"try:\n    {program}\nexcept MemoryError:\n"
        "    print(json.dumps({'error': 'needs more than ' + sys.argv[1] + ' MB to read'}))\n"
    )
    monkeypatch.setattr(extract, "_command", lambda fmt, mb, s: [sys.executable, "-c", worker, str(mb), str(s)])
    path = tmp_path / "hostile.html"
    path.write_text("<p>a page</p>")
    with pytest.raises(DocumentError, match=said) as info:
        read_document(path, path.name)
    assert str(path) in str(info.value)


def test_converted_text_is_what_quotes_come_from(tmp_path: Path, fake_model: object) -> None:
    path = word_file(
        tmp_path / "w.docx", "Rivers", [("Flow", ["Rivers flow to the sea.", "The sea is salty and deep."])]
    )
    engine = Engine.open([path])
    answer = engine.ask("Is the sea salty?", 2).to_json()
    check_answer(answer, engine.texts, 2)
    stored = json.loads(next((Path(p) for p in Path(engine.stored.folder).glob("passages.json")), Path()).read_text())  # type: ignore[union-attr]
    assert all(engine.texts[p["doc"]][p["start"] : p["end"]] for p in stored)
