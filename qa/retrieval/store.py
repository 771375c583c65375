"""The index on disk: save it, check it, load it, and rebuild it (reusing what it can) when it does not match.

Layout of ``<root>/<key>/`` (``key`` names the corpus paths and the model, so several corpora can
share one root)::

    CURRENT          name of the complete version folder in use (replaced atomically)
    lock             taken by whoever builds; a second builder waits for it
    v-<id>/          manifest.json (written last), passages.json, dense.faiss, sentences.npy,
                     sentence_terms.npz, bm25/ (bm25s's arrays, vocabulary and parameters)

A build writes a new version folder beside the old one, then switches ``CURRENT``: a crash at any
moment leaves either the old index or the new one, never a half-written one. The manifest records
the format version, the model, the build settings (splitting, FAISS, BM25 and tokenizer), every
document's content hash and every file's size and hash; anything that does not match is rebuilt,
reusing the embeddings of documents whose content did not change. What is built is ``index``'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import settings
from ..documents.corpus import Corpus
from ..documents.passages import Passage
from ..errors import IndexStoreError
from ..models.embed import Embedder, Progress
from ..storage import staged, write_atomic
from .dense import DenseIndex
from .index import EmbeddedDocument, IndexConfig, SearchIndex, embed_documents
from .lexical import LexicalIndex, load_sparse, save_sparse

# Bumped whenever what is stored, or how text is split or tokenized, changes: old indexes rebuild.
FORMAT_VERSION = 4
LOCK_TIMEOUT_S = 600.0

Notice = Callable[[str], None]


@dataclass(frozen=True)
class DocumentEntry:
    """One document of the index, in order: its passages are the next ``passages`` rows."""

    name: str
    sha256: str
    passages: int


@dataclass(frozen=True)
class FileEntry:
    """One file of a version folder as written: a load checks both."""

    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dimension: int
    config: IndexConfig
    documents: tuple[DocumentEntry, ...]
    files: dict[str, FileEntry]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            format_version=int(data["format_version"]),
            model=str(data["model"]),
            dimension=int(data["dimension"]),
            config=IndexConfig.from_json(data["config"]),
            documents=tuple(DocumentEntry(**d) for d in data["documents"]),
            files={name: FileEntry(**f) for name, f in data["files"].items()},
        )


@dataclass(frozen=True)
class StoredIndex:
    """A ``SearchIndex`` with the version folder it was loaded from (or just written to)."""

    index: SearchIndex
    manifest: Manifest
    folder: Path
    rebuilt: bool


class StaleIndexError(Exception):
    """Internal: the stored index cannot be used as it is; the message says why."""


def index_key(corpus_paths: Sequence[Path | str], model: str) -> str:
    """A short stable name for (corpus paths, model)."""
    parts = sorted(str(Path(p).resolve()) for p in corpus_paths)
    digest = hashlib.sha256(json.dumps([parts, model]).encode()).hexdigest()
    return digest[:16]


def open_index(
    corpus: Corpus,
    corpus_paths: Sequence[Path | str],
    embedder: Embedder,
    config: IndexConfig | None = None,
    root: Path | str | None = None,
    notice: Notice | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> StoredIndex:
    """Load the index of ``corpus``, building or refreshing it first when needed."""
    cfg = config or IndexConfig()
    say = notice or (lambda _msg: None)
    home = settings.index_root(root) / index_key(corpus_paths, embedder.name)
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexStoreError(
            f"cannot create the index folder {home} ({exc.strerror}); set {settings.INDEX_DIR_ENV} to a writable folder"
        ) from None
    if not force:
        try:
            return _load_current(home, corpus, embedder, cfg)
        except StaleIndexError:
            pass
    from filelock import FileLock, Timeout

    try:
        with FileLock(str(home / "lock"), timeout=LOCK_TIMEOUT_S):
            reason = "a rebuild was asked for"
            if not force:
                try:  # another process may have built it while we waited for the lock
                    return _load_current(home, corpus, embedder, cfg)
                except StaleIndexError as exc:
                    reason = str(exc)
            if reason != "no index yet":
                say(f"index {home}: {reason}; rebuilding")
            return _build(home, corpus, embedder, cfg, say, progress)
    except Timeout:
        raise IndexStoreError(
            f"another qa process has been building the index in {home} for over {LOCK_TIMEOUT_S:.0f} s "
            "(it holds the lock); wait for it to finish, or stop it"
        ) from None
    except OSError as exc:
        raise IndexStoreError(
            f"cannot write the index in {home} ({exc.strerror}); free some space or set {settings.INDEX_DIR_ENV} "
            "to another folder"
        ) from None


def _current_folder(home: Path) -> Path:
    try:
        name = (home / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise StaleIndexError("no index yet") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StaleIndexError(f"its CURRENT file is unreadable ({exc})") from None
    if not name.startswith("v-") or "/" in name:
        raise StaleIndexError("its CURRENT file is damaged")
    return home / name


def _read_manifest(folder: Path) -> Manifest:
    try:
        return Manifest.from_json(json.loads((folder / "manifest.json").read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise StaleIndexError("its manifest is missing") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StaleIndexError(f"its manifest is unreadable ({type(exc).__name__})") from None


def _file_entry(path: Path) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return FileEntry(size=size, sha256=digest.hexdigest())


def _check_settings(manifest: Manifest, embedder: Embedder, cfg: IndexConfig) -> None:
    """The format, model and settings the index was built with are this run's."""
    if manifest.format_version != FORMAT_VERSION:
        raise StaleIndexError(f"it has format version {manifest.format_version}, this qa writes {FORMAT_VERSION}")
    if manifest.model != embedder.name:
        raise StaleIndexError(f"it was built with model {manifest.model!r}, not {embedder.name!r}")
    if manifest.dimension != embedder.dimension:
        raise StaleIndexError(f"its vectors have {manifest.dimension} dimensions, the model gives {embedder.dimension}")
    if manifest.config != cfg:
        raise StaleIndexError("it was built with other splitting, index or BM25 settings")


