"""Each session's own documents: added once for everyone, seen by no one else, bounded in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.answering.engine import Engine
from qa.app import workspace
from qa.app.workspace import WorkspaceError, Workspaces, safe_name
from tests.documents import page_html, word_file
from tests.helpers import FakeEmbedder, check_answer

RIVERS = "Rivers title\nThe Amazon carries more water than any other river. It ends in the Atlantic.\n"


@pytest.fixture
def workspaces(fake_engine: Engine) -> Workspaces:
    return Workspaces(fake_engine)


def upload(tmp_path: Path, name: str, text: str) -> Path:
    """A file as Gradio hands it over: in a folder of its own, under the name it was uploaded with."""
    folder = tmp_path / "uploads" / str(len(list(tmp_path.glob("uploads/*"))))
    folder.mkdir(parents=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_added_document_is_asked_in_its_session_only(workspaces: Workspaces, tmp_path: Path) -> None:
    mine = workspaces.add_file(workspaces.bundled, upload(tmp_path, "rivers.txt", RIVERS), "rivers.txt")
    engine = workspaces.engine(mine)
    assert engine is not None and [d.name for d in engine.documents][-1] == "rivers.txt"
    answer = engine.ask("Which river carries the most water?", 3)
    check_answer(answer.to_json(), engine.texts, 3)
    assert answer.hits[0].passage.doc == "rivers.txt"
    # Another session (the bundled documents) and the API (the base engine) never see it.
    for other in (workspaces.engine(workspaces.bundled), workspaces.base):
        assert other is not None and "rivers.txt" not in other.texts
        assert all(h.passage.doc != "rivers.txt" for h in other.ask("Which river carries the most water?", 40).hits)


def test_the_same_file_added_twice_by_anyone_is_embedded_once(fake_engine: Engine, tmp_path: Path) -> None:
    counting = FakeEmbedder()
    fake_engine.embedder = counting
    spaces = Workspaces(fake_engine)
    first = spaces.add_file(spaces.bundled, upload(tmp_path, "rivers.txt", RIVERS), "rivers.txt")
    embedded = counting.calls
    assert embedded > 0
    second = spaces.add_file(spaces.bundled, upload(tmp_path, "mine.txt", RIVERS), "mine.txt")  # another session
    assert counting.calls == embedded
    assert [s.name for s in first][-1] == "rivers.txt" and [s.name for s in second][-1] == "mine.txt"
    # A fresh process (nothing in memory) finds it on disk: no embedding either.
    again = Workspaces(fake_engine)
    engine = again.engine(second)
    assert counting.calls == embedded and engine is not None and "mine.txt" in engine.texts


def test_idle_sessions_indexes_are_dropped_and_rebuilt_from_the_cache(
    workspaces: Workspaces, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace, "MAX_ENGINES", 3)
    workspaces = Workspaces(workspaces.base)  # made with the smaller limit
    sessions = [
        workspaces.add_file(
            workspaces.bundled, upload(tmp_path, f"doc{i}.txt", RIVERS + f"Number {i}.\n"), f"doc{i}.txt"
        )
        for i in range(6)
    ]
    for sources in sessions:
        assert workspaces.engine(sources) is not None
    assert len(workspaces._engines) <= 3 and workspaces.bundled in workspaces._engines
    engine = workspaces.engine(sessions[0])  # dropped a while ago: rebuilt from the disk cache
    assert engine is not None and "doc0.txt" in engine.texts


def test_documents_can_be_removed_the_bundled_one_too(workspaces: Workspaces) -> None:
    names = [s.name for s in workspaces.bundled]
    assert workspaces.remove(workspaces.bundled, names) == ()
    assert workspaces.engine(()) is None


@pytest.mark.parametrize(
    ("name", "said"),
    [("table.xlsx", ".xlsx cannot be read"), ("noext", "files without a type cannot be read")],
)
def test_an_unsupported_type_is_refused_by_name(workspaces: Workspaces, tmp_path: Path, name: str, said: str) -> None:
    with pytest.raises(WorkspaceError, match=said) as info:
        workspaces.add_file(workspaces.bundled, upload(tmp_path, name, "x"), name)
    assert str(info.value).startswith(name)


def test_too_many_documents_are_refused_with_the_limit(
    workspaces: Workspaces, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_MAX_DOCS", "2")
    sources = workspaces.add_file(workspaces.bundled, upload(tmp_path, "a.txt", RIVERS), "a.txt")
    with pytest.raises(WorkspaceError, match=r"b.txt: this conversation already holds 2 documents.*QA_MAX_DOCS"):
        workspaces.add_file(sources, upload(tmp_path, "b.txt", RIVERS), "b.txt")


def test_a_file_over_the_size_limit_is_refused_and_nothing_else_changes(
    workspaces: Workspaces, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_MAX_DOC_MB", "0.001")
    with pytest.raises(WorkspaceError, match=r"big.txt is .* over the 0.001 MB limit.*QA_MAX_DOC_MB"):
        workspaces.add_file(workspaces.bundled, upload(tmp_path, "big.txt", "word " * 1000), "big.txt")


@pytest.mark.parametrize(
    ("original", "shown"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\notes.md", "notes.md"),
        ("bad\x00name\x1b[31m.txt", "badname[31m.txt"),
        ("  .  ", "document"),
        ("a" * 300 + ".pdf", "a" * 115 + "….pdf"),
    ],
)
def test_file_names_are_only_shown_never_used_as_paths(original: str, shown: str) -> None:
    assert safe_name(original) == shown


def test_a_second_file_of_the_same_name_is_told_apart() -> None:
    assert safe_name("report.pdf", ["report.pdf", "report (2).pdf"]) == "report (3).pdf"


def test_pasted_text_is_a_document_of_its_own(workspaces: Workspaces) -> None:
    sources = workspaces.add_text(workspaces.bundled, RIVERS)
    sources = workspaces.add_text(sources, "Another note about lakes.")
    assert [s.name for s in sources][-2:] == ["Pasted text", "Pasted text (2)"]
    with pytest.raises(WorkspaceError, match="empty"):
        workspaces.add_text(sources, "   ")


def test_the_page_adds_lists_and_removes_documents(fake_engine: Engine, tmp_path: Path) -> None:
    """Through the page's wiring: chosen files listed while read, then added (or refused, with why)."""
    from tests.test_app import Page

    page = Page(fake_engine)
    html = tmp_path / "up" / "rivers.html"
    html.parent.mkdir()
    html.write_text(page_html("Rivers", ["The Amazon carries more water than any other river."]))
    word = word_file(tmp_path / "up" / "lakes.docx", "Lakes", [("Big ones", ["Lake Baikal is the deepest lake."])])
    bad = tmp_path / "up" / "sheet.xlsx"
    bad.write_bytes(b"PK")
    tab = page.open()
    tab.upload("qa-add", html, word, bad)
    assert "rivers.html" in tab.value("qa-doc-list") and "lakes.docx" in tab.value("qa-doc-list")
    page.settle(tab)
    session = page.session(tab)
    assert [s.name for s in session.sources][-2:] == ["rivers.html", "lakes.docx"]
    listing, status = tab.value("qa-doc-list"), tab.value("qa-doc-status")
    assert "Added rivers.html" in status and "Added lakes.docx" in status and "sheet.xlsx" not in listing
    assert "Not added: sheet.xlsx: .xlsx cannot be read" in status and "3 documents" in tab.value("qa-what")
    tab.fire("qa-question", "submit", "Which lake is the deepest?", 2)
    assert "lakes.docx" in str(tab.value("qa-chat")[2]) and "Baikal" in tab.value("qa-source")
    tab.fire("qa-remove-button", "click", ["lakes.docx"])
    assert "lakes.docx" not in tab.value("qa-doc-list") and "Removed lakes.docx." in tab.value("qa-doc-status")
    # Another session's page and the API know nothing of it.
    other = page.open()
    assert "lakes.docx" not in other.value("qa-doc-list") and "lakes.docx" not in other.value("qa-source")
    api = page.handlers.api_ask("Which lake is the deepest?", 40)["passages"]
    assert all(p["doc"] != "lakes.docx" for p in api)


