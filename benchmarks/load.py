"""Load test of the app's ``/ask`` endpoint: throughput and latency under concurrent clients.

    .venv/bin/python benchmarks/load.py [--clients 8,32] [--seconds 60] [--url URL] [--k 5] [--warmup 3]

Without ``--url`` it starts the app itself (``python app.py`` in the project folder, with this
interpreter) on a free loopback port with ``GRADIO_ANALYTICS_ENABLED=False``, waits until the HTTP root
answers, and stops it at the end, also on Ctrl-C or an error. With ``--url`` it attaches to a running app.

For each ``--clients`` level, that many clients call ``/ask`` for ``--seconds`` seconds in a closed
loop: each sends its next question as soon as it has the previous answer. The questions (field ``q``)
come from ``../shared/bench/article-dev.questions.jsonl`` (beside the project folder) and
``benchmarks/data/article-heldout.questions.jsonl``, shuffled with ``--seed`` and handed out in turn.
When the time is up no new request is sent, the requests in flight are waited for (so the next level
starts on an idle server) and are counted; requests/s is completed requests over the level's whole
wall time, drain included.

The client speaks Gradio's HTTP API directly (no ``gradio_client``) over one ``httpx.AsyncClient``
in one asyncio loop, so it stays light next to the server on a small machine. The app serves ``/ask``
without Gradio's queue (its own gate limits the work and answers "busy" beyond it), so by default
(``--route run``) a call is one ``POST /gradio_api/run/ask`` with ``{"data": [question, k]}``, answered
``{"data": [result], ...}`` or, on an error such as busy, HTTP 500 with ``{"error": message}``.
Each simulated client sends its own ``session_hash``, as ``gradio_client`` does (without one, Gradio
builds a fresh session, with the configuration of every component of the page, for every request).
``--route call`` uses Gradio's two-step queued protocol instead, as read in ``gradio/routes.py``:

1. ``POST /gradio_api/call/ask`` with ``{"data": [question, k]}`` answers ``{"event_id": ID}``
   (200). When the queue is full it answers 503 with ``{"detail": "Queue is full. Max size is 64 and
   size is 64."}``; that is counted as *busy*, apart from other errors. (``POST /gradio_api/call/v2/ask``
   with ``{"question": ..., "k": ...}`` is the keyword form of the same call.)
2. ``GET /gradio_api/call/ask/ID`` streams server-sent events: ``event: heartbeat`` while waiting
   (every ``GRADIO_HEARTBEAT_INTERVAL`` seconds), then either ``event: complete`` with
   ``data: [result]`` or ``event: error`` with ``data: {"error": message, ...}`` (a ``gr.Error``; the
   message is ``null`` for an unexpected exception unless the app shows errors), after which the
   stream closes. An unknown event id gives ``event: error`` with ``data: "404: Not Found"``.

Latency is from sending the POST to parsing the ``complete`` event, for successful requests only.
Each result is checked against the JSON contract of the README (keys ``question``, ``answered``,
``passages``, the question echoed, at most k passages with the documented keys); a result that fails
counts as "bad shape". After a busy or failed answer a client waits ``--backoff`` seconds before its
next request so that it does not spin. The client process's CPU time is reported (and the server's,
from ``/proc``, when this script started it), with the load average before and after, because on a
shared 2-core machine the numbers are only as good as its idleness.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import random
import re
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUESTION_FILES = (
    ROOT.parent / "shared" / "bench" / "article-dev.questions.jsonl",
    ROOT / "benchmarks" / "data" / "article-heldout.questions.jsonl",
)
API_NAME = "ask"
TOP_KEYS = {"question", "answered", "passages", "context", "confidence"}
PASSAGE_KEYS = {
    "rank", "score", "doc", "start", "end", "text", "section", "paragraph", "line", "highlight", "page", "reader"
}  # fmt: skip
HIGHLIGHT_KEYS = {"start", "end", "text", "page"}


# --------------------------------------------------------------------------------------------- results


@dataclass
class Outcome:
    """One request: its kind ("ok", "busy", "error", "bad shape"), latency and message."""

    kind: str
    seconds: float
    message: str = ""


@dataclass
class Level:
    """What one concurrency level measured."""

    clients: int
    seconds: float
    wall: float = 0.0
    drain: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    outcomes: list[Outcome] = field(default_factory=list)

    def latencies_ms(self) -> list[float]:
        return sorted(o.seconds * 1000 for o in self.outcomes if o.kind == "ok")

    def count(self, kind: str) -> int:
        return sum(1 for o in self.outcomes if o.kind == kind)

    def messages(self) -> Counter[tuple[str, str]]:
        return Counter((o.kind, o.message) for o in self.outcomes if o.kind != "ok")


def percentile(ordered: list[float], p: float) -> float:
    """The ``p``-th percentile (0–100) of sorted values, linearly interpolated; NaN when empty."""
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# --------------------------------------------------------------------------------------------- client


def shape_problem(result: Any, question: str, k: int) -> str | None:
    """Why ``result`` breaks the README's JSON contract, or None when it keeps it."""
    if not isinstance(result, dict):
        return f"result is {type(result).__name__}, not an object"
    if set(result) != TOP_KEYS:
        return f"keys {sorted(result)} != {sorted(TOP_KEYS)}"
    if result["question"] != question:
        return "question not echoed"
    if not isinstance(result["answered"], bool):
        return "answered is not a boolean"
    passages = result["passages"]
    if not isinstance(passages, list) or not 0 < len(passages) <= k:
        return f"passages is not a list of 1..{k}"
    for passage in passages:
        if not isinstance(passage, dict) or set(passage) != PASSAGE_KEYS:
            return "a passage has other keys"
        highlight = passage["highlight"]
        if not isinstance(highlight, dict) or set(highlight) != HIGHLIGHT_KEYS:
            return "a highlight has other keys"
    return None


