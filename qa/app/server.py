"""Serving many users at once: shared forward passes, admission with a bounded wait, a request size cap.

``CoalescingEmbedder`` lets questions asked at the same time by several threads share one forward
pass of the model. ``Gate`` lets ``active`` questions run at once and up to ``waiting`` more wait for
a turn; anyone beyond that is told at once that the app is busy (``BusyError``), instead of piling up
until something fails. ``BodyLimit`` is an ASGI middleware that refuses request bodies over a size
with HTTP 413 before they are read into memory.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import QAError
from ..models.embed import Embedder, Progress

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BusyError(QAError):
    """Too many questions are already running or waiting."""


class Gate:
    """At most ``active`` holders at once, at most ``waiting`` more waiting up to ``timeout`` seconds."""

    def __init__(self, active: int, waiting: int, timeout: float = 30.0) -> None:
        self._max_active = active
        self._max_waiting = waiting
        self._timeout = timeout
        self._active = 0
        self._waiting = 0
        self._cond = threading.Condition()

    @contextmanager
    def admit(self) -> Iterator[None]:
        with self._cond:
            if self._active >= self._max_active:
                if self._waiting >= self._max_waiting:
                    raise BusyError(
                        f"the app is busy ({self._active} questions running, {self._waiting} waiting); "
                        "try again in a moment"
                    )
                self._waiting += 1
                try:
                    admitted = self._cond.wait_for(lambda: self._active < self._max_active, self._timeout)
                finally:
                    self._waiting -= 1
                if not admitted:
                    raise BusyError(f"the app stayed busy for {self._timeout:.0f} s; try again in a moment")
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify()


class BodyLimit:
    """ASGI middleware: answer 413 to any request whose body is larger than ``limit`` bytes (or, for
    a path in ``larger``, than its own limit there: file uploads)."""

    def __init__(self, app: ASGIApp, limit: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(str(scope.get("path", "")), self.limit)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        seen = 0
        started = too_large = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise _TooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if too_large:  # the app caught the cut-off body and answers it (FastAPI: 400): say 413 instead
                if not started:
                    started = True
                    await self._refuse(send, limit)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLargeError:
            if not started:
                await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = json.dumps({"detail": f"request too large: the limit is {limit:,} bytes"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLargeError(Exception):
    pass


class CoalescingEmbedder:
    """Runs single-text ``encode`` calls made at the same time by several threads as one batch.

    The first caller runs at once with whatever is pending; callers arriving while a batch runs wait
    and go together in the next one, led by the oldest of them. No caller waits for company, so a
    lone question pays nothing; under load, many questions share one forward pass. Each waiting
    caller sleeps on its own event, so finishing a batch wakes only its callers and the next leader.
    Other calls (an index build) go straight to the wrapped model.
    """

    def __init__(self, inner: Embedder, max_batch: int = 32) -> None:
        self._inner = inner
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Job] = []
        self._running = False

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def truncate(self, text: str) -> tuple[str, bool]:
        return self._inner.truncate(text)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        if len(texts) != 1 or progress is not None:
            return self._inner.encode(texts, progress)
        job = _Job(texts[0])
        with self._lock:
            self._pending.append(job)
            job.lead = not self._running
            self._running = True
        while not job.done:
            if job.lead:
                self._run_batch()
            else:
                job.wake.wait()
                job.wake.clear()
        if job.error is not None:
            raise job.error
        assert job.vector is not None
        return job.vector.reshape(1, -1)

    def _run_batch(self) -> None:
        with self._lock:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
        try:
            vectors = self._inner.encode([j.text for j in batch])
            for j, vector in zip(batch, vectors, strict=True):
                j.vector = vector
        except BaseException as exc:  # every caller of the batch gets the failure, not a hang
            for j in batch:
                j.error = exc
        with self._lock:
            for j in batch:
                j.done = True
                j.lead = False
            successor = self._pending[0] if self._pending else None
            if successor is not None:
                successor.lead = True
            else:
                self._running = False
        for j in batch:
            j.wake.set()
        if successor is not None:
            successor.wake.set()


class _Job:
    __slots__ = ("done", "error", "lead", "text", "vector", "wake")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False
        self.wake = threading.Event()


class ApiGuard:
    """ASGI middleware in front of the app's JSON routes: a hostile or malformed call gets a clear 4xx
    and one log line, never a traceback or a reset connection.

    - A JSON body under ``/gradio_api/`` that does not parse (nested too deeply, or not JSON at all) is
      refused with 400.
    - A call to an API route that leaves out trailing inputs gets their defaults (``defaults`` maps a
      route such as ``/gradio_api/run/ask`` to the full list of its inputs' defaults): Gradio requires
      every input over HTTP, so adding an optional input would otherwise break callers written for
      the old endpoint.
    - ``check(data)`` then says what is wrong with those inputs (a message), or None: a wrong call
      gets 422 with that message before the app is reached.
    """

    def __init__(
        self, app: ASGIApp, defaults: dict[str, list[Any]], check: Callable[[list[Any]], str | None] | None = None
    ) -> None:
        self.app = app
        self.defaults = defaults
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        json_body = b"json" in headers.get(b"content-type", b"")
        if scope["type"] != "http" or scope.get("method") != "POST" or not path.startswith("/gradio_api/"):
            await self.app(scope, receive, send)
            return
        defaults = self.defaults.get(path)
        if defaults is None and not json_body:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            payload = json.loads(body) if body.strip() else None
        except RecursionError:
            await _refuse(send, 400, path, 'the JSON is nested too deeply; send a flat object like {"data": [...]}')
            return
        except ValueError:
            await _refuse(send, 400, path, 'the body is not JSON; send an object like {"data": [...]}')
            return
        if defaults is not None and isinstance(payload, dict):
            data = payload.get("data")
            if isinstance(data, list) and len(data) < len(defaults):
                payload["data"] = data + defaults[len(data) :]
                body = json.dumps(payload).encode()
            problem = self.check(payload["data"]) if self.check and isinstance(payload.get("data"), list) else None
            if problem is not None:
                await _refuse(send, 422, path, problem)
                return
        scope = dict(scope, headers=[*((k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"),
                                     (b"content-length", str(len(body)).encode())])  # fmt: skip
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return body


async def _refuse(send: Send, status: int, path: str, why: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """Answer ``status`` with ``{"error": why}`` and log one line."""
    log.warning("refused %s (%d): %s", path, status, why)
    body = json.dumps({"error": why}).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


DRAIN_BYTES = 4_000_000  # a refused upload up to this size is read before it is answered


class UploadQuota:
    """ASGI middleware: each client (by address) may upload at most ``budget`` bytes in any ``window``
    seconds to ``path``; beyond that, 429 with the time to wait (what a few documents at the size
    limit need passes; a flood does not)."""

    def __init__(self, app: ASGIApp, path: str, budget: int, window: float = 600.0) -> None:
        self.app = app
        self.path = path
        self.budget = budget
        self.window = window
        self._spent: dict[str, list[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        client = str((scope.get("client") or ("?",))[0])
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        size = int(declared) if declared.isdigit() else self.budget  # a streamed body of unknown size: the most
        now = time.monotonic()
        with self._lock:
            spent = [(t, n) for t, n in self._spent.get(client, []) if now - t < self.window]
            used = sum(n for _, n in spent)
            if used + size > self.budget and spent:
                wait = int(self.window - (now - spent[0][0])) + 1
                self._spent[client] = spent
                refused = True
            else:
                self._spent[client] = [*spent, (now, size)]
                refused = False
        if refused:
            if size <= DRAIN_BYTES:  # read a small body first, so that the client sees the answer, not a reset
                await _read_body(receive)
            mb = self.budget / 1_000_000
            why = (
                f"upload quota reached: at most {mb:.0f} MB every {self.window / 60:.0f} minutes; try again in {wait} s"
            )
            await _refuse(send, 429, self.path, why, [(b"retry-after", str(wait).encode())])
            return
        await self.app(scope, receive, send)