def test_the_same_name_added_again_is_kept_under_a_new_name(workspaces: Workspaces, tmp_path: Path) -> None:
    first = workspaces.add_file(workspaces.bundled, upload(tmp_path, "r.txt", RIVERS), "r.txt")
    second = workspaces.add_file(first, upload(tmp_path, "r.txt", RIVERS + "An edit.\n"), "r.txt")
    assert [s.name for s in second][-2:] == ["r.txt", "r (2).txt"]


def test_the_bundled_documents_keep_their_own_passages_whatever_order_the_index_has(
    tmp_path: Path, fake_model: object
) -> None:
    """An index built for --corpus b --corpus a serves --corpus a --corpus b (the key sorts the paths):
    each bundled document must still get its own passages and vectors."""
    from tests.helpers import write_docs

    folder = write_docs(tmp_path / "c", {"a.txt": "Alpha title\nRivers flow to the sea.\n", "b.txt": RIVERS})
    Engine.open([folder / "b.txt", folder / "a.txt"])
    engine = Engine.open([folder / "a.txt", folder / "b.txt"])  # the same index, its documents the other way
    spaces = Workspaces(engine)
    session = spaces.engine(spaces.add_text(spaces.bundled, "Lakes are calm."))
    assert session is not None
    for passage in session.passages:
        assert session.texts[passage.doc][passage.start : passage.end].strip()
    answer = session.ask("Which river carries the most water?", 3)
    check_answer(answer.to_json(), session.texts, 3)


