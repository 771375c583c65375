"""What several test files share: paths, the fake model, corpus writers and the JSON contract check."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import pytest
from click.testing import Result

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "corpus" / "harmonyos-smart-mobility.txt"
SHARED = ROOT.parent / "shared"
BENCH = SHARED / "bench"

_WORD = re.compile(r"[^\W_]+")
_BREAK = re.compile(r"\r\n|\r|\n")

CONTRACT = {
    "rank": int,
    "score": float,
    "doc": str,
    "start": int,
    "end": int,
    "text": str,
    "section": (str, type(None)),
    "paragraph": int,
    "line": int,
    "highlight": dict,
    "page": (int, type(None)),
    "reader": (float, type(None)),  # the reader's probability for the highlight (None: not read)
}


class FakeEmbedder:
    """Hashed bag of lower-cased words (and their 4-letter prefixes): similar words, similar vectors.

    Deterministic and instant, so most tests run without the real model. ``calls`` counts the texts
    it has embedded, to check that unchanged documents are not embedded again.
    """

    def __init__(self, dimension: int = 64, name: str = "fake-embedder") -> None:
        self.dimension = dimension
        self.name = name
        self.calls = 0

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            for feature in (word, word[:4]):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                vec[int.from_bytes(digest[:4], "little") % self.dimension] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0:
            vec[0] = 1.0
            return vec
        return vec / norm

    def encode(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        self.calls += len(texts)
        out = np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dimension)
        if progress is not None:
            progress(len(texts), len(texts))
        return np.ascontiguousarray(out)

    def truncate(self, text: str) -> tuple[str, bool]:
        limit = 2000
        return (text, False) if len(text) <= limit else (text[:limit], True)


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    """Write ``{relative name: text}`` under ``folder`` (UTF-8, bytes as given) and return the folder."""
    for name, text in docs.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return folder


def line_of(text: str, offset: int) -> int:
    """1-based line of ``offset``; ``\\r\\n``, ``\\r`` and ``\\n`` each end one line."""
    return len(_BREAK.findall(text, 0, offset)) + 1


def check_answer(obj: dict[str, Any], texts: dict[str, str], k: int, question: str | None = None) -> None:
    """The JSON contract: fields and types, ranked passages quoted verbatim, highlight inside, lines right.

    At most ``k`` passages (at least one); ``texts`` maps document names to their text as stored.
    """
    assert {"question", "answered", "passages", "confidence"} <= set(obj)
    assert isinstance(obj["question"], str) and isinstance(obj["answered"], bool)
    assert isinstance(obj["confidence"], float) and 0 <= obj["confidence"] <= 1
    if question is not None:
        assert obj["question"] == question
    passages = obj["passages"]
    assert 1 <= len(passages) <= k
    assert [p["rank"] for p in passages] == list(range(1, len(passages) + 1))
    for p in passages:
        assert set(CONTRACT) <= set(p)
        for key, kind in CONTRACT.items():
            assert isinstance(p[key], kind), key
        text = texts[p["doc"]]
        assert p["text"] == text[p["start"] : p["end"]] and p["text"].strip()
        assert p["line"] == line_of(text, p["start"])
        h = p["highlight"]
        assert {"start", "end", "text", "page"} <= set(h) and h["page"] == p["page"]
        assert p["start"] <= h["start"] < h["end"] <= p["end"]
        assert h["text"] == text[h["start"] : h["end"]]
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)


def json_lines(stdout: str) -> list[str]:
    """The lines of ``qa ask --json`` output: split at \\n only (JSON may hold U+2028 or U+0085 raw)."""
    return stdout.removesuffix("\n").split("\n") if stdout else []


def assert_clean_exit(result: Result) -> None:
    """No exception escaped the command (a traceback would be a bug)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"qa raised {type(result.exception).__name__}:\n{tb}")
    assert "Traceback" not in result.output


def assert_one_line_error(result: Result, said: str) -> None:
    """Exit code 2, one line ``qa: error: ...`` on stderr holding ``said``, nothing on stdout."""
    assert_clean_exit(result)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa: error: ") and said in lines[0], result.stderr
    assert result.stdout == ""


def requires_bench() -> pytest.MarkDecorator:
    """Skip when ../shared/bench is absent, except under CI=true where it must be there."""
    missing = not BENCH.is_dir() and os.environ.get("CI", "").lower() != "true"
    return pytest.mark.skipif(missing, reason=f"bench data not found at {BENCH}")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MARK = "driver: "  # progress lines of tests/fault_driver.py


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


def markdown_quotes(markdown: str) -> list[tuple[str, int, int, str]]:
    """The quoted passages of a Markdown export as written there (each line behind "> "), each with the
    document, start and end its position line names: (doc, start, end, quote)."""
    found: list[tuple[str, int, int, str]] = []
    current: list[str] | None = None
    where = ("", -1, -1)
    for line in markdown.split("\n"):
        named = re.match(r"\[\d+\] (.+?) · .*chars (\d+)–(\d+) · score", line)
        if named:
            where = (named.group(1), int(named.group(2)), int(named.group(3)))
        elif line == ">" or line.startswith("> "):
            current = [*(current or []), line[2:]]
        elif current is not None:
            found.append((*where, "\n".join(current)))
            current = None
    return found
