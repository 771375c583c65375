"""The index folder: round trip, changes to the corpus, damaged and foreign files, settings changes.

Crashes and concurrent builds are in ``test_crash.py``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from qa.documents.corpus import load_corpus
from qa.documents.passages import SplitConfig
from qa.retrieval.index import IndexConfig
from qa.retrieval.lexical import LexicalConfig
from qa.retrieval.store import FORMAT_VERSION, StoredIndex, open_index
from tests.helpers import FakeEmbedder, line_of, write_docs

DOCS = {
    "a.txt": "Alpha title\nThe alpha document talks about rivers. Rivers flow to the sea.\n",
    "b.txt": "Beta title\nThe beta document talks about mountains. Mountains are tall.\n",
}
SMALL_DOCS = {
    "b.txt": "Beta title\nThe beta document talks about mountains. Mountains are tall and cold.\n",
    "notes/c.md": "# Gamma\n\nA third document about forests.\nIt wraps over two lines.\n\nAnd a second paragraph.\n",
}


class Opener:
    """Opens the index of one corpus folder with a fresh fake embedder each time, recording notices."""

    def __init__(self, tmp_path: Path, docs: dict[str, str] = DOCS) -> None:
        self.corpus_dir = write_docs(tmp_path / "corpus", docs)
        self.root = tmp_path / "index"
        self.notices: list[str] = []
        self.embedder = FakeEmbedder()

    def __call__(self, embedder: FakeEmbedder | None = None, config: IndexConfig | None = None) -> StoredIndex:
        self.embedder = embedder or FakeEmbedder()
        corpus = load_corpus([self.corpus_dir])
        return open_index(corpus, [self.corpus_dir], self.embedder, config, self.root, self.notices.append)

    def texts(self) -> dict[str, str]:
        return {d.name: d.text for d in load_corpus([self.corpus_dir]).documents}

    def version_folder(self) -> Path:
        (home,) = [p for p in self.root.iterdir() if p.is_dir()]
        return home / (home / "CURRENT").read_text().strip()


@pytest.fixture
def opener(tmp_path: Path) -> Opener:
    return Opener(tmp_path)


def test_round_trip_loads_what_was_built_without_embedding_again(opener: Opener) -> None:
    built = opener()
    assert built.rebuilt
    embedder = FakeEmbedder()
    loaded = opener(embedder)
    assert not loaded.rebuilt and embedder.calls == 0
    assert loaded.index.passages == built.index.passages
    assert (loaded.index.sentence_vectors == built.index.sentence_vectors).all()
    assert opener.notices == []
    manifest = json.loads((opener.version_folder() / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION and manifest["model"] == "fake-embedder"
    assert manifest["config"]["split"]["max_chars"] == SplitConfig().max_chars
    lexical = manifest["config"]["lexical"]
    assert (lexical["k1"], lexical["b"], lexical["tokenizer"]) == (1.2, 0.75, 1) and "which" in lexical["stopwords"]
    assert {d["name"] for d in manifest["documents"]} == {"a.txt", "b.txt"}
    assert all(len(d["sha256"]) == 64 for d in manifest["documents"])


def test_changed_document_is_picked_up_and_only_it_is_embedded_again(opener: Opener) -> None:
    first = opener()
    (opener.corpus_dir / "b.txt").write_text("Beta title\nThe beta document now covers deserts.\n", encoding="utf-8")
    embedder = FakeEmbedder()
    second = opener(embedder)
    assert second.rebuilt
    assert any("changed b.txt" in n for n in opener.notices)
    assert any("re-embedding 1 of 2" in n for n in opener.notices)
    a_texts = [p for p in first.index.passages if p.doc == "a.txt"]
    assert [p for p in second.index.passages if p.doc == "a.txt"] == a_texts
    # Only b.txt's passages and sentences were embedded (one-sentence passages count once).
    assert 0 < embedder.calls <= 2 * sum(1 for p in second.index.passages if p.doc == "b.txt") + 2


def test_added_and_removed_documents_are_picked_up(opener: Opener) -> None:
    opener()
    (opener.corpus_dir / "c.txt").write_text("Gamma title\nA third document about forests.\n", encoding="utf-8")
    (opener.corpus_dir / "a.txt").unlink()
    stored = opener()
    assert {p.doc for p in stored.index.passages} == {"b.txt", "c.txt"}
    assert any("added c.txt" in n and "removed a.txt" in n for n in opener.notices)


@pytest.mark.parametrize(
    "name", ["dense.faiss", "passages.json", "sentences.npy", "bm25/data.csc.index.npy", "manifest.json"]
)
def test_truncated_file_is_rebuilt_with_a_notice(opener: Opener, name: str) -> None:
    built = opener()
    path = opener.version_folder() / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = opener()
    assert again.rebuilt and again.index.passages == built.index.passages
    assert len(opener.notices) == 1 and "rebuilding" in opener.notices[0]


@pytest.mark.parametrize(
    "name", ["dense.faiss", "sentence_terms.npz", "bm25/vocab.index.json", "bm25/params.index.json"]
)
def test_foreign_or_emptied_file_is_rebuilt(opener: Opener, name: str) -> None:
    opener()
    path = opener.version_folder() / name
    size = path.stat().st_size
    path.write_bytes(b"\x00" * size)
    assert opener().rebuilt
    path = opener.version_folder() / name
    path.write_bytes(b"")
    assert opener().rebuilt
    assert len(opener.notices) == 2


def test_wrong_dimension_is_rebuilt(opener: Opener) -> None:
    opener(FakeEmbedder(dimension=64))
    stored = opener(FakeEmbedder(dimension=32))
    assert stored.rebuilt and stored.index.dense.dimension == 32
    assert "dimensions" in opener.notices[-1]


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [("model", "some-other-model", "built with model"), ("format_version", 0, "format version 0")],
)
def test_manifest_from_another_model_or_older_format_is_rebuilt(
    opener: Opener, field: str, value: object, said: str
) -> None:
    opener()
    path = opener.version_folder() / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest[field] = value
    path.write_text(json.dumps(manifest))
    assert opener().rebuilt
    assert said in opener.notices[-1]


@pytest.mark.parametrize(
    "config",
    [
        IndexConfig(split=SplitConfig(max_chars=30)),
        IndexConfig(lexical=LexicalConfig(k1=1.5)),
        IndexConfig(lexical=LexicalConfig(stopwords=("the",))),
        IndexConfig(lexical=LexicalConfig(tokenizer=0)),
    ],
    ids=["split", "bm25-k1", "stopwords", "tokenizer"],
)
def test_changed_split_or_bm25_settings_rebuild(opener: Opener, config: IndexConfig) -> None:
    opener()
    stored = opener(config=config)
    assert stored.rebuilt and "settings" in opener.notices[-1]
    assert stored.manifest.config == config


def test_a_half_written_build_is_never_used_and_is_cleaned_up(opener: Opener) -> None:
    opener()
    home = opener.version_folder().parent
    leftover = home / "v-deadbeef0000.tmp"
    leftover.mkdir()
    (leftover / "dense.faiss").write_bytes(b"partial")
    (home / "CURRENT").write_text("v-deadbeef0000.tmp")
    stored = opener()
    assert stored.rebuilt
    assert not leftover.exists()
    assert sorted(p.name for p in home.iterdir() if p.is_dir()) == [opener.version_folder().name]


def test_damaged_current_pointer_is_rebuilt(opener: Opener) -> None:
    opener()
    home = opener.version_folder().parent
    (home / "CURRENT").write_text("../../etc")
    assert opener().rebuilt


def test_a_manifest_of_the_wrong_shape_is_rebuilt(opener: Opener) -> None:
    opener()
    path = opener.version_folder() / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"] = ["not", "an", "object"]
    path.write_text(json.dumps(manifest))
    assert opener().rebuilt
    assert "manifest is unreadable" in opener.notices[-1]


# --- documents edited, added, removed, renamed ------------------------------------------------------


def assert_verbatim(stored: StoredIndex, texts: dict[str, str]) -> None:
    assert {p.doc for p in stored.index.passages} == set(texts)
    for p in stored.index.passages:
        text = texts[p.doc]
        assert 0 <= p.start < p.end <= len(text) and text[p.start : p.end].strip()
        assert p.line == line_of(text, p.start)
        assert all(p.start <= s < e <= p.end for s, e in p.sentences)


def test_renamed_moved_or_copied_documents_are_not_embedded_again(tmp_path: Path) -> None:
    opener = Opener(tmp_path, {"a.txt": "Alpha title\nRivers flow to the sea. The sea is salty.\n", **SMALL_DOCS})
    first = opener()
    (opener.corpus_dir / "a.txt").rename(opener.corpus_dir / "renamed.txt")
    (opener.corpus_dir / "moved").mkdir()
    (opener.corpus_dir / "b.txt").rename(opener.corpus_dir / "moved" / "b.txt")
    shutil.copy(opener.corpus_dir / "notes" / "c.md", opener.corpus_dir / "c-copy.md")
    second = opener()
    assert second.rebuilt and opener.embedder.calls == 0
    assert any("added" in n and "removed" in n for n in opener.notices)
    assert {p.doc for p in second.index.passages} == {"renamed.txt", "moved/b.txt", "notes/c.md", "c-copy.md"}
    assert_verbatim(second, opener.texts())
    by_doc = {name: [(p.start, p.end) for p in first.index.passages if p.doc == name] for name in ("a.txt", "b.txt")}
    assert [(p.start, p.end) for p in second.index.passages if p.doc == "renamed.txt"] == by_doc["a.txt"]
    assert [(p.start, p.end) for p in second.index.passages if p.doc == "moved/b.txt"] == by_doc["b.txt"]
    third = opener()
    assert not third.rebuilt and opener.embedder.calls == 0


def test_an_edit_keeping_size_and_modification_time_is_picked_up(tmp_path: Path) -> None:
    opener = Opener(tmp_path, SMALL_DOCS)
    opener()
    path = opener.corpus_dir / "b.txt"
    before = path.stat()
    path.write_text(SMALL_DOCS["b.txt"].replace("mountains", "mountainz"), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    stored = opener()
    assert stored.rebuilt and any("changed b.txt" in n for n in opener.notices)
    assert_verbatim(stored, opener.texts())


def test_a_document_that_turns_unreadable_is_dropped_and_the_others_are_not_embedded_again(tmp_path: Path) -> None:
    opener = Opener(tmp_path, {"a.txt": "Alpha title\nRivers flow to the sea.\n", **SMALL_DOCS})
    opener()
    (opener.corpus_dir / "b.txt").write_bytes("Beta caf\u00e9 in latin-1".encode("latin-1"))
    corpus = load_corpus([opener.corpus_dir])
    assert [Path(p.path).name for p in corpus.problems] == ["b.txt"]
    stored = opener()
    assert stored.rebuilt and opener.embedder.calls == 0
    assert "b.txt" not in {p.doc for p in stored.index.passages}
    assert_verbatim(stored, opener.texts())


def test_converting_a_document_to_crlf_reembeds_only_it_with_correct_offsets(tmp_path: Path) -> None:
    opener = Opener(tmp_path, {"a.txt": "Alpha title\nRivers flow to the sea.\n", **SMALL_DOCS})
    first = opener()
    path = opener.corpus_dir / "notes" / "c.md"
    path.write_bytes(SMALL_DOCS["notes/c.md"].replace("\n", "\r\n").encode())
    stored = opener()
    assert stored.rebuilt and any("re-embedding 1 of 3" in n for n in opener.notices)
    assert_verbatim(stored, opener.texts())
    lf = [(p.line, p.paragraph, p.section) for p in first.index.passages if p.doc == "notes/c.md"]
    assert [(p.line, p.paragraph, p.section) for p in stored.index.passages if p.doc == "notes/c.md"] == lf
