"""The index on disk: build it, check it, load it, rebuild it when it does not match.

Layout of ``<root>/<key>/`` (``key`` names the corpus paths and the model, so several corpora can
share one root)::

    CURRENT          name of the complete version folder in use (replaced atomically)
    lock             taken by whoever builds; a second builder waits for it
    v-<id>/          manifest.json (written last), passages.json, dense.faiss, sentences.npy,
                     sentence_terms.npz, bm25_vocabulary.json, bm25_doc_freq.npy, bm25_weights.npz

A build writes a new version folder beside the old one, then switches ``CURRENT``: a crash at any
moment leaves either the old index or the new one, never a half-written one. The manifest records
the format version, the model, the splitting parameters, every document's content hash and every
file's size and hash; anything that does not match is rebuilt, reusing the embeddings of
documents whose content did not change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .corpus import Corpus, Document
from .dense import EXACT_LIMIT, DenseIndex
from .embed import Embedder, Progress
from .errors import IndexStoreError
from .lexical import LexicalIndex, load_sparse, save_sparse, terms
from .passages import Passage, SplitConfig, split_document

# Bumped whenever what is stored, or how text is split or tokenized, changes: old indexes rebuild.
FORMAT_VERSION = 2
INDEX_DIR_ENV = "QA_INDEX_DIR"
DEFAULT_INDEX_DIR = ".qa-index"
LOCK_TIMEOUT_S = 600.0

Notice = Callable[[str], None]


@dataclass(frozen=True)
class IndexConfig:
    """Build-time settings, saved in the manifest; any change rebuilds the index."""

    split: SplitConfig = dataclasses.field(default_factory=SplitConfig)
    exact_limit: int = EXACT_LIMIT


@dataclass(frozen=True)
class DocumentEntry:
    name: str
    sha256: str
    passages: int
    sentences: int


@dataclass(frozen=True)
class FileEntry:
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
        config = data["config"]
        return cls(
            format_version=int(data["format_version"]),
            model=str(data["model"]),
            dimension=int(data["dimension"]),
            config=IndexConfig(
                split=SplitConfig(**config["split"]),
                exact_limit=int(config["exact_limit"]),
            ),
            documents=tuple(DocumentEntry(**d) for d in data["documents"]),
            files={name: FileEntry(**f) for name, f in data["files"].items()},
        )


@dataclass(frozen=True)
class StoredIndex:
    """Everything search needs, loaded from (or just written to) one version folder."""

    manifest: Manifest
    passages: tuple[Passage, ...]
    dense: DenseIndex
    lexical: LexicalIndex
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray  # passage i owns sentence rows offsets[i]:offsets[i+1]
    sentence_terms: Any  # CSR, sentences × BM25 vocabulary, 1 where the sentence holds the term
    folder: Path
    rebuilt: bool


class StaleIndexError(Exception):
    """Internal: the stored index cannot be used as it is; the message says why."""


def index_root(index_dir: Path | str | None = None) -> Path:
    """The folder holding indexes: the argument, ``$QA_INDEX_DIR`` or ``.qa-index``."""
    chosen = index_dir or os.environ.get(INDEX_DIR_ENV, "").strip() or DEFAULT_INDEX_DIR
    return Path(chosen).expanduser()


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
    home = index_root(root) / index_key(corpus_paths, embedder.name)
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexStoreError(
            f"cannot create the index folder {home} ({exc.strerror}); set {INDEX_DIR_ENV} to a writable folder"
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
            f"cannot write the index in {home} ({exc.strerror}); free some space or set {INDEX_DIR_ENV} "
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
        raise StaleIndexError("it was built with other splitting or index settings")


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
        passages = _read_passages(folder / "passages.json")
        dense = DenseIndex.load(folder / "dense.faiss")
        lexical = LexicalIndex.load(folder)
        sentence_vectors = np.load(folder / "sentences.npy", allow_pickle=False)
        sentence_terms = load_sparse(folder / "sentence_terms.npz")
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise StaleIndexError(f"its files cannot be read ({type(exc).__name__})") from None
    n_sentences = sum(len(p.sentences) for p in passages)
    if dense.size != len(passages) or lexical.size != len(passages):
        raise StaleIndexError("its files disagree on the number of passages")
    if dense.dimension != manifest.dimension or sentence_vectors.shape != (n_sentences, manifest.dimension):
        raise StaleIndexError("its vectors have the wrong shape")
    if sentence_terms.shape != (n_sentences, lexical.vocabulary_size):
        raise StaleIndexError("its sentence terms do not match its passages")
    offsets = np.zeros(len(passages) + 1, dtype=np.int64)
    np.cumsum([len(p.sentences) for p in passages], out=offsets[1:])
    return StoredIndex(
        manifest=manifest,
        passages=tuple(passages),
        dense=dense,
        lexical=lexical,
        sentence_vectors=np.ascontiguousarray(sentence_vectors, dtype=np.float32),
        sentence_offsets=offsets,
        sentence_terms=sentence_terms,
        folder=folder,
        rebuilt=rebuilt,
    )


def _read_passages(path: Path) -> list[Passage]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [
        Passage(
            doc=r["doc"],
            start=r["start"],
            end=r["end"],
            section=r["section"],
            paragraph=r["paragraph"],
            line=r["line"],
            sentences=tuple((s, e) for s, e in r["sentences"]),
        )
        for r in rows
    ]


def _reusable(
    home: Path, embedder: Embedder, cfg: IndexConfig
) -> dict[str, tuple[list[Passage], np.ndarray, np.ndarray]]:
    """Per document sha256: passages, passage vectors and sentence vectors of the previous index."""
    try:
        folder = _current_folder(home)
        manifest = _read_manifest(folder)
        _check_settings(manifest, embedder, cfg)
        old = _load_folder(folder, manifest, rebuilt=False)
    except StaleIndexError:
        return {}
    vectors = old.dense.vectors()
    out: dict[str, tuple[list[Passage], np.ndarray, np.ndarray]] = {}
    begin = 0
    for entry in manifest.documents:
        end = begin + entry.passages
        s_begin, s_end = int(old.sentence_offsets[begin]), int(old.sentence_offsets[end])
        out[entry.sha256] = (list(old.passages[begin:end]), vectors[begin:end], old.sentence_vectors[s_begin:s_end])
        begin = end
    return out


def _build(
    home: Path, corpus: Corpus, embedder: Embedder, cfg: IndexConfig, say: Notice, progress: Progress | None
) -> StoredIndex:
    reuse = _reusable(home, embedder, cfg)
    todo = [d for d in corpus.documents if d.sha256 not in reuse]
    if reuse and todo:
        say(f"re-embedding {len(todo)} of {len(corpus.documents)} documents; the others are unchanged")
    fresh = _embed_documents(todo, embedder, cfg, progress)

    passages: list[Passage] = []
    passage_vectors: list[np.ndarray] = []
    sentence_vectors: list[np.ndarray] = []
    entries: list[DocumentEntry] = []
    for doc in corpus.documents:
        doc_passages, p_vecs, s_vecs = fresh[doc.name] if doc.name in fresh else reuse[doc.sha256]
        doc_passages = [dataclasses.replace(p, doc=doc.name) for p in doc_passages]
        passages.extend(doc_passages)
        passage_vectors.append(p_vecs)
        sentence_vectors.append(s_vecs)
        entries.append(DocumentEntry(doc.name, doc.sha256, len(doc_passages), len(s_vecs)))

    dim = embedder.dimension
    all_passages = np.concatenate(passage_vectors) if passage_vectors else np.empty((0, dim), np.float32)
    all_sentences = np.concatenate(sentence_vectors) if sentence_vectors else np.empty((0, dim), np.float32)
    texts = {d.name: d.text for d in corpus.documents}
    dense = DenseIndex.build(all_passages, cfg.exact_limit)
    lexical = LexicalIndex.build([passage_terms(texts[p.doc], p) for p in passages])
    sentence_terms = lexical.presence([terms(texts[p.doc][s:e]) for p in passages for s, e in p.sentences])

    version = f"v-{uuid.uuid4().hex[:12]}"
    staging = home / f"{version}.tmp"
    staging.mkdir()
    (staging / "passages.json").write_text(
        json.dumps([dataclasses.asdict(p) for p in passages], ensure_ascii=False), encoding="utf-8"
    )
    dense.save(staging / "dense.faiss")
    lexical.save(staging)
    np.save(staging / "sentences.npy", np.ascontiguousarray(all_sentences, dtype=np.float32), allow_pickle=False)
    save_sparse(staging / "sentence_terms.npz", sentence_terms)
    files = {p.name: _file_entry(p) for p in sorted(staging.iterdir())}
    manifest = Manifest(FORMAT_VERSION, embedder.name, dim, cfg, tuple(entries), files)
    _write_synced(staging / "manifest.json", json.dumps(manifest.to_json(), indent=1))
    for path in staging.iterdir():
        _fsync(path)
    final = home / version
    staging.rename(final)
    _write_synced(home / "CURRENT.tmp", version)
    (home / "CURRENT.tmp").replace(home / "CURRENT")
    _fsync(home)
    for old in home.iterdir():
        if old.is_dir() and old.name != version:
            shutil.rmtree(old, ignore_errors=True)
    return _load_folder(final, manifest, rebuilt=True)


def passage_terms(text: str, passage: Passage) -> list[str]:
    """What BM25 indexes for a passage: its terms, plus its section heading's."""
    body = terms(text[passage.start : passage.end])
    return body + terms(passage.section) if passage.section else body


