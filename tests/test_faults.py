"""Faults and bad input: killed builds, concurrent builds, corpus changes, bad documents, odd questions.

The index tests run real subprocesses (``tests/fault_driver.py``) that build with a slowed FakeEmbedder;
everything else runs in-process with the FakeEmbedder. No real model, no network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.cli import main
from qa.corpus import load_corpus
from qa.engine import Engine
from qa.errors import CorpusError, QuestionError
from qa.store import StoredIndex, index_key, open_index
from tests.conftest import ARTICLE, ROOT, FakeEmbedder
from tests.fault_driver import MARK, fake_engine_open

QUESTION = "Who launched Qijing?"
SMALL_DOCS = {
    "b.txt": "Beta title\nThe beta document talks about mountains. Mountains are tall and cold.\n",
    "notes/c.md": "# Gamma\n\nA third document about forests.\nIt wraps over two lines.\n\nAnd a second paragraph.\n",
}
_BREAK = re.compile(r"\r\n|\r|\n")
ARTICLE_TEXT = ARTICLE.read_text(encoding="utf-8")


# --- helpers -------------------------------------------------------------------------------------


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    for name, text in docs.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return folder


def line_of(text: str, offset: int) -> int:
    """1-based line of ``offset``; ``\\r\\n``, ``\\r`` and ``\\n`` each end one line."""
    return len(_BREAK.findall(text, 0, offset)) + 1


def check_answer(obj: dict[str, Any], texts: dict[str, str], k: int, question: str | None = None) -> None:
    """The JSON contract: ranked passages quoted verbatim, highlight inside, line numbers right."""
    assert set(obj) == {"question", "answered", "passages"}
    assert isinstance(obj["answered"], bool)
    if question is not None:
        assert obj["question"] == question
    passages = obj["passages"]
    assert 1 <= len(passages) <= k
    assert [p["rank"] for p in passages] == list(range(1, len(passages) + 1))
    for p in passages:
        text = texts[p["doc"]]
        assert p["text"] == text[p["start"] : p["end"]] and p["text"].strip()
        assert p["line"] == line_of(text, p["start"])
        h = p["highlight"]
        assert p["start"] <= h["start"] < h["end"] <= p["end"]
        assert h["text"] == text[h["start"] : h["end"]]
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)


def json_lines(stdout: str) -> list[str]:
    """The lines of ``qa ask --json`` output: split at \n only (JSON may hold U+2028 or U+0085 raw)."""
    return stdout.removesuffix("\n").split("\n") if stdout else []


def assert_clean_exit(result: Result) -> None:
    """No exception escaped the command (a traceback would be a bug)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"qa raised {type(result.exception).__name__}:\n{tb}")
    assert "Traceback" not in result.output


def assert_one_line_error(result: Result, said: str) -> None:
    assert_clean_exit(result)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa: error: ") and said in lines[0], result.stderr
    assert result.stdout == ""


