"""Read the documents of a corpus exactly as stored.

A text document's text is its bytes decoded as UTF-8 and nothing else: no newline translation, no
normalisation, no stripping. A PDF, Word or HTML file is converted (``extract``) and the text it makes
is the document as stored, with its pages and headings. Every offset the library reports indexes
this text.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import settings
from ..errors import CorpusError, DocumentError
from .extract import FORMATS, convert
from .extracted import Extracted, ExtractError

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (*TEXT_SUFFIXES, *FORMATS)


@dataclass(frozen=True)
class Document:
    """One document: ``name`` is its path relative to the corpus folder given (or its file name).

    ``text`` is the document as stored; ``pages`` are the spans of its pages (empty when unpaged) and
    ``headings`` the spans and levels of the headings its converter found. ``sha256`` hashes what is
    stored, so a document whose stored text changes is indexed again.
    """

    name: str
    path: Path
    text: str
    sha256: str
    pages: tuple[tuple[int, int], ...] = ()
    headings: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True)
class Corpus:
    """The documents that loaded, and one error for each document that did not."""

    documents: tuple[Document, ...]
    problems: tuple[DocumentError, ...]

    def document(self, name: str) -> Document:
        """Return the document called ``name``; raise ``KeyError`` if there is none."""
        for doc in self.documents:
            if doc.name == name:
                return doc
        raise KeyError(name)


def read_document(
    path: Path, name: str, max_bytes: int | None = None, *, index_dir: Path | str | None = None
) -> Document:
    """Read one document; raise ``DocumentError`` naming the file and what to do about it.

    A PDF, Word or HTML file's conversion is cached in the index root ``index_dir``.
    """
    limit = settings.max_document_bytes() if max_bytes is None else max_bytes
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a pipe or a device could block or never end
            raise DocumentError(str(path), f"is not a regular file; give the corpus {_KINDS} files")
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise DocumentError(str(path), f"cannot be read ({exc.strerror}); check that it is a readable file") from None
    if len(data) > limit:
        size = max(path.stat().st_size, len(data))
        raise DocumentError(
            str(path),
            f"is {size / 1e6:.1f} MB, over the {limit / 1e6:g} MB limit for one document; "
            f"split it into smaller files or raise {settings.MAX_DOC_MB_ENV}",
        )
    if path.suffix.lower() in FORMATS:
        return _converted(path, name, data, index_dir)
    if b"\x00" in data:
        raise DocumentError(str(path), f"looks binary (it contains NUL bytes); give the corpus {_KINDS} files")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            str(path),
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert it, e.g. `iconv -f latin1 -t utf-8`",
        ) from None
    if not text.strip():
        raise DocumentError(str(path), "is empty; add text to it or leave it out of the corpus")
    return Document(name=name, path=path, text=text, sha256=hashlib.sha256(data).hexdigest())


_KINDS = ", ".join(SUFFIXES)


def _converted(path: Path, name: str, data: bytes, index_dir: Path | str | None) -> Document:
    if not data.strip():
        raise DocumentError(str(path), "is empty; add text to it or leave it out of the corpus")
    try:
        extracted = convert(data, path.suffix, index_dir)
    except ExtractError as exc:
        raise DocumentError(str(path), str(exc)) from None
    return Document(name, path, extracted.text, _stored_hash(extracted), extracted.pages, extracted.headings)


def _stored_hash(extracted: Extracted) -> str:
    stored = json.dumps(extracted.to_json(), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(stored.encode("utf-8")).hexdigest()


def _folder_files(folder: Path) -> list[Path]:
    """The documents (``SUFFIXES``) under ``folder``, sorted, skipping hidden files and folders."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        # Pipes and devices are kept here so that read_document reports them instead of hiding them.
        found.extend(Path(root) / f for f in files if not f.startswith(".") and Path(f).suffix.lower() in SUFFIXES)
    return sorted(found)


def _candidates(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """(file, document name) for every file the given paths stand for."""
    out: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            files = _folder_files(path)
            if not files:
                raise CorpusError(f"corpus folder {path} holds no {_KINDS} files; add some or pass another --corpus")
            out.extend((f, f.relative_to(path).as_posix()) for f in files)
        elif path.exists():
            out.append((path, path.name))
        else:
            raise CorpusError(f"corpus path {path} does not exist; pass an existing file or folder with --corpus")
    return out


def load_corpus(
    paths: Sequence[Path | str], max_bytes: int | None = None, *, index_dir: Path | str | None = None
) -> Corpus:
    """Load every document the paths name (files, or folders searched for ``SUFFIXES``).

    A document that cannot be used is reported in ``Corpus.problems`` and the others still load;
    ``CorpusError`` is raised when a path is missing or no document at all is usable.
    """
    if not paths:
        raise CorpusError("no corpus given; pass a file or folder with --corpus")
    limit = settings.max_document_bytes() if max_bytes is None else max_bytes
    documents: list[Document] = []
    problems: list[DocumentError] = []
    seen_files: set[Path] = set()
    names: dict[str, Path] = {}
    for file, name in _candidates(Path(p) for p in paths):
        resolved = file.resolve()
        if resolved in seen_files:
            continue
        seen_files.add(resolved)
        if name in names:
            raise CorpusError(
                f"two documents are both named {name!r} ({names[name]} and {file}); "
                "pass only one of them or give their folder instead"
            )
        names[name] = file
        try:
            documents.append(read_document(file, name, limit, index_dir=index_dir))
        except DocumentError as exc:
            problems.append(exc)
    if not documents:
        detail = "; ".join(str(p) for p in problems)
        raise CorpusError(f"no usable document in the corpus: {detail}")
    return Corpus(documents=tuple(documents), problems=tuple(problems))
