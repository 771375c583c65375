"""Serving limits: the admission gate, the request size cap, and concurrent questions."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from qa.answering.engine import Engine
from qa.app.server import BodyLimit, BusyError, Gate


def test_gate_admits_up_to_active_queues_up_to_waiting_and_refuses_the_rest() -> None:
    gate = Gate(active=2, waiting=1, timeout=5)
    release = threading.Event()
    inside: list[int] = []

    def hold(i: int) -> str:
        try:
            with gate.admit():
                inside.append(i)
                release.wait(5)
            return "ok"
        except BusyError as exc:
            return str(exc)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(hold, i) for i in range(2)]
        while len(inside) < 2:
            time.sleep(0.01)
        waiting = pool.submit(hold, 2)
        time.sleep(0.2)  # the third is waiting for a turn
        refused = pool.submit(hold, 3).result(5)
        release.set()
        results = [f.result(5) for f in futures] + [waiting.result(5)]
    assert refused.startswith("the app is busy")
    assert results == ["ok", "ok", "ok"]


def test_gate_gives_up_after_its_timeout() -> None:
    gate = Gate(active=1, waiting=1, timeout=0.1)
    with gate.admit(), pytest.raises(BusyError, match="stayed busy"), gate.admit():
        pass


class Recorder:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def call(app: BodyLimit, chunks: list[bytes], declared: int | None) -> Recorder:
    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    scope = {"type": "http", "headers": headers}
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    recorder = Recorder()
    asyncio.run(app(scope, receive, recorder))
    return recorder


def test_body_limit_refuses_large_declared_and_streamed_bodies() -> None:
    app = BodyLimit(echo_app, limit=10)
    ok = call(app, [b"12345"], 5)
    assert ok.messages[0]["status"] == 200 and ok.messages[1]["body"] == b"12345"
    declared = call(app, [b"x" * 11], 11)
    assert declared.messages[0]["status"] == 413 and b"limit is 10 bytes" in declared.messages[1]["body"]
    streamed = call(app, [b"123456", b"789012"], None)
    assert streamed.messages[0]["status"] == 413


async def catching_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Like FastAPI: an error while reading the body is caught and answered with a 400."""
    try:
        await echo_app(scope, receive, send)
    except Exception:
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b"There was an error parsing the body"})


def test_body_limit_answers_413_even_when_the_app_catches_the_streamed_overflow() -> None:
    streamed = call(BodyLimit(catching_app, limit=10), [b"123456", b"789012"], None)
    assert [m.get("status") for m in streamed.messages if m["type"] == "http.response.start"] == [413]
    assert b"limit is 10 bytes" in streamed.messages[1]["body"]


def test_many_threads_asking_at_once_get_their_own_answers(fake_engine: Engine) -> None:
    questions = ["Who launched Qijing?", "What powertrains will the Zhijie X9 offer?", "What is the capital of France?"]
    expected = {q: fake_engine.ask(q, 3).to_json() for q in questions}
    with ThreadPoolExecutor(12) as pool:
        got = list(pool.map(lambda i: fake_engine.ask(questions[i % 3], 3).to_json(), range(60)))
    assert got == [expected[questions[i % 3]] for i in range(60)]


def test_a_failing_batch_fails_every_waiting_caller_and_recovers(fake_engine: Engine) -> None:
    from qa.app.server import CoalescingEmbedder

    calls = {"n": 0}

    class Flaky:
        name, dimension = "flaky", 4

        def encode(self, texts: Any, progress: Any = None) -> Any:
            calls["n"] += 1
            if calls["n"] == 1:
                time.sleep(0.2)
                raise RuntimeError("model failed")
            import numpy as np

            return np.ones((len(texts), 4), dtype=np.float32) / 2

        def truncate(self, text: str) -> tuple[str, bool]:
            return text, False

    coalescing = CoalescingEmbedder(Flaky())  # type: ignore[arg-type]

    def one(i: int) -> str:
        try:
            return str(coalescing.encode([f"q{i}"]).shape)
        except RuntimeError as exc:
            return str(exc)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    assert "model failed" in results
    assert "(1, 4)" in results
    assert coalescing.encode(["again"]).shape == (1, 4)


def test_a_call_leaving_out_optional_inputs_gets_their_defaults() -> None:
    """/ask over HTTP as callers wrote it before ``history`` existed: [question, k] still works."""
    import json as json_

    from qa.app.server import ApiGuard

    app = ApiGuard(echo_app, {"/gradio_api/run/ask": [None, 5, []]})

    def post(path: str, data: list[Any], chunks: int = 1) -> dict[str, Any]:
        body = json_.dumps({"data": data, "session_hash": "s"}).encode()
        size = -(-len(body) // chunks)
        parts = [body[i : i + size] for i in range(0, len(body), size)]
        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
        queue = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]

        async def receive() -> dict[str, Any]:
            return queue.pop(0)

        recorder = Recorder()
        asyncio.run(app(scope, receive, recorder))
        return json_.loads(recorder.messages[1]["body"])

    assert post("/gradio_api/run/ask", ["Who?", 2], chunks=3)["data"] == ["Who?", 2, []]
    assert post("/gradio_api/run/ask", ["Who?", 2, ["Earlier?"]])["data"] == ["Who?", 2, ["Earlier?"]]
    assert post("/gradio_api/run/other", ["Who?"])["data"] == ["Who?"]  # other routes untouched
