"""Turn a PDF, Word or HTML file into stored text, in a worker process with a time and memory limit.

A hostile or broken file must not hang or crash the caller (the app serves everyone from one
process), so each conversion runs in a fresh ``python -m qa.documents.extract`` that limits its own address
space and CPU time before it reads the file from its standard input, and is killed if it outlives
the time limit. What it makes is cached on disk by the file's content hash and the converters'
version (``<index root>/extracted/``): the same file is converted once, whoever adds it.

    python -m qa.documents.extract FORMAT MEMORY_MB SECONDS < file   # the worker: JSON on standard output
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from .. import settings
from ..storage import write_atomic
from .extracted import Extracted, ExtractError

FORMATS = {".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html"}
CONVERTER_VERSION = 1  # bump when a converter changes what it makes: cached conversions are redone
_log = logging.getLogger(__name__)


def convert(data: bytes, suffix: str, index_dir: Path | str | None = None) -> Extracted:
    """The stored text of a file of this ``suffix`` (one of ``FORMATS``), from the cache or a worker.

    The cache is ``extracted/`` in the index root ``index_dir`` (``settings.index_root``).
    """
    fmt = FORMATS[suffix.lower()]
    digest = hashlib.sha256(data).hexdigest()
    cache = settings.index_root(index_dir) / "extracted" / f"{digest}-{fmt}-v{CONVERTER_VERSION}.json"
    try:
        return Extracted.from_json(json.loads(cache.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not converted yet, or a damaged cache entry: convert again
    extracted = _run_worker(data, fmt)
    _save(cache, extracted)
    return extracted


def _command(fmt: str, memory_mb: int, seconds: int) -> list[str]:
    return [sys.executable, "-m", "qa.documents.extract", fmt, str(memory_mb), str(seconds)]


def _run_worker(data: bytes, fmt: str) -> Extracted:
    seconds = settings.extract_seconds()
    memory = settings.extract_memory_mb()
    command = _command(fmt, memory, seconds)
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=seconds + 5, check=False)
    except subprocess.TimeoutExpired:
        raise ExtractError(f"took over {seconds} s to read and was stopped; it may be damaged or too complex") from None
    try:
        reply = json.loads(done.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ExtractError(
            f"could not be read within {seconds} s and {memory} MB (the reader stopped); it may be damaged or too large"
        ) from None
    if "error" in reply:
        raise ExtractError(str(reply["error"]))
    return Extracted.from_json(reply["extracted"])


def _save(cache: Path, extracted: Extracted) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, json.dumps(extracted.to_json(), ensure_ascii=False))
    except OSError as exc:  # it costs a conversion next time, nothing else: said, not raised
        _log.warning("cannot cache a converted document in %s (%s); it will be converted again", cache.parent, exc)


def limit(memory_mb: int, seconds: int) -> None:
    """Cap this process's address space and CPU time (the worker does it before reading its file)."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))


def _worker(fmt: str, memory_mb: int, seconds: int) -> dict[str, object]:
    """In the worker: limit this process, convert standard input, say what came of it."""
    limit(memory_mb, seconds)
    data = sys.stdin.buffer.read()
    try:
        if fmt == "pdf":
            from .extract_pdf import extract
        elif fmt == "docx":
            from .extract_docx import extract
        else:
            from .extract_html import extract
        return {"extracted": extract(data).to_json()}
    except ExtractError as exc:
        return {"error": str(exc)}
    except MemoryError:
        return {"error": f"needs more than {memory_mb} MB to read; it may be damaged or too large"}
    except Exception as exc:  # a parser's own failure on a broken file
        return {"error": f"could not be read ({type(exc).__name__}); it may be damaged — export it again"}


if __name__ == "__main__":
    reply = _worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    sys.stdout.write(json.dumps(reply, ensure_ascii=False))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: nothing left to clean, and it cannot fail the reply
