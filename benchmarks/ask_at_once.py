"""A PDF added in the page and asked at once: is the question answered from it? In real Chromium.

    .venv/bin/python -m benchmarks.ask_at_once [--article Steam_engine] [--questions 6]

The first paragraphs of a SQuAD dev article (``../shared/bench/squad-dev``) are printed to a PDF by
headless Chromium. For each of ``--questions`` answerable questions about them, a new browser session
(a person) adds a copy of the PDF that no one added before (its bytes differ, so it is read and
embedded, not found in the library) and asks the question the moment the file is chosen. Printed per
question: whether the chat showed the waiting note, whether the top quote is from the PDF and holds a
gold answer, and the seconds from choosing the file to the answer; then the count answered from the PDF.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import ARTICLE, free_port, parser
from benchmarks.samples import CHROMIUM, page_html, print_pdf
from qa.evaluate import read_questions

PARAGRAPHS = 30


def main() -> None:
    args = parser("ask_at_once", __doc__)
    args.add_argument("--article", default="Steam_engine", help="SQuAD dev article (default %(default)s)")
    args.add_argument("--questions", type=int, default=6, help="questions, each in a new session")
    options = args.parse_args()
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from playwright.sync_api import sync_playwright

    from app import build, launch
    from qa.answering.engine import Engine

    folder = Path(tempfile.mkdtemp(prefix="qa-at-once-"))
    os.environ["QA_INDEX_DIR"] = str(folder / "index")
    text = (options.bench / "squad-dev" / f"{options.article}.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip()][:PARAGRAPHS]
    covered = len("\n\n".join(paragraphs))
    pdf = print_pdf(page_html(options.article.replace("_", " "), paragraphs), folder / "article.pdf")
    rows = [
        q
        for q in read_questions(options.bench / "squad-dev" / f"{options.article}.questions.jsonl")
        if q.answers and all(a.end <= covered for a in q.answers)
    ][: options.questions]
    engine = Engine.open([ARTICLE])
    demo = build(engine)
    port = free_port()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    answered = holding = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost", "--no-sandbox"],
        )
        for number, row in enumerate(rows, 1):
            copy = folder / f"{options.article.lower()}-{number}.pdf"
            copy.write_bytes(pdf.read_bytes() + f"\n% copy {number}\n".encode())
            page = browser.new_context().new_page()
            page.goto(url)
            page.wait_for_selector("#qa-question textarea")
            began = time.perf_counter()
            page.set_input_files("#qa-add input[type=file]", str(copy))
            page.fill("#qa-question textarea", row.q)
            page.keyboard.press("Enter")
            waited = False
            deadline = time.monotonic() + 300
            while page.locator("#qa-chat .qa-answer").count() == 0 and time.monotonic() < deadline:
                waited = waited or page.locator("#qa-chat .qa-waiting").count() > 0
                page.wait_for_timeout(100)
            seconds = time.perf_counter() - began
            first = page.locator("#qa-chat .qa-quote").first
            badge = first.locator(".qa-cite").inner_text()
            quote = first.locator(".qa-text").inner_text()
            from_pdf = badge.startswith(f"[1] {copy.name}")
            right = from_pdf and any(a.text in quote for a in row.answers)
            answered += from_pdf
            holding += right
            said = "from the PDF, " + ("its gold answer quoted" if right else "another passage") if from_pdf else badge
            print(f"{number}. {row.q[:70]!r}: waiting note {'yes' if waited else 'no'}, {said[:70]}, {seconds:.1f} s")
            page.context.close()
        browser.close()
    demo.close()
    print(f"\n{answered} of {len(rows)} questions asked at once were answered from the PDF just added")
    print(f"{holding} of {len(rows)} with the gold answer in the top quote")


if __name__ == "__main__":
    main()
