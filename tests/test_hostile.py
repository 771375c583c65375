"""Hostile and malformed requests against a served app: a clear 4xx and one log line, never a traceback
or a reset connection; uploads within a quota per client; the app answers the next question."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from qa.answering.engine import Engine
from tests.helpers import free_port


@pytest.fixture
def served(fake_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from app import build, launch

    monkeypatch.setenv("QA_MAX_DOC_MB", "0.5")  # uploads: 0.5 MB a file, 2 MB every 10 minutes a client
    demo = build(fake_engine)
    port = free_port()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    yield f"http://127.0.0.1:{port}"
    demo.close()


def post(url: str, body: bytes, ctype: str = "application/json") -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def ask(served: str, data: object) -> tuple[int, bytes]:
    return post(f"{served}/gradio_api/run/ask", json.dumps({"data": data}).encode())


def test_nested_and_malformed_calls_get_a_4xx_and_the_app_answers_on(
    served: str, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    for path in ("/gradio_api/run/ask", "/gradio_api/queue/join"):
        status, body = post(served + path, b'{"data": ' + nested + b"}")
        assert status == 400 and b"nested too deeply" in body
    assert post(f"{served}/gradio_api/run/ask", nested)[0] == 400
    cases = {
        "k must be a whole number": ["Who launched Qijing?", "five"],
        "the question must be text": [5, 2],
        "history must be a list": ["Who?", 2, "not a list"],
        "the question is empty": ["", 2],
        "at most 100,000": ["x" * 100_001, 2],
        "takes [question, k, history]": ["Who?", 2, [], "more"],
    }
    for said, data in cases.items():
        status, body = ask(served, data)
        assert status == 422 and said in json.loads(body)["error"], (data, body)
    assert post(f"{served}/gradio_api/run/ask", b"not json")[0] == 400
    status, body = ask(served, ["Who launched Qijing?", 2])
    assert status == 200 and json.loads(body)["data"][0]["passages"]
    printed = capfd.readouterr()
    assert "Traceback" not in printed.err + printed.out
    refused = [r.getMessage() for r in caplog.records if r.name == "qa.app.server"]
    assert sum(m.startswith("refused /gradio_api/run/ask (422)") for m in refused) == len(cases)
    assert sum(m.startswith("refused /gradio_api/run/ask (400)") for m in refused) == 3


def test_uploads_beyond_the_quota_are_refused_with_429(served: str) -> None:
    boundary = "qa-boundary"
    part = b"x" * 450_000

    def upload() -> tuple[int, bytes]:
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
                "Content-Type: text/plain\r\n\r\n"
            ).encode()
            + part
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return post(f"{served}/gradio_api/upload", body, f"multipart/form-data; boundary={boundary}")

    statuses = [upload()[0] for _ in range(10)]
    assert statuses[:4] == [200] * 4  # a few documents at the size limit pass
    assert set(statuses[4:]) == {429}
    status, body = upload()
    assert status == 429
    assert b"upload quota reached" in body and b"try again in" in body


def test_a_file_over_the_document_limit_is_refused_on_arrival(served: str) -> None:
    boundary = "qa-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="huge.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + b"x" * 600_000
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, said = post(f"{served}/gradio_api/upload", body, f"multipart/form-data; boundary={boundary}")
    assert status == 413, (status, said)
