"""Crashes and concurrency: builds killed at any moment, at each fsync, two builders at once, a reader racing a rebuild.

The builds run in real subprocesses (``tests/fault_driver.py``) with a slowed fake model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.answering.engine import Engine
from qa.documents.corpus import load_corpus
from qa.retrieval.store import StoredIndex, index_key, open_index
from tests.helpers import ARTICLE, Driver, FakeEmbedder, check_answer, driver_env, write_docs

QUESTION = "Who launched Qijing?"
SMALL_DOCS = {
    "b.txt": "Beta title\nThe beta document talks about mountains. Mountains are tall and cold.\n",
    "notes/c.md": "# Gamma\n\nA third document about forests.\nIt wraps over two lines.\n\nAnd a second paragraph.\n",
}


# --- 1. a build killed with SIGKILL at any moment --------------------------------------------------

ENCODE_S = 0.5  # seconds the driver's embedder sleeps during the build
FSYNC_S = 0.04  # seconds before each fsync, so the writing step spans a good part of the build


class KillSetup:
    """One corpus, its clean reference index, and an older index of a slightly different corpus."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.corpus = base / "corpus"
        self.corpus.mkdir()
        (self.corpus / ARTICLE.name).write_bytes(ARTICLE.read_bytes())
        write_docs(self.corpus, SMALL_DOCS)
        self.reference = open_index(load_corpus([self.corpus]), [self.corpus], FakeEmbedder(), root=base / "ref")
        # An index of the same corpus paths built before b.txt was edited: a build then has to replace it.
        older = write_docs(base / "older", {**SMALL_DOCS, "b.txt": "Beta title\nAn older text of beta.\n"})
        (older / ARTICLE.name).write_bytes(ARTICLE.read_bytes())
        self.old_root = base / "old-root"
        open_index(load_corpus([older]), [self.corpus], FakeEmbedder(), root=self.old_root)
        self.runs = 0

    def fresh_root(self, with_old_index: bool) -> Path:
        self.runs += 1
        root = self.base / f"run-{self.runs}"
        if with_old_index:
            shutil.copytree(self.old_root, root)
        return root

    def home(self, root: Path) -> Path:
        return root / index_key([self.corpus], FakeEmbedder().name)


@pytest.fixture(scope="module")
def kill_setup(tmp_path_factory: pytest.TempPathFactory) -> KillSetup:
    return KillSetup(tmp_path_factory.mktemp("kill"))


@pytest.fixture(scope="module")
def calibration(kill_setup: KillSetup) -> dict[str, int]:
    """One uninterrupted driver build: it equals the in-process reference; how many fsyncs it makes."""
    root = kill_setup.fresh_root(with_old_index=False)
    run = Driver("build", kill_setup.corpus, root)
    assert run.finish() == 0, run.stderr
    fsyncs = [int(m.split()[1]) for m in run.marks() if m.startswith("fsyncs ")]
    assert fsyncs and fsyncs[0] >= 3  # a crash-safe build syncs its files, then CURRENT, then the folder
    assert_recovers(kill_setup, root)
    return {"fsyncs": fsyncs[0]}


def staging_folders(home: Path) -> set[str]:
    return {p.name for p in home.glob("*.tmp") if p.is_dir()} if home.is_dir() else set()


def assert_current_is_complete(home: Path, expected_files: set[str]) -> None:
    """If ``CURRENT`` exists it names a finished version folder whose every file matches the manifest."""
    current = home / "CURRENT"
    if not current.exists():
        return
    name = current.read_text(encoding="utf-8").strip()
    assert name.startswith("v-") and "/" not in name and not name.endswith(".tmp"), name
    folder = home / name
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == expected_files
    for file, entry in manifest["files"].items():
        data = (folder / file).read_bytes()
        assert len(data) == entry["size"] and hashlib.sha256(data).hexdigest() == entry["sha256"], file