def _embed_documents(
    documents: Sequence[Document], embedder: Embedder, cfg: IndexConfig, progress: Progress | None
) -> dict[str, tuple[list[Passage], np.ndarray, np.ndarray]]:
    """Split and embed documents in one batch: name -> (passages, passage vectors, sentence vectors)."""
    split = {doc.name: split_document(doc, cfg.split) for doc in documents}
    texts = [doc.text[p.start : p.end] for doc in documents for p in split[doc.name]]
    n_passage_texts = len(texts)
    texts += [doc.text[s:e] for doc in documents for p in split[doc.name] for s, e in p.sentences]
    # A one-sentence passage reads the same as its sentence: embed each distinct text once.
    unique = list(dict.fromkeys(texts))
    row_of = {text: row for row, text in enumerate(unique)}
    encoded = embedder.encode(unique, progress=progress) if unique else np.empty((0, embedder.dimension), np.float32)
    vectors = encoded[[row_of[t] for t in texts]] if texts else encoded
    out: dict[str, tuple[list[Passage], np.ndarray, np.ndarray]] = {}
    p_row, s_row = 0, n_passage_texts
    for doc in documents:
        passages = split[doc.name]
        n_sent = sum(len(p.sentences) for p in passages)
        out[doc.name] = (
            passages,
            vectors[p_row : p_row + len(passages)],
            vectors[s_row : s_row + n_sent],
        )
        p_row += len(passages)
        s_row += n_sent
    return out


def _write_synced(path: Path, content: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