def _check_manifest(manifest: Manifest, corpus: Corpus, embedder: Embedder, cfg: IndexConfig) -> None:
    _check_settings(manifest, embedder, cfg)
    stored = {d.name: d.sha256 for d in manifest.documents}
    current = {d.name: d.sha256 for d in corpus.documents}
    if stored != current:
        changed = sorted(n for n in current if n in stored and stored[n] != current[n])
        added = sorted(set(current) - set(stored))
        removed = sorted(set(stored) - set(current))
        detail = ", ".join(
            f"{label} {', '.join(names)}"
            for label, names in (("changed", changed), ("added", added), ("removed", removed))
            if names
        )
        raise StaleIndexError(f"the corpus differs from it ({detail})")


def _check_files(folder: Path, manifest: Manifest) -> None:
    for name, expected in manifest.files.items():
        try:
            found = _file_entry(folder / name)
        except OSError:  # missing, or removed by a rebuild in another process while we read
            raise StaleIndexError(f"its file {name} is missing") from None
        if found.size != expected.size:
            raise StaleIndexError(f"its file {name} has {found.size} bytes, {expected.size} were written")
        if found.sha256 != expected.sha256:
            raise StaleIndexError(f"its file {name} is damaged (content hash differs)")


def _load_current(home: Path, corpus: Corpus, embedder: Embedder, cfg: IndexConfig) -> StoredIndex:
    folder = _current_folder(home)
    manifest = _read_manifest(folder)
    _check_manifest(manifest, corpus, embedder, cfg)
    return _load_folder(folder, manifest, rebuilt=False)