class Driver:
    """A ``tests/fault_driver.py`` subprocess; background threads collect its output as it comes."""

    started: ClassVar[list[Driver]] = []  # every driver, so that a failed test leaves none running

    def __init__(self, *args: object, env: dict[str, str] | None = None) -> None:
        argv: list[str | bytes] = [sys.executable, "-m", "tests.fault_driver"]
        argv += [a if isinstance(a, bytes) else str(a) for a in args]
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or driver_env()
        )
        self.out: list[bytes] = []
        self.err: list[bytes] = []
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()
        Driver.started.append(self)

    @staticmethod
    def _pump(stream: IO[bytes] | None, sink: list[bytes]) -> None:
        assert stream is not None
        for line in iter(stream.readline, b""):
            sink.append(line)

    @property
    def stdout(self) -> str:
        return b"".join(self.out).decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return b"".join(self.err).decode("utf-8", "replace")

    def marks(self) -> list[str]:
        return [line.decode().strip()[len(MARK) :] for line in list(self.out) if line.startswith(MARK.encode())]

    def wait_for(self, mark: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while mark not in self.marks():
            if self.proc.poll() is not None and not self._pumps[0].is_alive() and mark not in self.marks():
                pytest.fail(f"driver ended ({self.proc.returncode}) before {mark!r}:\n{self.stderr[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"driver did not reach {mark!r} in {timeout} s:\n{self.stderr[-3000:]}")
            time.sleep(0.005)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)

    def finish(self, timeout: float = 120.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
            pytest.fail(f"driver still running after {timeout} s:\n{self.stderr[-3000:]}")
        for pump in self._pumps:
            pump.join(10)
        return code


def driver_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def _no_driver_left_running() -> Iterator[None]:
    yield
    while Driver.started:
        run = Driver.started.pop()
        run.kill()
        run.proc.wait(30)


@pytest.fixture(autouse=True)
def _default_document_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The tests expect the default 20 MB document limit, whatever the environment says."""
    monkeypatch.delenv("QA_MAX_DOC_MB", raising=False)
    yield


@pytest.fixture
def qa_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Result]:
    """Invoke ``qa`` in-process with the FakeEmbedder and an isolated index folder."""
    monkeypatch.setattr(Engine, "open", fake_engine_open(FakeEmbedder))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "cli-index"))
    runner = CliRunner()

    def invoke(*args: str | Path) -> Result:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=True)

    return invoke


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
    assert stored.passages == reference.passages
    np.testing.assert_array_equal(stored.sentence_vectors, reference.sentence_vectors)
    np.testing.assert_array_equal(stored.dense.vectors(), reference.dense.vectors())
    texts = {d.name: d.text for d in corpus.documents}
    n = len(stored.passages)
    answer = Engine(corpus, stored, FakeEmbedder()).ask(QUESTION, k=n)
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
    assert {p.doc for p in stored.passages} == {ARTICLE.name, *SMALL_DOCS}


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
    assert stored.passages == old.passages


# --- 3. documents edited, added, removed: what test_store.py does not cover ------------------------


class Store:
    """Opens the index of one corpus folder with a fresh FakeEmbedder each time, recording notices."""

    def __init__(self, tmp_path: Path, docs: dict[str, str]) -> None:
        self.corpus_dir = write_docs(tmp_path / "corpus", docs)
        self.root = tmp_path / "index"
        self.notices: list[str] = []
        self.embedder = FakeEmbedder()

    def open(self) -> StoredIndex:
        self.embedder = FakeEmbedder()
        corpus = load_corpus([self.corpus_dir])
        return open_index(corpus, [self.corpus_dir], self.embedder, root=self.root, notice=self.notices.append)

    def texts(self) -> dict[str, str]:
        return {d.name: d.text for d in load_corpus([self.corpus_dir]).documents}


def assert_verbatim(stored: StoredIndex, texts: dict[str, str]) -> None:
    assert {p.doc for p in stored.passages} == set(texts)
    for p in stored.passages:
        text = texts[p.doc]
        assert 0 <= p.start < p.end <= len(text) and text[p.start : p.end].strip()
        assert p.line == line_of(text, p.start)
        assert all(p.start <= s < e <= p.end for s, e in p.sentences)


def test_renamed_moved_or_copied_documents_are_not_embedded_again(tmp_path: Path) -> None:
    store = Store(tmp_path, {"a.txt": "Alpha title\nRivers flow to the sea. The sea is salty.\n", **SMALL_DOCS})
    first = store.open()
    (store.corpus_dir / "a.txt").rename(store.corpus_dir / "renamed.txt")
    (store.corpus_dir / "moved").mkdir()
    (store.corpus_dir / "b.txt").rename(store.corpus_dir / "moved" / "b.txt")
    shutil.copy(store.corpus_dir / "notes" / "c.md", store.corpus_dir / "c-copy.md")
    second = store.open()
    assert second.rebuilt and store.embedder.calls == 0
    assert any("added" in n and "removed" in n for n in store.notices)
    assert {p.doc for p in second.passages} == {"renamed.txt", "moved/b.txt", "notes/c.md", "c-copy.md"}
    assert_verbatim(second, store.texts())
    by_doc = {name: [(p.start, p.end) for p in first.passages if p.doc == name] for name in ("a.txt", "b.txt")}
    assert [(p.start, p.end) for p in second.passages if p.doc == "renamed.txt"] == by_doc["a.txt"]
    assert [(p.start, p.end) for p in second.passages if p.doc == "moved/b.txt"] == by_doc["b.txt"]
    third = store.open()
    assert not third.rebuilt and store.embedder.calls == 0


def test_an_edit_keeping_size_and_modification_time_is_picked_up(tmp_path: Path) -> None:
    store = Store(tmp_path, SMALL_DOCS)
    store.open()
    path = store.corpus_dir / "b.txt"
    before = path.stat()
    path.write_text(SMALL_DOCS["b.txt"].replace("mountains", "mountainz"), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    stored = store.open()
    assert stored.rebuilt and any("changed b.txt" in n for n in store.notices)
    assert_verbatim(stored, store.texts())


def test_a_document_that_turns_unreadable_is_dropped_and_the_others_are_not_embedded_again(tmp_path: Path) -> None:
    store = Store(tmp_path, {"a.txt": "Alpha title\nRivers flow to the sea.\n", **SMALL_DOCS})
    store.open()
    (store.corpus_dir / "b.txt").write_bytes("Beta caf\u00e9 in latin-1".encode("latin-1"))
    corpus = load_corpus([store.corpus_dir])
    assert [Path(p.path).name for p in corpus.problems] == ["b.txt"]
    stored = store.open()
    assert stored.rebuilt and store.embedder.calls == 0
    assert "b.txt" not in {p.doc for p in stored.passages}
    assert_verbatim(stored, store.texts())


def test_converting_a_document_to_crlf_reembeds_only_it_with_correct_offsets(tmp_path: Path) -> None:
    store = Store(tmp_path, {"a.txt": "Alpha title\nRivers flow to the sea.\n", **SMALL_DOCS})
    first = store.open()
    path = store.corpus_dir / "notes" / "c.md"
    path.write_bytes(SMALL_DOCS["notes/c.md"].replace("\n", "\r\n").encode())
    stored = store.open()
    assert stored.rebuilt and any("re-embedding 1 of 3" in n for n in store.notices)
    assert_verbatim(stored, store.texts())
    lf = [(p.line, p.paragraph, p.section) for p in first.passages if p.doc == "notes/c.md"]
    assert [(p.line, p.paragraph, p.section) for p in stored.passages if p.doc == "notes/c.md"] == lf


# --- 4. bad documents ------------------------------------------------------------------------------

GOOD_DOC = "Good title\nGAC Group and Huawei launched the Qijing brand. It sells cars.\n"
BAD_DOCS: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "is empty"),
    "blank": (b" \r\n\t\n", "is empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "looks binary"),
    "latin-1": ("Caf\u00e9 cr\u00e8me".encode("latin-1"), "is not UTF-8"),
    "truncated-utf8": ("Huawei \u4e2d\u6587".encode()[:-1], "is not UTF-8"),
}


@pytest.mark.parametrize("kind", list(BAD_DOCS))
def test_engine_skips_a_bad_document_by_name_and_answers_from_the_others(tmp_path: Path, kind: str) -> None:
    content, reason = BAD_DOCS[kind]
    folder = write_docs(tmp_path / "corpus", {"good.txt": GOOD_DOC})
    (folder / "bad.txt").write_bytes(content)
    notices: list[str] = []
    engine = Engine.open([folder], embedder=FakeEmbedder(), index_dir=tmp_path / "index", notice=notices.append)
    (skipped,) = [n for n in notices if n.startswith("skipped ")]
    assert str(folder / "bad.txt") in skipped and reason in skipped
    assert [d.name for d in engine.documents] == ["good.txt"]
    check_answer(engine.ask(QUESTION, k=3).to_json(), {"good.txt": GOOD_DOC}, 3, QUESTION)


@pytest.mark.parametrize("kind", list(BAD_DOCS))
def test_cli_skips_a_bad_document_on_stderr_and_prints_the_answer(
    qa_cli: Callable[..., Result], tmp_path: Path, kind: str
) -> None:
    content, reason = BAD_DOCS[kind]
    folder = write_docs(tmp_path / "corpus", {"good.txt": GOOD_DOC})
    (folder / "bad.txt").write_bytes(content)
    result = qa_cli("ask", QUESTION, "--corpus", folder, "--json", "-k", "2")
    assert_clean_exit(result)
    assert result.exit_code == 0, result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("qa: skipped ")]
    assert len(skipped) == 1 and str(folder / "bad.txt") in skipped[0] and reason in skipped[0]
    check_answer(json.loads(result.stdout), {"good.txt": GOOD_DOC}, 2, QUESTION)


def test_missing_corpus_path_among_good_ones_is_one_clear_error(qa_cli: Callable[..., Result], tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "corpus", {"good.txt": GOOD_DOC})
    missing = tmp_path / "no-such-folder"
    with pytest.raises(CorpusError, match="does not exist") as info:
        Engine.open([folder, missing], embedder=FakeEmbedder(), index_dir=tmp_path / "index")
    assert str(missing) in str(info.value)
    result = qa_cli("ask", QUESTION, "--corpus", folder, "--corpus", missing, "--json")
    assert_one_line_error(result, "does not exist")
    assert str(missing) in result.stderr


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a good document, a small Markdown one and a 50 MB text file."""
    folder = write_docs(tmp_path_factory.mktemp("big") / "corpus", {"good.txt": GOOD_DOC, **SMALL_DOCS})
    line = b"A long line of plain text that goes on and on about Huawei and cars.\n"
    with (folder / "huge.txt").open("wb") as handle:
        for _ in range(50):
            handle.write(line * (1_000_000 // len(line) + 1))
    assert (folder / "huge.txt").stat().st_size > 50_000_000
    return folder


def test_a_50_mb_document_is_refused_by_name_with_the_limit_and_the_others_load(
    big_corpus: Path, tmp_path: Path
) -> None:
    corpus = load_corpus([big_corpus])  # checked first, so a broken limit fails here, before embedding
    (problem,) = corpus.problems
    message = str(problem)
    assert str(big_corpus / "huge.txt") in message
    assert "50.0 MB" in message and "20 MB limit" in message and "QA_MAX_DOC_MB" in message
    assert sorted(d.name for d in corpus.documents) == sorted(["good.txt", *SMALL_DOCS])
    notices: list[str] = []
    engine = Engine.open([big_corpus], embedder=FakeEmbedder(), index_dir=tmp_path / "index", notice=notices.append)
    assert notices == [f"skipped {message}"]
    texts = {d.name: d.text for d in engine.documents}
    check_answer(engine.ask(QUESTION, k=4).to_json(), texts, 4, QUESTION)
    assert sum(len(t) for t in texts.values()) < 10_000  # nothing of the big file was read in


def test_cli_with_a_50_mb_document_names_it_and_still_answers(qa_cli: Callable[..., Result], big_corpus: Path) -> None:
    assert len(load_corpus([big_corpus]).documents) == 3  # the limit holds (else this would embed 50 MB)
    result = qa_cli("ask", QUESTION, "--corpus", big_corpus, "--json", "-k", "3")
    assert_clean_exit(result)
    assert result.exit_code == 0
    (skipped,) = [line for line in result.stderr.splitlines() if line.startswith("qa: skipped ")]
    assert str(big_corpus / "huge.txt") in skipped and "20 MB limit" in skipped
    texts = {d.name: d.text for d in load_corpus([big_corpus]).documents}
    check_answer(json.loads(result.stdout), texts, 3, QUESTION)


def test_a_named_pipe_in_the_corpus_folder_does_not_hang_the_load(tmp_path: Path) -> None:
    """A ``.txt`` FIFO in a folder: reading it would wait for a writer forever. It should be skipped."""
    folder = write_docs(tmp_path / "corpus", {"good.txt": GOOD_DOC})
    fifo = folder / "pipe.txt"
    os.mkfifo(fifo)
    loaded: list[Any] = []
    worker = threading.Thread(target=lambda: loaded.append(load_corpus([folder])), daemon=True)
    worker.start()
    blocked = False
    while worker.is_alive():
        try:  # succeeds only when the loader has the pipe open for reading, i.e. is waiting on it
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            time.sleep(0.01)
            continue
        blocked = True
        os.close(fd)  # end of file: the loader goes on
        break
    worker.join(30)
    assert not blocked, "load_corpus opened the named pipe and waited for a writer"
    (corpus,) = loaded
    assert [d.name for d in corpus.documents] == ["good.txt"]
    assert [Path(p.path).name for p in corpus.problems] == ["pipe.txt"]


def crlf_twins(tmp_path: Path) -> tuple[Engine, Engine]:
    """The article plus a blank-line-separated Markdown file, once with \\n and once with \\r\\n line ends."""
    md = (
        "# A wrapped document\r\n\r\nThe first paragraph is wrapped\r\nover two lines. It talks about Qijing.\r\n"
        "\r\n## Second part\r\n\r\nGAC Group launched Qijing with Huawei.\r\nThe launch was in Guangzhou.\r\n"
    )
    engines = []
    for name, newline in (("lf", "\n"), ("crlf", "\r\n")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "article.txt").write_bytes(ARTICLE.read_text(encoding="utf-8").replace("\n", newline).encode())
        (folder / "wrapped.md").write_bytes(md.replace("\r\n", newline).encode())
        engines.append(Engine.open([folder], embedder=FakeEmbedder(), index_dir=tmp_path / f"index-{name}"))
    return engines[0], engines[1]


def test_crlf_document_quotes_verbatim_and_counts_crlf_as_one_line_break(tmp_path: Path) -> None:
    lf, crlf = crlf_twins(tmp_path)
    texts = {d.name: d.text for d in crlf.documents}
    assert all("\r\n" in t for t in texts.values())
    n = len(crlf.passages)
    answer = crlf.ask(QUESTION, k=n)
    check_answer(answer.to_json(), texts, n, QUESTION)  # text == document[start:end], line counts \r\n once
    assert len(answer.hits) == n == len(lf.passages)
    for hit in answer.hits:
        assert hit.text == hit.text.strip() and hit.highlight.text == hit.highlight.text.strip()
    # Same passages, same lines, paragraphs and sections as the \n twin; only the offsets move.
    lf_text = {d.name: d.text for d in lf.documents}
    for mine, twin in zip(crlf.passages, lf.passages, strict=True):
        assert (mine.doc, mine.line, mine.paragraph, mine.section) == (
            twin.doc,
            twin.line,
            twin.paragraph,
            twin.section,
        )
        quoted = texts[mine.doc][mine.start : mine.end]
        assert quoted.replace("\r\n", "\n") == lf_text[twin.doc][twin.start : twin.end]
    assert any("\r\n" in texts["wrapped.md"][p.start : p.end] for p in crlf.passages if p.doc == "wrapped.md")


def test_cli_on_a_crlf_document_prints_verbatim_quotes(qa_cli: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(ARTICLE.read_text(encoding="utf-8").replace("\n", "\r\n").encode())
    result = qa_cli("ask", QUESTION, "--corpus", path, "--json", "-k", "5")
    assert_clean_exit(result)
    assert result.exit_code == 0
    check_answer(json.loads(result.stdout), {"crlf.txt": path.read_bytes().decode()}, 5, QUESTION)


# --- 5. odd questions ------------------------------------------------------------------------------

ODD_QUESTIONS = {
    "100k-chars": "What did GAC Group launch with Huawei? " * 2565,
    "control-chars": "\x00\x07\x1b[31mWho launched Qijing?\x1b[0m\x08\x7f",
    "emoji": "🚗🔋 Who launched Qijing? 🤔👍🏽",
    "arabic": "من أطلق علامة Qijing التجارية؟",
    "hebrew": "מי השיק את Qijing?",
    "html-js": "<script>alert('x')</script><img src=x onerror=alert(1)> Qijing & <b>GAC</b>",
    "punctuation-only": "?!?...",
    "zero-width": "\u200b\u200d\ufeff",
    "cjk": "谁推出了启境品牌？",
    "combining": "Q\u0301i\u0308jing?",
}
EMPTY_QUESTIONS = {"empty": "", "blank": " \t\r\n\u3000\u2028"}


@pytest.mark.parametrize("name", list(ODD_QUESTIONS))
def test_engine_answers_odd_questions_within_the_contract(fake_engine: Engine, name: str) -> None:
    question = ODD_QUESTIONS[name]
    answer = fake_engine.ask(question, k=3)
    obj = json.loads(json.dumps(answer.to_json(), ensure_ascii=False))
    texts = {d.name: d.text for d in fake_engine.documents}
    check_answer(obj, texts, 3, question)
    assert answer.truncated == (name == "100k-chars")


@pytest.mark.parametrize("name", list(EMPTY_QUESTIONS))
def test_engine_refuses_empty_questions(fake_engine: Engine, name: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        fake_engine.ask(EMPTY_QUESTIONS[name])


@pytest.mark.parametrize("name", list(ODD_QUESTIONS))
def test_cli_answers_odd_questions_as_one_json_line(
    qa_cli: Callable[..., Result], article_dir: Path, article_text: str, name: str
) -> None:
    question = ODD_QUESTIONS[name]
    result = qa_cli("ask", question, "--corpus", article_dir, "--json", "-k", "2")
    assert_clean_exit(result)
    assert result.exit_code == 0, result.stderr
    lines = json_lines(result.stdout)
    assert len(lines) == 1  # control characters are escaped, never printed raw
    check_answer(json.loads(lines[0]), {ARTICLE.name: article_text}, 2, question)


@pytest.mark.parametrize("name", list(EMPTY_QUESTIONS))
def test_cli_refuses_empty_questions_with_one_line(qa_cli: Callable[..., Result], article_dir: Path, name: str) -> None:
    assert_one_line_error(qa_cli("ask", EMPTY_QUESTIONS[name], "--corpus", article_dir, "--json"), "empty")


def test_cli_human_output_of_odd_questions_does_not_crash(qa_cli: Callable[..., Result], article_dir: Path) -> None:
    for question in ODD_QUESTIONS.values():
        result = qa_cli("ask", question, "--corpus", article_dir, "-k", "1")
        assert_clean_exit(result)
        assert result.exit_code == 0 and result.stdout.startswith("Q: ")


def test_a_question_starting_with_a_dash_is_asked_after_double_dash(
    qa_cli: Callable[..., Result], article_dir: Path, article_text: str
) -> None:
    result = qa_cli("ask", "--corpus", article_dir, "--json", "-k", "1", "--", "-5 °C: did Qijing launch?")
    assert_clean_exit(result)
    assert result.exit_code == 0
    check_answer(json.loads(result.stdout), {ARTICLE.name: article_text}, 1, "-5 °C: did Qijing launch?")


def test_questions_file_with_odd_questions_answers_each_in_order(
    qa_cli: Callable[..., Result], article_dir: Path, article_text: str, tmp_path: Path
) -> None:
    questions = [q for q in ODD_QUESTIONS.values()]
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(json.dumps({"q": q}, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    result = qa_cli("ask", "--questions", path, "--corpus", article_dir, "--json", "-k", "2")
    assert_clean_exit(result)
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in json_lines(result.stdout)]
    assert [r["question"] for r in rows] == questions
    for row, question in zip(rows, questions, strict=True):
        check_answer(row, {ARTICLE.name: article_text}, 2, question)


@pytest.mark.parametrize("as_json", [True, False], ids=["jsonl", "plain"])
def test_questions_file_keeps_unicode_line_separators_inside_a_question(
    qa_cli: Callable[..., Result], article_dir: Path, tmp_path: Path, as_json: bool
) -> None:
    """``qa ask --json`` itself writes U+2028 raw (ensure_ascii=False); a file of such lines must read back."""
    questions = ["Who launched\u2028Qijing?", "Next\x85line Huawei?", "Form\x0cfeed Huawei?", "Who is Yu?"]
    path = tmp_path / "seps.jsonl"
    lines = [json.dumps({"q": q}, ensure_ascii=False) if as_json else q for q in questions]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = qa_cli("ask", "--questions", path, "--corpus", article_dir, "--json", "-k", "1")
    assert_clean_exit(result)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["question"] for line in json_lines(result.stdout)] == questions


def test_cli_question_with_bytes_that_are_not_utf8_is_valid_json_or_one_line_error(tmp_path: Path) -> None:
    """On Linux argv is bytes; ``qa ask $'caf\\xe9'`` reaches Python as a lone surrogate (surrogateescape)."""
    corpus = write_docs(tmp_path / "corpus", {"good.txt": GOOD_DOC})
    env = driver_env(QA_INDEX_DIR=str(tmp_path / "index"), PYTHONIOENCODING="utf-8")
    run = Driver("qa", "--", "ask", b"Who launched Qijing caf\xe9 \xff?", "--corpus", corpus, "--json", env=env)
    code = run.finish()
    assert "Traceback" not in run.stderr, run.stderr[-1500:]
    if code == 2:
        assert len(run.stderr.strip().splitlines()) == 1 and run.stderr.startswith("qa: error: ")
        return
    assert code == 0
    out = b"".join(line for line in run.out if not line.startswith(MARK.encode()))
    obj = json.loads(out.decode("utf-8"))  # RFC 8259: JSON text exchanged between programs is UTF-8
    check_answer(obj, {"good.txt": GOOD_DOC}, 5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(max_size=120), k=st.integers(min_value=-1, max_value=6))
def test_cli_any_question_gives_json_or_the_one_line_error(
    qa_cli: Callable[..., Result], article_dir: Path, question: str, k: int
) -> None:
    result = qa_cli("ask", "--corpus", article_dir, "--json", "-k", str(k), "--", question)
    assert_clean_exit(result)
    if not question.strip() or k < 1:
        assert_one_line_error(result, "empty" if k >= 1 else "k must be")
        return
    assert result.exit_code == 0, result.stderr
    (line,) = json_lines(result.stdout)
    check_answer(json.loads(line), {ARTICLE.name: ARTICLE_TEXT}, k, question)
