"""Writing to disk without leaving half a file, and keeping the latest few things in memory.

The one implementation of both, for every cache ``qa`` keeps: the index folder (``retrieval.store``),
the converted documents (``documents.extract``), the exported model (``models.embed_onnx``) and the
app's library of embedded documents (``app.workspace``).

* ``staged(final)`` gives a temporary path beside ``final`` to write (a file, or a folder of files) and
  then renames it into place, fsynced first when asked: a reader sees the old ``final`` or the new one,
  never half of it, and a crash leaves at most a ``*.tmp`` beside it. When another writer put ``final``
  in place first, theirs is kept (the same content, named by its hash) and this is not an error.
* ``sweep(folder)`` removes the ``*.tmp`` a killed writer left (older than ``STALE_SECONDS``, so that
  a writer at work is never disturbed).
* ``LRU`` is a thread-safe mapping of the latest ``size`` entries by use.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@contextmanager
def staged(final: Path, *, sync: bool = False, replace: bool = False) -> Iterator[Path]:
    """A temporary path beside ``final``, renamed to ``final`` when the block ends without error.

    ``sync`` fsyncs what was written (every file and folder) before the rename and the parent folder
    after it. A ``final`` already there is kept as it is (another writer was first), unless ``replace``:
    then a file is overwritten atomically and a folder removed first. Whatever fails raises ``OSError``.
    """
    staging = final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield staging
        if sync:
            for path in [*sorted(staging.rglob("*")), staging] if staging.is_dir() else [staging]:
                fsync(path)
        if replace and final.is_dir():
            shutil.rmtree(final, ignore_errors=True)
        try:
            staging.replace(final)
        except OSError:
            if replace or not final.exists():
                raise
        if sync:
            fsync(final.parent)
    finally:
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.unlink(missing_ok=True)


STALE_SECONDS = 3600  # a temporary file or folder untouched this long belongs to no live writer


def sweep(folder: Path, older_than: float = STALE_SECONDS, depth: int = 3) -> list[Path]:
    """Remove the ``*.tmp`` files and folders under ``folder`` (``depth`` levels down) last changed more
    than ``older_than`` seconds ago; the paths removed. Whatever cannot be removed is left."""
    removed: list[Path] = []
    now = time.time()
    for level in range(1, depth + 1):
        for path in folder.glob("/".join(["*"] * (level - 1) + ["*.tmp"])):
            try:
                if now - path.lstat().st_mtime < older_than:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
            except OSError:
                continue
    return removed


def write_atomic(path: Path, content: str, *, sync: bool = False) -> None:
    """``content`` as ``path``'s text (UTF-8), through a temporary file renamed into place."""
    with staged(path, sync=sync, replace=True) as staging:
        staging.write_text(content, encoding="utf-8")


def fsync(path: Path) -> None:
    """Flush a file's or a folder's data (a folder: its entries) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LRU(Generic[K, V]):
    """The latest ``size`` entries by use (``get`` and ``put`` both count), safe to share across threads.

    ``pinned`` keys are never dropped to make room (they count towards ``size``).
    """

    def __init__(self, size: int, pinned: Callable[[K], bool] = lambda _key: False) -> None:
        self._size = size
        self._pinned = pinned
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                old = next((k for k in self._entries if not self._pinned(k)), None)  # the oldest, pins aside
                if old is None:
                    break
                del self._entries[old]

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
