"""Pick and load the embedding backend: ONNX Runtime by default, PyTorch when asked or as the fallback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import settings
from .embed import Embedder
from .reader import Reader


def make_embedder(
    model: str | None = None,
    cache_dir: Path | None = None,
    backend: str | None = None,
    notice: Callable[[str], None] | None = None,
) -> Embedder:
    """The embedder for ``model`` (or ``$QA_MODEL``, or the bundled one), on ``backend`` (or ``$QA_BACKEND``),
    in ``$QA_PRECISION`` (ONNX only: fp32, or int8 weights).

    ``cache_dir`` holds exported ONNX models (default: ``models`` in the index root). When the export
    fails, PyTorch is used and ``notice`` is told why.
    """
    chosen = settings.model(model)
    precision = settings.precision()
    if settings.backend(backend) == "torch":
        from .embed_torch import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(chosen)
    from .embed_onnx import OnnxEmbedder, OnnxExportError

    try:
        return OnnxEmbedder.open(chosen, cache_dir or settings.models_dir(), precision)
    except OnnxExportError as exc:
        if notice is not None:
            notice(f"{exc}; using PyTorch instead")
        from .embed_torch import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(chosen)


def make_reader(cache_dir: Path | None = None, notice: Callable[[str], None] | None = None) -> Reader | None:
    """The shipped reader on ``$QA_BACKEND`` (ONNX exported into ``cache_dir``), or None: with
    ``QA_READER=off``; without weights in the package (``auto``: silently; ``on``: after a notice); with
    damaged weights (a notice). The engine then ranks without it."""
    from .reader import READER_DIR, SETTINGS_FILE, open_reader

    choice = settings.reader()
    if choice == "off" or (choice == "auto" and not (READER_DIR / SETTINGS_FILE).exists()):
        return None
    return open_reader(cache_dir, notice)