def assert_recovers(setup: KillSetup, root: Path) -> StoredIndex:
    """Open the index after a crash: it must equal the reference, never come from a staging folder."""
    home = setup.home(root)
    expected_files = set(setup.reference.manifest.files)
    assert_current_is_complete(home, expected_files)
    staging = staging_folders(home)
    corpus = load_corpus([setup.corpus])
    stored = open_index(corpus, [setup.corpus], FakeEmbedder(), root=root)
    assert stored.folder.parent == home
    assert stored.folder.name not in staging and not stored.folder.name.endswith(".tmp")
    assert (home / "CURRENT").read_text(encoding="utf-8").strip() == stored.folder.name
    assert_current_is_complete(home, expected_files)
    reference = setup.reference
    assert stored.index.passages == reference.index.passages
    np.testing.assert_array_equal(stored.index.sentence_vectors, reference.index.sentence_vectors)
    np.testing.assert_array_equal(stored.index.dense.vectors(), reference.index.dense.vectors())
    texts = {d.name: d.text for d in corpus.documents}
    n = len(stored.index.passages)
    answer = Engine(corpus, stored.index, FakeEmbedder(), stored).ask(QUESTION, k=n)
    check_answer(answer.to_json(), texts, n, QUESTION)
    assert len(answer.hits) == n  # every passage quoted, each text == document[start:end]
    if stored.rebuilt:
        assert staging_folders(home) == set()  # a finished build clears what a crash left behind
    again = open_index(corpus, [setup.corpus], FakeEmbedder(), root=root)
    assert not again.rebuilt and again.folder == stored.folder
    return stored


def test_build_killed_at_any_moment_recovers_without_using_half_written_files(
    kill_setup: KillSetup, calibration: dict[str, int]
) -> None:
    """SIGKILL a real build at moments spread over its whole run: during start-up, while embedding,
    while writing (the driver sleeps before each fsync) and right at the end.

    Delays are counted from the driver's progress marks, not from a guess of its speed, so the kills
    land in the same phases on a slow or busy machine. Runs alternate between an empty index folder
    and one holding an older index that the build replaces. After each kill ``CURRENT`` (if any) names
    a complete folder, and opening the index in-process gives exactly the reference index.
    """
    n = calibration["fsyncs"]
    mid_fsync = FSYNC_S / 2
    plan: list[tuple[str | None, float]] = [
        (None, 0.0),  # at once: before the interpreter has started
        (None, 0.1),  # while importing
        ("ready", 0.0),  # loading the corpus, taking the lock
        ("encoding", 0.0),
        ("encoding", ENCODE_S / 2),
        ("fsync 1", mid_fsync),  # data files and manifest written, nothing synced yet
        (f"fsync {n // 2}", mid_fsync),
        (f"fsync {n - 2}", mid_fsync),
        (f"fsync {n - 1}", mid_fsync),  # around the rename and the CURRENT switch
        (f"fsync {n}", mid_fsync),
        (f"fsyncs {n}", 0.0),  # done: right at the end
    ]
    outcomes = []
    for i, (after, delay) in enumerate(plan):
        root = kill_setup.fresh_root(with_old_index=i % 2 == 1)
        run = Driver("build", kill_setup.corpus, root, "--encode-s", ENCODE_S, "--fsync-s", FSYNC_S)
        if after is not None:
            run.wait_for(after)
        time.sleep(delay)
        run.kill()
        code = run.finish()
        assert code in (0, -signal.SIGKILL), run.stderr
        outcomes.append((after, delay, code, sorted(staging_folders(kill_setup.home(root)))))
        assert_recovers(kill_setup, root)
    assert outcomes[0][2] == -signal.SIGKILL, outcomes  # killed at once: certainly mid-way