def test_pasted_text_with_broken_characters_is_refused(workspaces: Workspaces) -> None:
    with pytest.raises(WorkspaceError, match="not valid Unicode"):
        workspaces.add_text(workspaces.bundled, "Lakes are calm \ud800 and deep.")


def test_an_uploaded_copy_is_deleted_once_read_and_its_text_kept(fake_engine: Engine, tmp_path: Path) -> None:
    from qa.app.sessions import Sessions

    uploads = tmp_path / "gradio"
    sessions = Sessions(Workspaces(fake_engine), uploads=uploads)
    path = upload(uploads, "rivers.txt", RIVERS)
    session = sessions.get("s")
    sessions.add_files(session, [(path, "rivers.txt")])
    assert all(job.wait(30) for job in list(session.pending))
    assert [s.name for s in session.sources][-1] == "rivers.txt"
    assert not path.exists() and not path.parent.exists()
    outside = upload(tmp_path / "elsewhere", "lakes.txt", "Lakes title\nLake Baikal is deep.\n")
    sessions.add_files(session, [(outside, "lakes.txt")])
    assert all(job.wait(30) for job in list(session.pending))
    assert outside.exists()  # only the server's own copies are deleted


def test_the_index_root_given_to_the_engine_holds_every_cache(
    tmp_path: Path, article_dir: Path, fake_model: FakeEmbedder
) -> None:
    """Engine.open(index_dir=...) reaches the index, the conversions and the app's library ($QA_INDEX_DIR
    points elsewhere: the autouse fixture)."""
    root = tmp_path / "elsewhere"
    (article_dir / "rivers.html").write_text(
        page_html("Rivers", ["The Amazon ends in the Atlantic."]), encoding="utf-8"
    )
    engine = Engine.open([article_dir], index_dir=root)
    assert engine.root == root and engine.stored is not None and root in engine.stored.folder.parents
    assert len(list((root / "extracted").glob("*.json"))) == 1
    spaces = Workspaces(engine)
    spaces.add_file(spaces.bundled, upload(tmp_path, "lakes.txt", RIVERS.replace("river", "lake")), "lakes.txt")
    assert root in spaces.library.folder.parents and any(spaces.library.folder.iterdir())
    assert not (tmp_path / "index" / "library").exists() and not (tmp_path / "index" / "extracted").exists()


def test_an_unwritable_library_is_reported_and_the_document_still_answers(
    workspaces: Workspaces, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workspaces.library.folder.parent.mkdir(parents=True, exist_ok=True)
    workspaces.library.folder.write_text("not a folder")  # so nothing can be saved under it
    mine = workspaces.add_file(workspaces.bundled, upload(tmp_path, "rivers.txt", RIVERS), "rivers.txt")
    assert any("cannot save rivers.txt to the library" in r.getMessage() for r in caplog.records)
    engine = workspaces.engine(mine)
    assert (
        engine is not None and engine.ask("Which river carries the most water?", 1).hits[0].passage.doc == "rivers.txt"
    )


def test_a_damaged_library_entry_is_replaced_when_it_is_embedded_again(fake_engine: Engine, tmp_path: Path) -> None:
    spaces = Workspaces(fake_engine)
    sources = spaces.add_text(spaces.bundled, RIVERS)
    entry = spaces.library.folder / sources[-1].sha256
    (entry / "passages.npy").write_bytes(b"truncated")
    again = Workspaces(fake_engine)  # a new process: nothing in memory
    assert again.library.get(sources[-1].sha256) is None  # damaged: not used
    again.add_text(again.bundled, RIVERS)
    fresh = Workspaces(fake_engine)
    assert fresh.library.get(sources[-1].sha256) is not None  # repaired on disk


def test_the_same_document_added_by_two_sessions_at_once_is_embedded_once(
    fake_engine: Engine, fake_model: FakeEmbedder
) -> None:
    import threading

    spaces = Workspaces(fake_engine)
    before = fake_model.calls
    text = "Lake Baikal is the deepest lake. " * 50
    threads = [threading.Thread(target=spaces.add_text, args=(spaces.bundled, text)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    four_at_once = fake_model.calls - before
    before = fake_model.calls
    spaces.add_text(spaces.bundled, "Lake Titicaca is a high lake. " * 50)  # as long, not added before
    assert four_at_once == fake_model.calls - before > 0  # four sessions, one embedding
