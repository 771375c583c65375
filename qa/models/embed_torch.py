"""The PyTorch backend: a sentence-transformers model on the CPU, offline.

The Hugging Face hub is switched to offline mode before the library is imported, so nothing touches
the network. Used with ``QA_BACKEND=torch``, as the fallback when a model cannot be exported to ONNX,
and once to make that export.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ModelError
from .embed import BatchedEmbedder, resolve_model


def set_offline() -> None:
    """Keep Hugging Face libraries off the network (must run before they are imported)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class SentenceTransformerEmbedder(BatchedEmbedder):
    """A sentence-transformers model on the CPU, loaded once."""

    batch_size = 64

    def __init__(self, model: str | None = None) -> None:
        self._name, source = resolve_model(model)
        set_offline()
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
            self.model: Any = SentenceTransformer(source, device="cpu")
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise ModelError(
                f"cannot load the embedding model {self._name!r} ({type(exc).__name__}: {exc}); "
                "pass --model (or set QA_MODEL) to a local sentence-transformers folder, or unset it "
                "to use the bundled all-MiniLM-L6-v2"
            ) from None
        dimension = self.model.get_embedding_dimension()
        if not dimension:
            raise ModelError(
                f"model {self._name!r} does not report an embedding size; use a sentence-transformers model"
            )
        self._dimension = int(dimension)
        self._max_seq_length = int(self.model.max_seq_length or 256)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def _token_ends(self, text: str) -> Sequence[int]:
        encoding = self.model.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False
        )
        return [end for _, end in encoding["offset_mapping"]]