def busy_or_error(message: str) -> Outcome:
    lowered = message.lower()
    kind = "busy" if "queue is full" in lowered or "the app is busy" in lowered or "stayed busy" in lowered else "error"
    return Outcome(kind, 0.0, re.sub(r"and size is \d+", "and size is N", message))


ROUTE = "run"  # set from --route in main()


async def ask(http: httpx.AsyncClient, base: str, question: str, k: int, session: str | None = None) -> Outcome:
    """One call of ``/ask``: the direct route (``--route run``) or the two-step queued one (``call``).

    ``session`` is the client's session hash, sent as ``gradio_client`` sends its own.
    """
    if ROUTE == "run":
        return await ask_direct(http, base, question, k, session)
    return await ask_queued(http, base, question, k, session)


async def ask_direct(http: httpx.AsyncClient, base: str, question: str, k: int, session: str | None) -> Outcome:
    """``POST /gradio_api/run/ask`` answers the result itself (the app serves /ask without the queue)."""
    start = time.perf_counter()
    try:
        body = {"data": [question, k]} | ({"session_hash": session} if session else {})
        response = await http.post(f"{base}/gradio_api/run/{API_NAME}", json=body)
        body = response.json()
        if response.status_code != 200:
            message = body.get("error") or body.get("detail") if isinstance(body, dict) else body
            return busy_or_error(f"HTTP {response.status_code}: {str(message)[:200]}")
        seconds = time.perf_counter() - start
        result = body["data"][0]
        problem = shape_problem(result, question, k)
        return Outcome("bad shape", seconds, problem) if problem else Outcome("ok", seconds)
    except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError) as exc:
        return Outcome("error", 0.0, f"{type(exc).__name__}: {str(exc)[:200]}")


