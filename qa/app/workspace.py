"""Each browser session's own documents: added, listed, removed, and asked — never seen by another session.

A session holds only a list of ``Source`` (display name and content hash) in its state. The documents
themselves are converted and embedded once, whoever adds them, and kept on disk by content hash and
index settings (``<index root>/library/``); ``Workspaces`` builds a session's search index in memory
from them and keeps the latest few (``MAX_ENGINES``), so memory stays bounded however many sessions
there are: an idle session's index is dropped and rebuilt from the disk cache when it returns. The
bundled corpus is every session's starting point, and can be removed like any document.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import settings
from ..answering.engine import Engine
from ..documents.corpus import SUFFIXES, Corpus, Document, read_document
from ..documents.extracted import Extracted
from ..documents.passages import Passage
from ..errors import DocumentError, QAError
from ..models.embed import Embedder, Progress
from ..retrieval.index import EmbeddedDocument, IndexConfig, SearchIndex, embed_documents
from ..storage import LRU, staged

MAX_ENGINES = 8  # session indexes kept in memory; older ones are rebuilt from the disk cache on return
MAX_CACHED_DOCUMENTS = 64  # embedded documents kept in memory
_log = logging.getLogger(__name__)
NAME_CHARS = 120
PASTED = "Pasted text"


class WorkspaceError(QAError):
    """A document cannot be added (too many, unsupported, unreadable): the message names it."""


@dataclass(frozen=True)
class Source:
    """A document of a session: its name as shown, its content hash, its size, where it came from."""

    name: str
    sha256: str
    pages: int
    passages: int
    bundled: bool = False


def safe_name(original: str, taken: Sequence[str] = ()) -> str:
    """A display name from an uploaded file's name: no folders, no control characters, not too long,
    and not one the session already uses ("report (2).pdf"). It is only ever shown, never a path."""
    base = re.split(r"[/\\\\]", original or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C")
    base = " ".join(base.split()).strip(" .") or "document"
    if len(base) > NAME_CHARS:
        stem, dot, suffix = base.rpartition(".")
        keep = dot and len(suffix) <= 5
        base = stem[: NAME_CHARS - len(suffix) - 2] + "…" + dot + suffix if keep else base[:NAME_CHARS]
    stem, suffix = (base[: -len(Path(base).suffix)], Path(base).suffix) if Path(base).suffix else (base, "")
    name, n = base, 2
    while name in taken:  # "report (2).pdf": the type stays at the end
        name, n = f"{stem} ({n}){suffix}", n + 1
    return name


class Library:
    """Documents converted and embedded once, by content hash, on disk and (the latest ones) in memory."""

    def __init__(self, embedder: Embedder, config: IndexConfig, root: Path | None = None) -> None:
        self.embedder = embedder
        self.config = config
        settings_key = json.dumps([embedder.name, dataclasses.asdict(config)], sort_keys=True, default=str)
        digest = hashlib.sha256(settings_key.encode()).hexdigest()[:16]
        self.folder = (root or settings.index_root()) / "library" / digest
        self._memory: LRU[str, tuple[Document, EmbeddedDocument]] = LRU(MAX_CACHED_DOCUMENTS)
        self._embedding: dict[str, threading.Lock] = {}  # one lock per document being embedded
        self._locks = threading.Lock()

    def keep(self, document: Document, embedded: EmbeddedDocument) -> None:
        """Remember an embedded document (e.g. one of the bundled corpus) under its content hash."""
        self._memory.put(document.sha256, (document, embedded))

    def add(self, document: Document, progress: Progress | None = None) -> EmbeddedDocument:
        """Embed ``document`` unless it was embedded before (by anyone); save it to the disk cache.

        The same document added by two sessions at once is embedded once: the second waits for the first.
        """
        with self._locks:
            lock = self._embedding.setdefault(document.sha256, threading.Lock())
        try:
            with lock:
                found = self.get(document.sha256)
                if found is not None:
                    return found[1]
                embedded = embed_documents([document], self.embedder, self.config.split, progress)[document.name]
                self._save(document, embedded)
                self.keep(document, embedded)
                return embedded
        finally:
            with self._locks:
                self._embedding.pop(document.sha256, None)

    def get(self, sha256: str) -> tuple[Document, EmbeddedDocument] | None:
        """The document and its embedding, from memory or the disk cache; None if never added."""
        found = self._memory.get(sha256)
        if found is not None:
            return found
        loaded = self._load(sha256)
        if loaded is not None:
            self.keep(*loaded)
        return loaded

    def _save(self, document: Document, embedded: EmbeddedDocument) -> None:
        """Write the document's folder (``storage.staged``: a crash leaves no half, and a folder another
        session wrote first is kept). An unwritable cache is logged: the document stays in memory."""
        record = {
            **Extracted(document.text, document.pages, document.headings).to_json(),
            "passages": [dataclasses.asdict(p) for p in embedded.passages],
        }
        final = self.folder / document.sha256
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # A folder there now is damaged (it did not load): it is replaced, not kept.
            with staged(final, replace=final.exists()) as staging:
                staging.mkdir()
                (staging / "document.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
                np.save(staging / "passages.npy", embedded.passage_vectors, allow_pickle=False)
                np.save(staging / "sentences.npy", embedded.sentence_vectors, allow_pickle=False)
        except OSError as exc:
            _log.warning(
                "cannot save %s to the library in %s (%s); it is kept in memory only, free some space or set %s",
                document.name,
                self.folder,
                exc.strerror or exc,
                settings.INDEX_DIR_ENV,
            )

    def _load(self, sha256: str) -> tuple[Document, EmbeddedDocument] | None:
        folder = self.folder / sha256
        try:
            record = json.loads((folder / "document.json").read_text(encoding="utf-8"))
            stored = Extracted.from_json(record)
            passages = tuple(Passage.from_json(p) for p in record["passages"])
            passage_vectors = np.load(folder / "passages.npy", allow_pickle=False)
            sentence_vectors = np.load(folder / "sentences.npy", allow_pickle=False)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        name = passages[0].doc if passages else ""
        document = Document(name, folder, stored.text, sha256, stored.pages, stored.headings)
        n_sentences = sum(len(p.sentences) for p in passages)
        if len(passage_vectors) != len(passages) or len(sentence_vectors) != n_sentences:
            return None
        return document, EmbeddedDocument(passages, passage_vectors, sentence_vectors)


class Workspaces:
    """The sessions' engines over one shared model, one shared library of documents."""

    def __init__(self, base: Engine, config: IndexConfig | None = None) -> None:
        self.base = base
        self.config = config or (base.stored.manifest.config if base.stored else IndexConfig())
        self.library = Library(base.embedder, self.config, base.root)
        self.bundled = self._bundled(base)
        # The shared starting point stays; the latest other session indexes are kept beside it.
        self._engines: LRU[tuple[Source, ...], Engine] = LRU(MAX_ENGINES, pinned=lambda key: key == self.bundled)
        self._engines.put(self.bundled, base)

    def _bundled(self, base: Engine) -> tuple[Source, ...]:
        """The base corpus's documents as sources, their embeddings handed to the library.

        Each document's passages are one run of rows in the index, in whatever order it was built.
        """
        rows: dict[str, list[int]] = {}
        for row, passage in enumerate(base.passages):
            rows.setdefault(passage.doc, []).append(row)
        sources = []
        for document in base.documents:
            mine = rows.get(document.name, [])
            start, end = (mine[0], mine[-1] + 1) if mine else (0, 0)
            assert end - start == len(mine), f"{document.name}: its passages are not one run of the index"
            self.library.keep(document, base.index.embedded(start, end))
            sources.append(Source(document.name, document.sha256, len(document.pages), len(mine), bundled=True))
        return tuple(sources)

    def engine(self, sources: Sequence[Source]) -> Engine | None:
        """The engine over exactly these documents (None for none): kept, or rebuilt from the caches."""
        key = tuple(sources)
        if not key:
            return None
        engine = self._engines.get(key)
        if engine is None:
            engine = self._build(key)
            self._engines.put(key, engine)
        return engine

    def _build(self, sources: tuple[Source, ...]) -> Engine:
        documents: list[Document] = []
        embedded: list[EmbeddedDocument] = []
        for source in sources:
            found = self.library.get(source.sha256)
            if found is None:
                raise WorkspaceError(f"{source.name}: its cached copy is gone; add the file again")
            document, parts = found
            documents.append(dataclasses.replace(document, name=source.name))
            embedded.append(parts.renamed(source.name))
        texts = {d.name: d.text for d in documents}
        index = SearchIndex.build(embedded, texts, self.config, self.base.embedder.dimension)
        base = self.base
        corpus = Corpus(tuple(documents), ())
        return Engine(corpus, index, base.embedder, vectors=base.vectors, index_dir=base.root, reader=base.reader)

    def add_file(self, sources: Sequence[Source], path: Path, original_name: str) -> tuple[Source, ...]:
        """``sources`` with the uploaded file at ``path`` added (``WorkspaceError`` naming it if refused)."""
        name = self.reserve(sources, original_name)
        return (*sources, self.embed(self.read_file(path, name)))

    def add_text(self, sources: Sequence[Source], text: str) -> tuple[Source, ...]:
        """``sources`` with pasted text added as a document of its own."""
        name = self.reserve(sources, PASTED)
        return (*sources, self.embed(self.read_text(text, name)))

    def reserve(self, sources: Sequence[Source], original_name: str, taken: Sequence[str] = ()) -> str:
        """The name a new document gets beside ``sources`` (and names ``taken`` by documents being read),
        if there is room for one more; else ``WorkspaceError``."""
        names = [*(s.name for s in sources), *taken]
        name = safe_name(original_name, names)
        limit = settings.max_documents()
        if len(names) >= limit:
            raise WorkspaceError(
                f"{name}: this conversation already holds {limit} documents, the most it may "
                f"({settings.MAX_DOCS_ENV}); remove one first"
            )
        return name

    def read_file(self, path: Path, name: str) -> Document:
        """The uploaded file at ``path`` read as the document ``name`` (``WorkspaceError`` if refused)."""
        suffix = Path(name).suffix.lower()
        if suffix not in SUFFIXES:
            kinds = ", ".join(SUFFIXES)
            raise WorkspaceError(f"{name}: {suffix or 'files without a type'} cannot be read; add {kinds} files")
        try:
            return read_document(path, name, index_dir=self.base.root)
        except DocumentError as exc:
            raise WorkspaceError(f"{name} {exc.reason}") from None

    def read_text(self, text: str, name: str) -> Document:
        """Pasted ``text`` as the document ``name`` (``WorkspaceError`` if empty, broken or too large)."""
        if not text.strip():
            raise WorkspaceError("the pasted text is empty; paste some text first")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise WorkspaceError(
                "the pasted text holds characters that are not valid Unicode (broken surrogate pairs); "
                "copy it again from its source"
            ) from None
        if len(data) > settings.max_document_bytes():
            raise WorkspaceError(f"{name}: the text is over the size limit of one document ({settings.MAX_DOC_MB_ENV})")
        return Document(name, Path(name), text, hashlib.sha256(data).hexdigest())

    def embed(self, document: Document, progress: Progress | None = None) -> Source:
        """``document`` embedded into the library (unless it was before), as a session's ``Source``."""
        embedded = self.library.add(document, progress)
        return Source(document.name, document.sha256, len(document.pages), len(embedded.passages))

    def source(self, name: str, sha256: str, bundled: bool = False) -> Source | None:
        """The library's document ``sha256`` as a source named ``name``; None when it is not kept."""
        found = self.library.get(sha256)
        if found is None:
            return None
        document, embedded = found
        return Source(name, sha256, len(document.pages), len(embedded.passages), bundled)

    def remove(self, sources: Sequence[Source], names: Sequence[str]) -> tuple[Source, ...]:
        gone = set(names)
        return tuple(s for s in sources if s.name not in gone)
