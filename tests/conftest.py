"""Shared fixtures: the fake model (one way in: the embedder factory), corpora, the real model once.

Every test gets its own ``QA_INDEX_DIR`` (autouse), so nothing writes into the project's ``.qa-index``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from tests.helpers import ARTICLE, FakeEmbedder

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(autouse=True)
def _index_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty index folder of the test's own, and the default document limit."""
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.delenv("QA_MAX_DOC_MB", raising=False)
    return tmp_path / "index"


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    """The fake model in place of the real one wherever ``qa`` makes a model (engine, CLI, app).

    Returns the embedder handed out, so that a test can count what it embedded.
    """
    embedder = FakeEmbedder()
    monkeypatch.setattr("qa.models.embedders.make_embedder", lambda *args, **kwargs: embedder)
    monkeypatch.setattr("qa.models.embedders.make_reader", lambda *args, **kwargs: None)  # ranked without it
    return embedder


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
def fake_engine(article_dir: Path, fake_model: FakeEmbedder):  # type: ignore[no-untyped-def]
    from qa.answering.engine import Engine

    return Engine.open([article_dir])


@pytest.fixture(scope="session")
def real_embedder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The bundled all-MiniLM-L6-v2 as the app runs it (ONNX Runtime), loaded once for the session."""
    from qa.models.embedders import make_embedder

    yield make_embedder(cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-index")


@pytest.fixture(autouse=True)
def _no_driver_left_running() -> Iterator[None]:
    """A failed test leaves no ``fault_driver`` subprocess behind."""
    from tests.helpers import Driver

    yield
    while Driver.started:
        run = Driver.started.pop()
        run.kill()
        run.proc.wait(30)


@pytest.fixture
def qa_cli(fake_model: FakeEmbedder) -> Callable[..., Result]:
    """Invoke ``qa`` in-process with the fake model (and the test's own index folder)."""
    from click.testing import CliRunner

    from qa.cli import main

    runner = CliRunner()

    def invoke(*args: str | Path) -> Result:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=True)

    return invoke
