from __future__ import annotations

from pathlib import Path

import pytest

from qa.documents.corpus import load_corpus, read_document
from qa.errors import CorpusError, DocumentError


def test_text_is_kept_exactly_as_stored(tmp_path: Path) -> None:
    raw = "Title line\r\n\r\nFirst para with café.\r\nSecond\tline  \r\n".encode()
    (tmp_path / "a.txt").write_bytes(raw)
    doc = load_corpus([tmp_path]).documents[0]
    assert doc.text == raw.decode("utf-8")
    assert doc.name == "a.txt"


def test_folder_loads_txt_and_md_recursively_with_relative_names(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("Alpha text.", encoding="utf-8")
    (tmp_path / "sub" / "b.md").write_text("# Beta\n\nBeta text.", encoding="utf-8")
    (tmp_path / "skip.csv").write_text("x,y", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("hidden", encoding="utf-8")
    corpus = load_corpus([tmp_path])
    assert [d.name for d in corpus.documents] == ["a.txt", "sub/b.md"]


def test_a_file_given_directly_is_named_by_its_file_name(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "doc.txt"
    path.parent.mkdir()
    path.write_text("Some text.", encoding="utf-8")
    assert load_corpus([path]).documents[0].name == "doc.txt"


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus([tmp_path / "nope"])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        (b"  \n\n\t ", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks binary"),
        ("caf\u00e9".encode("latin-1") + b" au lait", "is not UTF-8"),
    ],
)
def test_bad_documents_are_named_with_the_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason) as info:
        read_document(path, "bad.txt")
    assert str(path) in str(info.value)


def test_in_a_folder_good_documents_load_and_the_bad_one_is_reported(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good text here.", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "latin.txt").write_bytes("na\u00efve".encode("latin-1"))
    corpus = load_corpus([tmp_path])
    assert [d.name for d in corpus.documents] == ["good.txt"]
    reported = sorted(Path(p.path).name for p in corpus.problems)
    assert reported == ["empty.txt", "latin.txt"]


def test_no_usable_document_is_an_error_listing_the_problems(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(CorpusError, match=r"empty\.txt"):
        load_corpus([tmp_path])


def test_folder_without_documents_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"holds no \.txt, \.md, \.pdf, \.docx, \.html, \.htm files"):
        load_corpus([tmp_path])


def test_oversized_document_is_refused_with_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MAX_DOC_MB", "0.001")
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000, encoding="utf-8")
    with pytest.raises(DocumentError, match="QA_MAX_DOC_MB"):
        read_document(path, "big.txt")


@pytest.mark.parametrize("value", ["lots", "nan", "inf", "0", "-5"])
def test_a_bad_size_limit_setting_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("QA_MAX_DOC_MB", value)
    path = tmp_path / "doc.txt"
    path.write_text("Some text.", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"QA_MAX_DOC_MB=.* positive number of MB"):
        read_document(path, "doc.txt")


def test_same_name_from_two_folders_is_an_error(tmp_path: Path) -> None:
    for sub in ("one", "two"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "same.txt").write_text(f"Text {sub}.", encoding="utf-8")
    with pytest.raises(CorpusError, match="both named"):
        load_corpus([tmp_path / "one", tmp_path / "two"])


def test_the_same_file_given_twice_loads_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Alpha.", encoding="utf-8")
    assert len(load_corpus([tmp_path, tmp_path / "a.txt"]).documents) == 1


def test_content_hash_changes_with_content(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("one", encoding="utf-8")
    first = read_document(path, "a.txt").sha256
    path.write_text("two", encoding="utf-8")
    assert read_document(path, "a.txt").sha256 != first
