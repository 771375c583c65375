"""Shared fixtures: a fast deterministic fake embedder, small corpora, the real model once per session."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.embed import NamedModel

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "corpus" / "harmonyos-smart-mobility.txt"
SHARED = ROOT.parent / "shared"
BENCH = SHARED / "bench"

_WORD = re.compile(r"[^\W_]+")


class FakeEmbedder(NamedModel):
    """Hashed bag of lower-cased words (and their 4-letter prefixes): similar words, similar vectors.

    Deterministic and instant, so most tests run without the real model. ``calls`` counts the texts
    it has embedded, to check that unchanged documents are not embedded again.
    """

    def __init__(self, dimension: int = 64, name: str = "fake-embedder") -> None:
        self._dimension = dimension
        self._name = name
        self.calls = 0

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self._dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            for feature in (word, word[:4]):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                vec[int.from_bytes(digest[:4], "little") % self._dimension] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0:
            vec[0] = 1.0
            return vec
        return vec / norm

    def encode(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        self.calls += len(texts)
        out = np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self._dimension)
        if progress is not None:
            progress(len(texts), len(texts))
        return np.ascontiguousarray(out)

    def truncate(self, text: str) -> tuple[str, bool]:
        limit = 2000
        return (text, False) if len(text) <= limit else (text[:limit], True)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def article_text() -> str:
    return ARTICLE.read_text(encoding="utf-8")


@pytest.fixture
def article_dir(tmp_path: Path) -> Path:
    """A corpus folder holding a copy of the article."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / ARTICLE.name).write_bytes(ARTICLE.read_bytes())
    return folder


@pytest.fixture
def fake_engine(article_dir: Path, tmp_path: Path, fake_embedder: FakeEmbedder):  # type: ignore[no-untyped-def]
    from qa.engine import Engine

    return Engine.open([article_dir], embedder=fake_embedder, index_dir=tmp_path / "index")


@pytest.fixture(scope="session")
def real_embedder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The bundled all-MiniLM-L6-v2 as the app runs it (ONNX Runtime), loaded once for the session."""
    from qa.embed import make_embedder

    yield make_embedder(cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-index")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def requires_bench() -> pytest.MarkDecorator:
    """Skip when ../shared/bench is absent, except under CI=true where it must be there."""
    missing = not BENCH.is_dir() and os.environ.get("CI", "").lower() != "true"
    return pytest.mark.skipif(missing, reason=f"bench data not found at {BENCH}")
