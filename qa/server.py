"""Limits for serving many users at once: admission with a bounded wait, and a request size cap.

``Gate`` lets ``active`` questions run at once and up to ``waiting`` more wait for a turn; anyone
beyond that is told at once that the app is busy (``BusyError``), instead of piling up until
something fails. ``BodyLimit`` is an ASGI middleware that refuses request bodies over a size with
HTTP 413 before they are read into memory.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from .errors import QAError

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
    """ASGI middleware: answer 413 to any request whose body is larger than ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = too_large = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    too_large = True
                    raise _TooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if too_large:  # the app caught the cut-off body and answers it (FastAPI: 400): say 413 instead
                if not started:
                    started = True
                    await self._refuse(send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLargeError:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"request too large: the limit is {self.limit:,} bytes"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLargeError(Exception):
    pass