def test_build_crashing_at_each_fsync_recovers(kill_setup: KillSetup, calibration: dict[str, int]) -> None:
    """Deterministic crash points: the driver SIGKILLs itself at its n-th fsync, for every n of a build.

    This covers each step of the write (data files done, manifest written, folder renamed, CURRENT
    switched, ...) whatever the machine's speed; two crashes run at a time.
    """
    points = list(range(1, calibration["fsyncs"] + 1))
    left_staging = []
    for pair in (points[i : i + 2] for i in range(0, len(points), 2)):
        runs = []
        for n in pair:
            root = kill_setup.fresh_root(with_old_index=n % 2 == 0)
            runs.append((n, root, Driver("build", kill_setup.corpus, root, "--die-at-fsync", n)))
        for n, root, run in runs:
            assert run.finish() == -signal.SIGKILL, f"fsync {n}: {run.stderr[-2000:]}"
            left_staging.append(bool(staging_folders(kill_setup.home(root))))
            assert_recovers(kill_setup, root)
    assert any(left_staging)  # some crashes did leave a half-written staging folder behind


# --- 2. two `qa index` at once ---------------------------------------------------------------------


def test_two_index_commands_at_once_one_waits_and_both_end_well(tmp_path: Path) -> None:
    """The first ``qa index`` holds the lock while it embeds (until a gate file appears); a second
    one starts meanwhile and waits on the lock. Both exit 0; one built, the other found it up to date.
    """
    corpus = write_docs(tmp_path / "corpus", SMALL_DOCS)
    (corpus / ARTICLE.name).write_bytes(ARTICLE.read_bytes())
    gate = tmp_path / "gate"
    env = driver_env(QA_INDEX_DIR=str(tmp_path / "index"))
    command = ("qa", "--gate", gate, "--encode-s", "0.2", "--", "index", "--corpus", corpus)
    first = Driver(*command, env=env)
    first.wait_for("encoding")  # the first one holds the lock now
    second = Driver(*command, env=env)
    second.wait_for("ready")
    time.sleep(0.5)  # let the second reach the lock (the checks below hold either way)
    gate.touch()
    assert first.finish() == 0, first.stderr
    assert second.finish() == 0, second.stderr
    states = []
    for run in (first, second):
        assert "Traceback" not in run.stderr
        (line,) = [x for x in run.stdout.splitlines() if x.startswith("index ")]
        states.append(line.split(":")[0])
    assert sorted(states) == ["index built", "index up to date"]
    (home,) = [p for p in (tmp_path / "index").iterdir() if p.is_dir()]
    versions = [p for p in home.iterdir() if p.is_dir()]
    assert len(versions) == 1 and (home / "CURRENT").read_text().strip() == versions[0].name
    stored = open_index(load_corpus([corpus]), [corpus], FakeEmbedder(), root=tmp_path / "index")
    assert not stored.rebuilt and stored.folder == versions[0]
    assert {p.doc for p in stored.index.passages} == {ARTICLE.name, *SMALL_DOCS}


def test_a_rebuild_finishing_while_a_reader_checks_the_old_version_is_not_a_crash(tmp_path: Path) -> None:
    """A reader (``qa ask``, no lock) reads CURRENT, then a concurrent ``qa index --rebuild`` switches
    CURRENT and deletes the old version folder while the reader is checking its files. The reader must
    fall back to the lock and load the new version, not crash."""
    corpus_dir = write_docs(tmp_path / "corpus", SMALL_DOCS)
    corpus = load_corpus([corpus_dir])
    root = tmp_path / "index"
    old = open_index(corpus, [corpus_dir], FakeEmbedder(), root=root)
    real_open = Path.open
    state = {"fired": False}

    def opening(self: Path, *args: Any, **kwargs: Any) -> Any:
        if not state["fired"] and self.parent == old.folder and self.name != "manifest.json":
            state["fired"] = True  # the reader is past the manifest: a rebuild completes right now
            with pytest.MonkeyPatch.context() as inner:
                inner.setattr(Path, "open", real_open)
                open_index(corpus, [corpus_dir], FakeEmbedder(), root=root, force=True)
        return real_open(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "open", opening)
        try:
            stored = open_index(corpus, [corpus_dir], FakeEmbedder(), root=root)
        except OSError as exc:
            pytest.fail(f"BUG: open_index raised {type(exc).__name__}: {exc}")
    assert state["fired"]
    assert stored.folder != old.folder and stored.folder.is_dir()
    assert stored.index.passages == old.index.passages
