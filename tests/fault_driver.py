"""Subprocess driver for tests/test_faults.py: build an index, or run ``qa``, with a slowed FakeEmbedder.

Run from the project root (so ``tests`` is importable)::

    python -m tests.fault_driver build CORPUS ROOT [options]   # open_index(...) of CORPUS under ROOT
    python -m tests.fault_driver qa [options] -- ARGS...         # the ``qa`` command with the fake model

Options: ``--encode-s S`` sleeps S seconds inside ``encode`` (spread over the texts, so the embedding
step takes a while), ``--fsync-s S`` sleeps S seconds before every ``os.fsync`` (so the writing step
takes a while too), ``--die-at-fsync N`` sends itself SIGKILL at the N-th ``os.fsync`` (a crash at an
exact point of the write), ``--gate FILE`` makes ``encode`` wait until FILE exists.

Lines starting with ``driver: `` on stdout are progress markers for the test: ``ready`` once imports
are done, ``encoding`` when ``encode`` starts, ``fsync <n>`` at the n-th ``os.fsync`` (before it runs),
and after a build ``built <rebuilt> <folder>`` and ``fsyncs <count>``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tests.helpers import FakeEmbedder

MARK = "driver: "


def mark(message: str) -> None:
    print(MARK + message, flush=True)


class SlowFakeEmbedder(FakeEmbedder):
    """The FakeEmbedder, sleeping ``encode_s`` seconds per ``encode`` call and optionally waiting on a gate file."""

    def __init__(self, encode_s: float = 0.0, gate: Path | None = None) -> None:
        super().__init__()
        self.encode_s = encode_s
        self.gate = gate

    def encode(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        mark("encoding")
        if self.gate is not None:
            deadline = time.monotonic() + 60
            while not self.gate.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        steps = 20
        for step in range(steps):
            time.sleep(self.encode_s / steps)
            if progress is not None:
                progress(len(texts) * step // steps, len(texts))
        return super().encode(texts, progress)


def patch_fsync(delay_s: float, die_at: int | None) -> list[int]:
    """Slow down (or crash at) ``os.fsync``; returns a one-item list counting the calls."""
    real_fsync = os.fsync
    count = [0]

    def fsync(fd: int) -> None:
        count[0] += 1
        mark(f"fsync {count[0]}")
        if die_at is not None and count[0] == die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if delay_s:
            time.sleep(delay_s)
        real_fsync(fd)

    os.fsync = fsync
    return count


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="fault_driver")
    parser.add_argument("mode", choices=["build", "qa"])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--encode-s", type=float, default=0.0)
    parser.add_argument("--fsync-s", type=float, default=0.0)
    parser.add_argument("--die-at-fsync", type=int, default=None)
    parser.add_argument("--gate", type=Path, default=None)
    own, rest = list(argv), []
    if "--" in own:
        cut = own.index("--")
        own, rest = own[:cut], own[cut + 1 :]
    args = parser.parse_args(own)
    fsyncs = patch_fsync(args.fsync_s, args.die_at_fsync)

    def embedder(*_args: object, **_kwargs: object) -> SlowFakeEmbedder:
        return SlowFakeEmbedder(args.encode_s, args.gate)

    if args.mode == "qa":
        import qa.models.embedders
        from qa.cli import main as qa_main

        qa.models.embedders.make_embedder = embedder  # the one way a fake model goes in, as in conftest's fake_model
        qa.models.embedders.make_reader = lambda *_args, **_kwargs: None  # ranked without it, as there
        mark("ready")
        qa_main(rest, prog_name="qa")  # exits
        return 0

    from qa.documents.corpus import load_corpus
    from qa.retrieval.store import open_index

    corpus_dir, root = args.paths
    mark("ready")
    stored = open_index(load_corpus([corpus_dir]), [corpus_dir], embedder(), root=root)
    mark(f"built {stored.rebuilt} {stored.folder}")
    mark(f"fsyncs {fsyncs[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