async def ask_queued(http: httpx.AsyncClient, base: str, question: str, k: int, session: str | None) -> Outcome:
    """One call of ``/ask`` through Gradio's two-step queued HTTP API; latency from POST to result."""
    start = time.perf_counter()
    try:
        body = {"data": [question, k]} | ({"session_hash": session} if session else {})
        response = await http.post(f"{base}/gradio_api/call/{API_NAME}", json=body)
        if response.status_code != 200:
            try:
                detail = response.json().get("detail", response.text)
            except (ValueError, AttributeError):
                detail = response.text
            return busy_or_error(f"POST HTTP {response.status_code}: {str(detail)[:200]}")
        event_id = response.json()["event_id"]
        event, outcome = "", None
        async with http.stream("GET", f"{base}/gradio_api/call/{API_NAME}/{event_id}") as stream:
            if stream.status_code != 200:
                await stream.aread()
                return busy_or_error(f"GET HTTP {stream.status_code}: {stream.text[:200]}")
            # Read to the end (the server closes the stream after the last event) so that the
            # connection goes back to the pool instead of being dropped.
            async for line in stream.aiter_lines():
                if outcome is not None:
                    continue
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line[5:])
                    if event == "error":
                        message = data.get("error") if isinstance(data, dict) else data
                        outcome = busy_or_error(f"event: error: {message}")
                        continue
                    seconds = time.perf_counter() - start
                    result = data[0] if isinstance(data, list) and data else data
                    problem = shape_problem(result, question, k)
                    outcome = Outcome("bad shape", seconds, problem) if problem else Outcome("ok", seconds)
        if outcome is None:
            return Outcome("error", 0.0, f"stream ended without a result (last event {event or 'none'!r})")
        return outcome
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return Outcome("error", 0.0, f"{type(exc).__name__}: {str(exc)[:200]}")


async def client_loop(
    http: httpx.AsyncClient,
    base: str,
    questions: itertools.cycle[str],
    k: int,
    deadline: float,
    timeout: float,
    backoff: float,
    out: list[Outcome],
) -> None:
    """A closed-loop client with its own session: ask, wait for the answer, ask again, until ``deadline``."""
    session = uuid.uuid4().hex[:11]
    while time.perf_counter() < deadline:
        try:
            async with asyncio.timeout(timeout):
                outcome = await ask(http, base, next(questions), k, session)
        except TimeoutError:
            outcome = Outcome("error", 0.0, f"no answer within {timeout:g} s")
        out.append(outcome)
        if outcome.kind in ("busy", "error"):
            await asyncio.sleep(backoff)


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_of(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc; None if unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_level(
    http: httpx.AsyncClient, base: str, questions: itertools.cycle[str], args: argparse.Namespace, clients: int
) -> Level:
    level = Level(clients, args.seconds, load_before=os.getloadavg())
    cpu0, server0 = cpu_self(), cpu_of(args.server_pid)
    start = time.perf_counter()
    deadline = start + args.seconds
    loops = [
        client_loop(http, base, questions, args.k, deadline, args.timeout, args.backoff, level.outcomes)
        for _ in range(clients)
    ]
    await asyncio.gather(*loops)
    end = time.perf_counter()
    level.wall, level.drain = end - start, max(0.0, end - deadline)
    level.client_cpu = cpu_self() - cpu0
    server1 = cpu_of(args.server_pid)
    if server0 is not None and server1 is not None:
        level.server_cpu = server1 - server0
    level.load_after = os.getloadavg()
    return level


async def bench(base: str, questions: list[str], args: argparse.Namespace, done: list[Level]) -> None:
    connections = max(args.clients) + 4
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx.Timeout(args.timeout, connect=10.0)
    order = questions[:]
    random.Random(args.seed).shuffle(order)
    cycle = itertools.cycle(order)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        for i in range(args.warmup):
            outcome = await ask(http, base, order[i % len(order)], args.k)
            if outcome.kind != "ok":
                raise SystemExit(f"load.py: warm-up request failed ({outcome.kind}): {outcome.message}")
        for clients in args.clients:
            print(f"… {clients} clients for {args.seconds:g} s", file=sys.stderr, flush=True)
            done.append(await run_level(http, base, cycle, args, clients))


# --------------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(log: IO[bytes], lines: int = 20) -> str:
    log.flush()
    log.seek(0)
    return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])


