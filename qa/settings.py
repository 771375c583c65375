"""Every setting read from the environment, in one place: its name, its default, how it is checked.

Nothing else in ``qa`` reads ``os.environ`` for a ``QA_*`` name. A bad value raises the library's own
error naming the variable and a value that works.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from .errors import CorpusError, ModelError

MODEL_ENV = "QA_MODEL"
BACKEND_ENV = "QA_BACKEND"
PRECISION_ENV = "QA_PRECISION"
INDEX_DIR_ENV = "QA_INDEX_DIR"
MAX_DOC_MB_ENV = "QA_MAX_DOC_MB"
EXTRACT_SECONDS_ENV = "QA_EXTRACT_SECONDS"
EXTRACT_MEMORY_ENV = "QA_EXTRACT_MEMORY_MB"
MAX_DOCS_ENV = "QA_MAX_DOCS"
INDEX_SECONDS_ENV = "QA_INDEX_SECONDS"
WORKERS_ENV = "QA_WORKERS"
READER_ENV = "QA_READER"

BACKENDS = ("onnx", "torch")
PRECISIONS = ("fp32", "int8")
DEFAULT_PRECISION = "fp32"
DEFAULT_BACKEND = "onnx"
DEFAULT_INDEX_DIR = ".qa-index"
DEFAULT_MAX_DOC_MB = 20.0
DEFAULT_EXTRACT_SECONDS = 60
DEFAULT_EXTRACT_MEMORY_MB = 2048
DEFAULT_MAX_DOCS = 20
DEFAULT_INDEX_SECONDS = 600


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def model(chosen: str | None = None) -> str | None:
    """The model asked for: ``chosen``, else ``$QA_MODEL``, else None (the bundled one)."""
    return chosen or _raw(MODEL_ENV) or None


def backend(chosen: str | None = None) -> str:
    """The inference backend: ``chosen``, else ``$QA_BACKEND``, else ONNX Runtime."""
    value = (chosen or _raw(BACKEND_ENV) or DEFAULT_BACKEND).lower()
    if value not in BACKENDS:
        raise ModelError(f"{BACKEND_ENV}={value!r} is not a backend; use one of {', '.join(BACKENDS)}")
    return value


def precision(chosen: str | None = None) -> str:
    """The ONNX model's arithmetic: ``chosen``, else ``$QA_PRECISION``, else the default."""
    value = (chosen or _raw(PRECISION_ENV) or DEFAULT_PRECISION).lower()
    if value not in PRECISIONS:
        raise ModelError(f"{PRECISION_ENV}={value!r} is not a precision; use one of {', '.join(PRECISIONS)}")
    return value


def index_root(index_dir: Path | str | None = None) -> Path:
    """The folder holding indexes and exported models: the argument, ``$QA_INDEX_DIR`` or ``.qa-index``."""
    return Path(index_dir or _raw(INDEX_DIR_ENV) or DEFAULT_INDEX_DIR).expanduser()


def models_dir(index_dir: Path | str | None = None) -> Path:
    """Where exported models are cached: ``models`` inside the index root."""
    return index_root(index_dir) / "models"


def max_document_bytes() -> int:
    """The size limit for one document, from ``QA_MAX_DOC_MB`` (default 20 MB)."""
    raw = _raw(MAX_DOC_MB_ENV)
    try:
        megabytes = float(raw) if raw else DEFAULT_MAX_DOC_MB
    except ValueError:
        megabytes = math.nan
    if not math.isfinite(megabytes) or megabytes <= 0:
        raise CorpusError(f"{MAX_DOC_MB_ENV}={raw!r} is not a size; set it to a positive number of MB, e.g. 50")
    return int(megabytes * 1_000_000)


def _whole(name: str, default: int) -> int:
    raw = _raw(name)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise CorpusError(f"{name}={raw!r} is not a whole number of at least 1; set it to e.g. {default}")
    return int(raw)


def extract_seconds() -> int:
    """CPU seconds a PDF, Word or HTML file may take to convert (``QA_EXTRACT_SECONDS``, default 60)."""
    return _whole(EXTRACT_SECONDS_ENV, DEFAULT_EXTRACT_SECONDS)


def extract_memory_mb() -> int:
    """Memory the converting worker may use (``QA_EXTRACT_MEMORY_MB``, default 2048)."""
    return _whole(EXTRACT_MEMORY_ENV, DEFAULT_EXTRACT_MEMORY_MB)


def max_documents() -> int:
    """Documents one browser session may hold (``QA_MAX_DOCS``, default 20)."""
    return _whole(MAX_DOCS_ENV, DEFAULT_MAX_DOCS)


def index_seconds() -> int:
    """Seconds one added document may take to read and embed in the app (``QA_INDEX_SECONDS``, default 600)."""
    return _whole(INDEX_SECONDS_ENV, DEFAULT_INDEX_SECONDS)


def workers() -> int:
    """Threads that read and embed added documents (``QA_WORKERS``; default one per core)."""
    return _whole(WORKERS_ENV, os.cpu_count() or 1)


READER_CHOICES = ("auto", "on", "off")


def reader() -> str:
    """Whether answers use the trained reader: ``QA_READER=auto`` (the default: when its weights are in
    the package, silently without it when they are not), ``on`` (a notice when they are missing), ``off``."""
    value = (_raw(READER_ENV) or "auto").lower()
    if value not in READER_CHOICES:
        raise ModelError(f"{READER_ENV}={value!r} is not a choice; set it to one of {', '.join(READER_CHOICES)}")
    return value
