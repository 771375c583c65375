from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.corpus import load_corpus
from qa.passages import SplitConfig
from qa.store import FORMAT_VERSION, IndexConfig, StoredIndex, open_index
from tests.conftest import FakeEmbedder


def make_corpus(folder: Path, texts: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


DOCS = {
    "a.txt": "Alpha title\nThe alpha document talks about rivers. Rivers flow to the sea.\n",
    "b.txt": "Beta title\nThe beta document talks about mountains. Mountains are tall.\n",
}


class Opener:
    """Opens the index of a folder with a fake embedder, recording notices."""

    def __init__(self, tmp_path: Path) -> None:
        self.corpus_dir = make_corpus(tmp_path / "corpus", DOCS)
        self.root = tmp_path / "index"
        self.notices: list[str] = []

    def __call__(self, embedder: FakeEmbedder | None = None, config: IndexConfig | None = None) -> StoredIndex:
        corpus = load_corpus([self.corpus_dir])
        return open_index(corpus, [self.corpus_dir], embedder or FakeEmbedder(), config, self.root, self.notices.append)

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
    assert loaded.passages == built.passages
    assert (loaded.sentence_vectors == built.sentence_vectors).all()
    assert opener.notices == []
    manifest = json.loads((opener.version_folder() / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION and manifest["model"] == "fake-embedder"
    assert manifest["config"]["split"]["max_chars"] == SplitConfig().max_chars
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
    a_texts = [p for p in first.passages if p.doc == "a.txt"]
    assert [p for p in second.passages if p.doc == "a.txt"] == a_texts
    # Only b.txt's passages and sentences were embedded (one-sentence passages count once).
    assert 0 < embedder.calls <= 2 * sum(1 for p in second.passages if p.doc == "b.txt") + 2


def test_added_and_removed_documents_are_picked_up(opener: Opener) -> None:
    opener()
    (opener.corpus_dir / "c.txt").write_text("Gamma title\nA third document about forests.\n", encoding="utf-8")
    (opener.corpus_dir / "a.txt").unlink()
    stored = opener()
    assert {p.doc for p in stored.passages} == {"b.txt", "c.txt"}
    assert any("added c.txt" in n and "removed a.txt" in n for n in opener.notices)


@pytest.mark.parametrize("name", ["dense.faiss", "passages.json", "sentences.npy", "bm25_weights.npz", "manifest.json"])
def test_truncated_file_is_rebuilt_with_a_notice(opener: Opener, name: str) -> None:
    built = opener()
    path = opener.version_folder() / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = opener()
    assert again.rebuilt and again.passages == built.passages
    assert len(opener.notices) == 1 and "rebuilding" in opener.notices[0]


@pytest.mark.parametrize("name", ["dense.faiss", "sentence_terms.npz", "bm25_vocabulary.json"])
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
    assert stored.rebuilt and stored.dense.dimension == 32
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


def test_changed_split_settings_rebuild(opener: Opener) -> None:
    opener()
    stored = opener(config=IndexConfig(split=SplitConfig(max_chars=30)))
    assert stored.rebuilt and "settings" in opener.notices[-1]


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
