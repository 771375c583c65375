"""The one atomic write and the one bounded cache every store of ``qa`` uses."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from qa.storage import LRU, staged, write_atomic


def test_a_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "CURRENT"
    write_atomic(path, "v-1")
    write_atomic(path, "v-2", sync=True)
    assert path.read_text() == "v-2"
    assert [p.name for p in tmp_path.iterdir()] == ["CURRENT"]


def test_a_failed_write_leaves_the_old_content_and_no_staging(tmp_path: Path) -> None:
    final = tmp_path / "doc"
    with staged(final) as staging:
        staging.mkdir()
        (staging / "a.json").write_text("old")
    with pytest.raises(RuntimeError), staged(final, replace=True) as staging:
        staging.mkdir()
        (staging / "a.json").write_text("half")
        raise RuntimeError("crash")
    assert (final / "a.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["doc"]


def test_a_folder_another_writer_put_in_place_first_is_kept(tmp_path: Path) -> None:
    final = tmp_path / "sha"
    with staged(final) as first:
        first.mkdir()
        (first / "x").write_text("first")
        with staged(final) as second:  # the other session finishes first
            second.mkdir()
            (second / "x").write_text("second")
    assert (final / "x").read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["sha"]


def test_replace_puts_the_new_folder_in_place(tmp_path: Path) -> None:
    final = tmp_path / "model"
    final.mkdir()
    (final / "stale").write_text("cut short")
    with staged(final, replace=True, sync=True) as staging:
        staging.mkdir()
        (staging / "model.onnx").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["model.onnx"]


def test_a_write_error_is_raised(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_atomic(tmp_path / "missing-folder" / "f", "x")


def test_the_cache_keeps_the_latest_used_and_its_pins() -> None:
    cache: LRU[str, int] = LRU(3, pinned=lambda key: key == "base")
    for i, key in enumerate(["base", "a", "b"]):
        cache.put(key, i)
    assert cache.get("a") == 1  # used: now the latest
    cache.put("c", 3)
    cache.put("d", 4)
    assert [cache.get(k) for k in ("base", "a", "b", "c", "d")] == [0, None, None, 3, 4]
    assert len(cache) == 3


def test_the_cache_is_safe_to_share_across_threads() -> None:
    cache: LRU[int, int] = LRU(50)

    def work(offset: int) -> None:
        for i in range(2000):
            cache.put(offset + i % 100, i)
            cache.get(offset + (i * 7) % 100)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50


def test_sweep_removes_what_a_killed_writer_left_and_spares_a_writer_at_work(tmp_path: Path) -> None:
    import os
    import time

    from qa.storage import STALE_SECONDS, sweep

    old_folder = tmp_path / "library" / "abc" / "1234.5678.tmp"
    old_folder.mkdir(parents=True)
    (old_folder / "passages.npy").write_bytes(b"half")
    old_file = tmp_path / "app-secret.99.tmp"
    old_file.write_bytes(b"x")
    fresh = tmp_path / "index" / "v2.abcd.tmp"
    fresh.mkdir(parents=True)
    kept = tmp_path / "library" / "abc" / "1234"
    kept.mkdir()
    past = time.time() - STALE_SECONDS - 10
    for path in (old_folder, old_file, kept):
        os.utime(path, (past, past))
    assert sorted(sweep(tmp_path)) == sorted([old_folder, old_file])
    assert not old_folder.exists() and not old_file.exists() and fresh.exists() and kept.exists()
