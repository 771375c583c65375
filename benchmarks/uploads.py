"""Adding documents while others work: how long a small upload waits behind two large ones, and /ask
latency meanwhile, against a local instance of the app in real Chromium sessions.

    .venv/bin/python -m benchmarks.uploads [--large-kb 1000] [--askers 4]

Two browser sessions each add a large text file (``--large-kb``, words drawn from the training articles so
that no sentence repeats and nothing is found in the library), then a third adds a small one and asks its
question at once; meanwhile ``--askers`` threads call ``/ask`` over HTTP in a loop. Printed: the seconds
from choosing the small file to its answer on the page (target ≤ 15 s), each large file's time to ready,
and /ask latency percentiles during the uploads (target p95 ≤ 500 ms). Needs Chromium
(``apt-get install chromium``) and Playwright (the test extras).
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks.common import ARTICLE, ROOT, free_port, parser

CHROMIUM = "/usr/bin/chromium"
TRAIN = ROOT.parent / "shared" / "train" / "squad2-extra"
SMALL = "Lighthouses\n\nThe Hook Head lighthouse in Ireland has guided ships since the twelfth century.\n"
SMALL_QUESTION = "Since when has the Hook Head lighthouse guided ships?"


def large_text(kilobytes: int, seed: int) -> str:
    """About ``kilobytes`` KB of sentences built from the training articles' words, none repeated."""
    words = re.findall(r"[A-Za-z][a-z]+", " ".join(p.read_text(encoding="utf-8") for p in sorted(TRAIN.glob("*.txt"))))
    rng = random.Random(seed)
    paragraphs, size = [f"Document {seed}"], 0
    while size < kilobytes * 1000:
        sentences = [" ".join(rng.choices(words, k=rng.randint(12, 28))).capitalize() + "." for _ in range(4)]
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs) + "\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    args = parser("uploads", __doc__)
    args.add_argument("--large-kb", type=int, default=1000, help="size of each large file (default %(default)s)")
    args.add_argument("--askers", type=int, default=4, help="threads calling /ask meanwhile (default %(default)s)")
    options = args.parse_args()
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from playwright.sync_api import sync_playwright

    from app import build, launch
    from qa.answering.engine import Engine

    folder = Path(tempfile.mkdtemp(prefix="qa-uploads-"))
    os.environ["QA_INDEX_DIR"] = str(folder / "index")
    engine = Engine.open([ARTICLE])
    demo = build(engine)
    port = free_port()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    files = []
    for seed in (1, 2):
        path = folder / f"large-{seed}.txt"
        path.write_text(large_text(options.large_kb, seed), encoding="utf-8")
        files.append(path)
    small = folder / "lighthouses.txt"
    small.write_text(SMALL, encoding="utf-8")

    latencies: list[float] = []
    errors: list[str] = []
    stop = threading.Event()

    def asker() -> None:
        body = json.dumps({"data": ["What powertrains will the Zhijie X9 offer?", 3]}).encode()
        while not stop.is_set():
            request = urllib.request.Request(f"{url}gradio_api/run/ask", body, {"Content-Type": "application/json"})
            began = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                latencies.append(time.perf_counter() - began)
            except Exception as exc:  # counted, not fatal: the figure to report
                errors.append(repr(exc))
            time.sleep(0.05)

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost", "--no-sandbox"],
        )
        pages = []
        for _ in range(3):
            page = browser.new_context().new_page()
            page.goto(url)
            page.wait_for_selector("#qa-question textarea")
            pages.append(page)
        threads = [threading.Thread(target=asker, daemon=True) for _ in range(options.askers)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        baseline = list(latencies)
        began = time.perf_counter()
        for page, path in zip(pages, files, strict=False):
            page.set_input_files("#qa-add input[type=file]", str(path))
        time.sleep(1.0)
        chosen = time.perf_counter()
        third = pages[2]
        third.set_input_files("#qa-add input[type=file]", str(small))
        third.locator("#qa-doc-list", has_text="lighthouses.txt").wait_for(timeout=60_000)
        third.fill("#qa-question textarea", SMALL_QUESTION)
        third.keyboard.press("Enter")
        third.wait_for_function("document.querySelectorAll('#qa-chat .qa-answer').length > 0", timeout=600_000)
        small_seconds = time.perf_counter() - chosen
        answered_from = third.locator("#qa-chat .qa-quote .qa-cite").first.inner_text()
        during = len(latencies)
        ready: list[float] = []
        for page, path in zip(pages, files, strict=False):
            page.locator("#qa-doc-status", has_text=f"Added {path.name}").wait_for(timeout=1_800_000)
            ready.append(time.perf_counter() - began)
        stop.set()
        browser.close()
    demo.close()
    loaded = latencies[len(baseline) : during] or latencies[len(baseline) :]
    print(f"large files: 2 × {options.large_kb} KB; /ask callers: {options.askers}")
    print(f"small file chosen → its answer on the page: {small_seconds:.1f} s (from: {answered_from[:60]})")
    print(f"large files ready after: {', '.join(f'{s:.1f} s' for s in ready)}")
    for label, values in (("idle", baseline[1:]), ("during uploads", loaded)):
        if values:
            ms = [v * 1000 for v in values]
            print(
                f"/ask {label}: n={len(ms)} median {statistics.median(ms):.0f} ms, "
                f"p95 {percentile(ms, 0.95):.0f} ms, max {max(ms):.0f} ms"
            )
    print(f"/ask errors: {len(errors)}{' ' + errors[0] if errors else ''}")


if __name__ == "__main__":
    main()