def _load_folder(folder: Path, manifest: Manifest, rebuilt: bool) -> StoredIndex:
    _check_files(folder, manifest)
    try:
        index = SearchIndex.assemble(
            _read_passages(folder / "passages.json"),
            DenseIndex.load(folder / "dense.faiss"),
            LexicalIndex.load(folder / "bm25", manifest.config.lexical),
            np.load(folder / "sentences.npy", allow_pickle=False),
            load_sparse(folder / "sentence_terms.npz"),
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise StaleIndexError(f"its files cannot be read or do not fit together ({type(exc).__name__})") from None
    if index.dense.dimension != manifest.dimension:
        raise StaleIndexError("its vectors have the wrong shape")
    return StoredIndex(index=index, manifest=manifest, folder=folder, rebuilt=rebuilt)


def _read_passages(path: Path) -> list[Passage]:
    return [Passage.from_json(r) for r in json.loads(path.read_text(encoding="utf-8"))]


def _reusable(home: Path, embedder: Embedder, cfg: IndexConfig) -> dict[str, EmbeddedDocument]:
    """Per document sha256: its embedded passages in the previous index of this corpus, if any."""
    try:
        folder = _current_folder(home)
        manifest = _read_manifest(folder)
        _check_settings(manifest, embedder, cfg)
        old = _load_folder(folder, manifest, rebuilt=False).index
    except StaleIndexError:
        return {}
    out: dict[str, EmbeddedDocument] = {}
    begin = 0
    for entry in manifest.documents:
        out[entry.sha256] = old.embedded(begin, begin + entry.passages)
        begin += entry.passages
    return out


def _build(
    home: Path, corpus: Corpus, embedder: Embedder, cfg: IndexConfig, say: Notice, progress: Progress | None
) -> StoredIndex:
    reuse = _reusable(home, embedder, cfg)
    todo = [d for d in corpus.documents if d.sha256 not in reuse]
    if reuse and todo:
        say(f"re-embedding {len(todo)} of {len(corpus.documents)} documents; the others are unchanged")
    fresh = embed_documents(todo, embedder, cfg.split, progress)
    embedded = [fresh[d.name] if d.name in fresh else reuse[d.sha256].renamed(d.name) for d in corpus.documents]
    texts = {d.name: d.text for d in corpus.documents}
    index = SearchIndex.build(embedded, texts, cfg, embedder.dimension)
    entries = tuple(
        DocumentEntry(d.name, d.sha256, len(e.passages)) for d, e in zip(corpus.documents, embedded, strict=True)
    )
    return _write(home, index, embedder, cfg, entries)


def _write(
    home: Path, index: SearchIndex, embedder: Embedder, cfg: IndexConfig, entries: tuple[DocumentEntry, ...]
) -> StoredIndex:
    """Write ``index`` as a new version folder and switch ``CURRENT`` to it, crash-safely."""
    version = f"v-{uuid.uuid4().hex[:12]}"
    final = home / version
    with staged(final, sync=True) as staging:
        staging.mkdir()
        (staging / "passages.json").write_text(
            json.dumps([dataclasses.asdict(p) for p in index.passages], ensure_ascii=False), encoding="utf-8"
        )
        index.dense.save(staging / "dense.faiss")
        index.lexical.save(staging / "bm25")
        np.save(staging / "sentences.npy", index.sentence_vectors, allow_pickle=False)
        save_sparse(staging / "sentence_terms.npz", index.sentence_terms)
        written = sorted(p for p in staging.rglob("*") if p.is_file())
        files = {p.relative_to(staging).as_posix(): _file_entry(p) for p in written}
        manifest = Manifest(FORMAT_VERSION, embedder.name, embedder.dimension, cfg, entries, files)
        (staging / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=1), encoding="utf-8")
    write_atomic(home / "CURRENT", version, sync=True)
    for old in home.iterdir():
        if old.is_dir() and old.name != version:
            shutil.rmtree(old, ignore_errors=True)
    return _load_folder(final, manifest, rebuilt=True)
