"""Bad documents: empty, binary, not UTF-8, too large, a named pipe; CRLF line ends kept exactly.

Each is reported by name with its reason, and the other documents still answer, in the library and the CLI.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from qa.answering.engine import Engine
from qa.documents.corpus import load_corpus
from qa.errors import CorpusError
from tests.helpers import ARTICLE, assert_clean_exit, assert_one_line_error, check_answer, write_docs

QUESTION = "Who launched Qijing?"
SMALL_DOCS = {
    "b.txt": "Beta title\nThe beta document talks about mountains. Mountains are tall and cold.\n",
    "notes/c.md": "# Gamma\n\nA third document about forests.\nIt wraps over two lines.\n\nAnd a second paragraph.\n",
}


# --- 4. bad documents ------------------------------------------------------------------------------

GOOD_DOC = "Good title\nGAC Group and Huawei launched the Qijing brand. It sells cars.\n"
BAD_DOCS: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "is empty"),
    "blank": (b" \r\n\t\n", "is empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "looks binary"),
    "latin-1": ("Caf\u00e9 cr\u00e8me".encode("latin-1"), "is not UTF-8"),
    "truncated-utf8": ("Huawei \u4e2d\u6587".encode()[:-1], "is not UTF-8"),
}


@pytest.mark.parametrize("kind", list(BAD_DOCS))
def test_engine_skips_a_bad_document_by_name_and_answers_from_the_others(
    tmp_path: Path, kind: str, fake_model: object
) -> None:
    content, reason = BAD_DOCS[kind]
    folder = write_docs(tmp_path / "corpus", {"good.txt": GOOD_DOC})
    (folder / "bad.txt").write_bytes(content)
    notices: list[str] = []
    engine = Engine.open([folder], notice=notices.append)
    (skipped,) = [n for n in notices if n.startswith("skipped ")]
    assert str(folder / "bad.txt") in skipped and reason in skipped
    assert [d.name for d in engine.documents] == ["good.txt"]
    check_answer(engine.ask(QUESTION, k=3).to_json(), {"good.txt": GOOD_DOC}, 3, QUESTION)


@pytest.mark.parametrize("kind", list(BAD_DOCS))
def test_cli_skips_a_bad_document_on_stderr_and_prints_the_answer(
    qa_cli: Callable[..., Result], tmp_path: Path, kind: str
) -> None:
    content, reason = BAD_DOCS[kind]
    folder = write_docs(tmp_path / "corpus", {"good.txt": GOOD_DOC})
    (folder / "bad.txt").write_bytes(content)
    result = qa_cli("ask", QUESTION, "--corpus", folder, "--json", "-k", "2")
    assert_clean_exit(result)
    assert result.exit_code == 0, result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("qa: skipped ")]
    assert len(skipped) == 1 and str(folder / "bad.txt") in skipped[0] and reason in skipped[0]
    check_answer(json.loads(result.stdout), {"good.txt": GOOD_DOC}, 2, QUESTION)


def test_missing_corpus_path_among_good_ones_is_one_clear_error(qa_cli: Callable[..., Result], tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "corpus", {"good.txt": GOOD_DOC})
    missing = tmp_path / "no-such-folder"
    with pytest.raises(CorpusError, match="does not exist") as info:
        Engine.open([folder, missing])
    assert str(missing) in str(info.value)
    result = qa_cli("ask", QUESTION, "--corpus", folder, "--corpus", missing, "--json")
    assert_one_line_error(result, "does not exist")
    assert str(missing) in result.stderr


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a good document, a small Markdown one and a 50 MB text file."""
    folder = write_docs(tmp_path_factory.mktemp("big") / "corpus", {"good.txt": GOOD_DOC, **SMALL_DOCS})
    line = b"A long line of plain text that goes on and on about Huawei and cars.\n"
    with (folder / "huge.txt").open("wb") as handle:
        for _ in range(50):
            handle.write(line * (1_000_000 // len(line) + 1))
    assert (folder / "huge.txt").stat().st_size > 50_000_000
    return folder


def test_a_50_mb_document_is_refused_by_name_with_the_limit_and_the_others_load(
    big_corpus: Path, fake_model: object
) -> None:
    corpus = load_corpus([big_corpus])  # checked first, so a broken limit fails here, before embedding
    (problem,) = corpus.problems
    message = str(problem)
    assert str(big_corpus / "huge.txt") in message
    assert "50.0 MB" in message and "20 MB limit" in message and "QA_MAX_DOC_MB" in message
    assert sorted(d.name for d in corpus.documents) == sorted(["good.txt", *SMALL_DOCS])
    notices: list[str] = []
    engine = Engine.open([big_corpus], notice=notices.append)
    assert notices == [f"skipped {message}"]
    texts = {d.name: d.text for d in engine.documents}
    check_answer(engine.ask(QUESTION, k=4).to_json(), texts, 4, QUESTION)
    assert sum(len(t) for t in texts.values()) < 10_000  # nothing of the big file was read in


def test_cli_with_a_50_mb_document_names_it_and_still_answers(qa_cli: Callable[..., Result], big_corpus: Path) -> None:
    assert len(load_corpus([big_corpus]).documents) == 3  # the limit holds (else this would embed 50 MB)
    result = qa_cli("ask", QUESTION, "--corpus", big_corpus, "--json", "-k", "3")
    assert_clean_exit(result)
    assert result.exit_code == 0
    (skipped,) = [line for line in result.stderr.splitlines() if line.startswith("qa: skipped ")]
    assert str(big_corpus / "huge.txt") in skipped and "20 MB limit" in skipped
    texts = {d.name: d.text for d in load_corpus([big_corpus]).documents}
    check_answer(json.loads(result.stdout), texts, 3, QUESTION)


def test_a_named_pipe_in_the_corpus_folder_does_not_hang_the_load(tmp_path: Path) -> None:
    """A ``.txt`` FIFO in a folder: reading it would wait for a writer forever. It should be skipped."""
    folder = write_docs(tmp_path / "corpus", {"good.txt": GOOD_DOC})
    fifo = folder / "pipe.txt"
    os.mkfifo(fifo)
    loaded: list[Any] = []
    worker = threading.Thread(target=lambda: loaded.append(load_corpus([folder])), daemon=True)
    worker.start()
    blocked = False
    while worker.is_alive():
        try:  # succeeds only when the loader has the pipe open for reading, i.e. is waiting on it
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            time.sleep(0.01)
            continue
        blocked = True
        os.close(fd)  # end of file: the loader goes on
        break
    worker.join(30)
    assert not blocked, "load_corpus opened the named pipe and waited for a writer"
    (corpus,) = loaded
    assert [d.name for d in corpus.documents] == ["good.txt"]
    assert [Path(p.path).name for p in corpus.problems] == ["pipe.txt"]


def crlf_twins(tmp_path: Path) -> tuple[Engine, Engine]:  # with the fake_model fixture active
    """The article plus a blank-line-separated Markdown file, once with \\n and once with \\r\\n line ends."""
    md = (
        "# A wrapped document\r\n\r\nThe first paragraph is wrapped\r\nover two lines. It talks about Qijing.\r\n"
        "\r\n## Second part\r\n\r\nGAC Group launched Qijing with Huawei.\r\nThe launch was in Guangzhou.\r\n"
    )
    engines = []
    for name, newline in (("lf", "\n"), ("crlf", "\r\n")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "article.txt").write_bytes(ARTICLE.read_text(encoding="utf-8").replace("\n", newline).encode())
        (folder / "wrapped.md").write_bytes(md.replace("\r\n", newline).encode())
        engines.append(Engine.open([folder], index_dir=tmp_path / f"index-{name}"))
    return engines[0], engines[1]


def test_crlf_document_quotes_verbatim_and_counts_crlf_as_one_line_break(tmp_path: Path, fake_model: object) -> None:
    lf, crlf = crlf_twins(tmp_path)
    texts = {d.name: d.text for d in crlf.documents}
    assert all("\r\n" in t for t in texts.values())
    n = len(crlf.passages)
    answer = crlf.ask(QUESTION, k=n)
    check_answer(answer.to_json(), texts, n, QUESTION)  # text == document[start:end], line counts \r\n once
    assert len(answer.hits) == n == len(lf.passages)
    for hit in answer.hits:
        assert hit.text == hit.text.strip() and hit.highlight.text == hit.highlight.text.strip()
    # Same passages, same lines, paragraphs and sections as the \n twin; only the offsets move.
    lf_text = {d.name: d.text for d in lf.documents}
    for mine, twin in zip(crlf.passages, lf.passages, strict=True):
        assert (mine.doc, mine.line, mine.paragraph, mine.section) == (
            twin.doc,
            twin.line,
            twin.paragraph,
            twin.section,
        )
        quoted = texts[mine.doc][mine.start : mine.end]
        assert quoted.replace("\r\n", "\n") == lf_text[twin.doc][twin.start : twin.end]
    assert any("\r\n" in texts["wrapped.md"][p.start : p.end] for p in crlf.passages if p.doc == "wrapped.md")


def test_cli_on_a_crlf_document_prints_verbatim_quotes(qa_cli: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(ARTICLE.read_text(encoding="utf-8").replace("\n", "\r\n").encode())
    result = qa_cli("ask", QUESTION, "--corpus", path, "--json", "-k", "5")
    assert_clean_exit(result)
    assert result.exit_code == 0
    check_answer(json.loads(result.stdout), {"crlf.txt": path.read_bytes().decode()}, 5, QUESTION)