def start_app(log: IO[bytes], startup: float, script: str = "app.py") -> tuple[subprocess.Popen[bytes], str, float]:
    """Start ``python SCRIPT`` on a free loopback port; return it, its URL and the seconds to serve."""
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    # Own session: a Ctrl-C in the terminal reaches only this script, which then stops the app itself.
    proc = subprocess.Popen(
        [sys.executable, script], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    while time.perf_counter() - began < startup:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode} before serving:\n{tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/", timeout=2.0).status_code == 200:
                return proc, url, time.perf_counter() - began
        time.sleep(0.5)
    stop_app(proc)
    raise RuntimeError(f"the app did not serve within {startup:g} s:\n{tail(log)}")


def stop_app(proc: subprocess.Popen[bytes]) -> None:
    """Stop the app this script started (by its pid): SIGTERM, then SIGKILL after 15 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def gradio_version(base: str) -> str:
    with contextlib.suppress(httpx.HTTPError, ValueError, AttributeError):
        return str(httpx.get(f"{base}/config", timeout=10.0).json().get("version", "?"))
    return "?"


# --------------------------------------------------------------------------------------------- report


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def fmt_load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def fmt_ms(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:,.0f}"


def cpu_cell(cpu: float | None, wall: float) -> str:
    if cpu is None:
        return "–"
    return f"{cpu:.1f} s ({100 * cpu / wall:.0f} %)" if wall else f"{cpu:.1f} s"


def report(levels: list[Level], k: int) -> None:
    print(f"\n## /ask under load (k={k}, closed loop)\n")
    print(
        "| clients | s | completed | ok | req/s | ok/s | p50 ms | p95 ms | p99 ms | max ms | errors | busy "
        "| bad shape | drain s | client CPU | server CPU | load before → after |"
    )
    print("|" + "---:|" * 16 + "---|")
    for lv in levels:
        lat = lv.latencies_ms()
        completed = len(lv.outcomes)
        rate = completed / lv.wall if lv.wall else math.nan
        ok_rate = lv.count("ok") / lv.wall if lv.wall else math.nan
        cells = [
            str(lv.clients),
            f"{lv.seconds:g}",
            str(completed),
            str(lv.count("ok")),
            f"{rate:.2f}",
            f"{ok_rate:.2f}",
            *(fmt_ms(percentile(lat, p)) for p in (50, 95, 99, 100)),
            str(lv.count("error")),
            str(lv.count("busy")),
            str(lv.count("bad shape")),
            f"{lv.drain:.1f}",
            cpu_cell(lv.client_cpu, lv.wall),
            cpu_cell(lv.server_cpu, lv.wall),
            f"{fmt_load(lv.load_before)} → {fmt_load(lv.load_after)}",
        ]
        print("| " + " | ".join(cells) + " |")
    print(
        "\ncompleted: answers received, busy and failed ones included (the requests in flight at the deadline too);"
        " req/s, ok/s: completed, successful answers over the level's wall time, drain included;"
        " latency: POST sent → result parsed, successful requests only;"
        " CPU: user+system seconds over the level (% of one core)."
    )
    problems = [(lv.clients, kind, msg, n) for lv in levels for (kind, msg), n in sorted(lv.messages().items())]
    if problems:
        print("\n### Errors, busy answers and bad shapes\n")
        print("| clients | kind | count | message |")
        print("|---:|---|---:|---|")
        for clients, kind, msg, n in problems:
            cell = msg.replace("|", r"\|")
            print(f"| {clients} | {kind} | {n} | {cell} |")
    else:
        print("\nNo errors, no busy answers, every result had the JSON contract's shape.")


# --------------------------------------------------------------------------------------------- main


def load_questions() -> list[str]:
    questions: list[str] = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["q"])
    return questions


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Load-test the app's /ask endpoint with closed-loop clients.")
    parser.add_argument("--clients", default="8,32", help="Comma-separated concurrency levels (default 8,32).")
    parser.add_argument("--seconds", type=float, default=60.0, help="Duration of each level (default 60).")
    parser.add_argument("--url", default=None, help="Attach to a running app instead of starting one.")
    parser.add_argument("--k", type=int, default=5, help="Passages asked for (default 5).")
    parser.add_argument("--warmup", type=int, default=3, help="Sequential requests before timing (default 3).")
    parser.add_argument("--timeout", type=float, default=300.0, help="Seconds one request may take (default 300).")
    parser.add_argument("--backoff", type=float, default=0.2, help="Pause after a busy/failed answer (default 0.2).")
    parser.add_argument("--startup", type=float, default=240.0, help="Seconds to wait for the app (default 240).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the question order (default 0).")
    parser.add_argument(
        "--app",
        default="app.py",
        help="Script to start (default app.py; benchmarks/trivial_app.py measures Gradio alone).",
    )
    parser.add_argument(
        "--route",
        choices=("run", "call"),
        default="run",
        help="run: POST /gradio_api/run/ask, answered directly (how the app serves /ask); "
        "call: the two-step queued /gradio_api/call/ask (default run).",
    )
    args = parser.parse_args(argv)
    global ROUTE
    ROUTE = args.route
    try:
        args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error("--clients takes comma-separated integers, e.g. 8,32")
    if not args.clients or min(args.clients) < 1:
        parser.error("--clients needs at least one level, each at least 1")
    if args.seconds <= 0 or args.k < 1 or args.warmup < 0 or args.timeout <= 0:
        parser.error("--seconds and --timeout must be positive, --k at least 1, --warmup not negative")
    args.server_pid = None
    return args


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C and SIGTERM end the run cleanly (the app is stopped), also when started from a shell that
    # ignores SIGINT in background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    questions = load_questions()
    print("# Load test of /ask\n")
    print(f"- command: `{shlex.join([sys.executable, *sys.argv])}`")
    print(f"- machine: {cpu_model()}; {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable)")
    print(f"- {platform.platform()}; Python {platform.python_version()}; httpx {httpx.__version__}")
    print(f"- load average (1/5/15 min) at start: {fmt_load(os.getloadavg())}")
    print(f"- questions: {len(questions)} from {', '.join(str(p) for p in QUESTION_FILES)}")
    levels: list[Level] = []
    proc: subprocess.Popen[bytes] | None = None
    code = 0
    with tempfile.TemporaryFile() as log:
        try:
            if args.url:
                base = args.url.rstrip("/")
                print(f"- app: attached to {base}")
            else:
                proc, base, startup = start_app(log, args.startup, args.app)
                args.server_pid = proc.pid
                print(f"- app: `{sys.executable} {args.app}` (pid {proc.pid}) at {base}, serving after {startup:.1f} s")
            print(f"- Gradio {gradio_version(base)}; warm-up: {args.warmup} requests", flush=True)
            asyncio.run(bench(base, questions, args, levels))
        except KeyboardInterrupt:
            print("\n(interrupted; the levels finished so far follow)", flush=True)
            code = 130
        except RuntimeError as exc:
            print(f"load.py: {exc}", file=sys.stderr)
            code = 1
        finally:
            if proc is not None:
                stop_app(proc)
                if proc.returncode not in (0, -signal.SIGTERM):
                    print(f"- note: the app exited with code {proc.returncode}:\n{tail(log)}", file=sys.stderr)
    if levels:
        report(levels, args.k)
    print(f"\n- load average at end: {fmt_load(os.getloadavg())}")
    return code


if __name__ == "__main__":
    sys.exit(main())
