"""The real model through both backends: same vectors, cut where the model stops reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.errors import ModelError
from qa.models.embed_onnx import PROBES, OnnxEmbedder
from qa.models.embed_torch import SentenceTransformerEmbedder
from qa.models.embedders import make_embedder

pytestmark = pytest.mark.model


def test_onnx_and_pytorch_give_the_same_unit_vectors(real_embedder: object) -> None:
    assert isinstance(real_embedder, OnnxEmbedder)
    torch_model = SentenceTransformerEmbedder()
    texts = [*PROBES, "Which basic experiences must Huawei's technology work together with?", "中文问题？"]
    a = real_embedder.encode(texts)
    b = torch_model.encode(texts)
    assert a.dtype == np.float32 and a.flags["C_CONTIGUOUS"] and a.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.9999
    assert real_embedder.name == torch_model.name


def test_truncation_agrees_between_backends(real_embedder: OnnxEmbedder) -> None:
    torch_model = SentenceTransformerEmbedder()
    padded = " " * 9_000 + "Which automaker launched the Zhijie X9?"
    for text in [
        "short question?",
        "word " * 1000,
        "naïve café " * 300,
        "x" * 100_000,
        padded,
        "\n" * 9_000 + "word " * 1000,
    ]:
        assert real_embedder.truncate(text) == torch_model.truncate(text)
    cut, truncated = real_embedder.truncate("word " * 1000)
    assert truncated and ("word " * 1000).startswith(cut) and len(cut) < 2000
    # Whitespace makes no tokens: a question after a long run of it is read whole, not cut to blanks.
    assert real_embedder.truncate(padded) == (padded, False)
    cut, truncated = real_embedder.truncate("\n" * 9_000 + "word " * 1000)
    assert truncated and cut.endswith("word") and cut.count("word") == 254


def test_a_damaged_export_is_removed_and_made_again(tmp_path: Path) -> None:
    first = make_embedder(cache_dir=tmp_path)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (folder / "model.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelError):
        OnnxEmbedder.open(None, tmp_path)
    again = make_embedder(cache_dir=tmp_path)
    assert np.allclose(again.encode(["hello"]), first.encode(["hello"]), atol=1e-6)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="not a backend"):
        make_embedder(backend="tensorflow")


def test_an_unwritable_model_cache_falls_back_to_pytorch_with_a_notice(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    notices: list[str] = []
    embedder = make_embedder(cache_dir=blocker / "models", notice=notices.append)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert len(notices) == 1 and "cannot write the exported model" in notices[0] and "QA_INDEX_DIR" in notices[0]
