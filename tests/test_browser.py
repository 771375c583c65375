"""The page end to end in a real headless Chromium (Debian's, driven by Playwright; no browser download).

Skipped with a reason when Chromium is missing, except under CI=true where a missing browser fails.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.answering.engine import Engine
from tests.helpers import ARTICLE, BENCH, ROOT, free_port, requires_bench

pytestmark = [pytest.mark.browser, pytest.mark.model, requires_bench()]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
LOOPBACK = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> What is Qijing?"


@pytest.fixture(scope="module")
def engine(real_embedder: Any, real_index_dir: Path) -> Engine:
    return Engine.open([ARTICLE], embedder=real_embedder, index_dir=real_index_dir)


@pytest.fixture(scope="module")
def server(engine: Engine) -> Iterator[str]:
    from app import build, launch

    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    demo = build(engine)
    port = free_port()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM}; install it with `apt-get install chromium`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


class Page:
    """One browser tab on the app, recording requests and dialogs."""

    def __init__(self, browser: Any, url: str) -> None:
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        # A browser opens a page in a context of its own; a context (another person) opens one in it.
        self.page = browser.new_page(**({"viewport": VIEWPORT} if hasattr(browser, "new_context") else {}))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(url)
        self.page.wait_for_selector("#qa-question textarea")

    def ask(self, question: str) -> None:
        before = self.page.locator("#qa-chat .qa-answer").count()
        self.page.fill("#qa-question textarea", question)
        self.page.keyboard.press("Enter")
        self.page.wait_for_function(
            f"document.querySelectorAll('#qa-chat .qa-answer').length > {before}", timeout=60_000
        )

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def outside_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOOPBACK)]


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Page]:
    tab = Page(browser, server)
    yield tab
    tab.page.close()


def dev_question(qid: str) -> dict[str, Any]:
    rows = [json.loads(line) for line in (BENCH / "article-dev.questions.jsonl").read_text().splitlines()]
    return next(r for r in rows if r["id"] == qid)


def test_answer_is_quoted_with_badge_and_citation_shows_in_source(page: Page, engine: Engine) -> None:
    row = dev_question("article-dev-08")
    page.ask(row["q"])
    gold = row["answers"][0]["text"]
    answer = page.page.locator("#qa-chat .qa-answer").last
    quotes = page.page.locator("#qa-chat .qa-quote")  # one chat message each, after the answer's head
    first = quotes.first
    assert gold in first.locator(".qa-text").inner_text()
    badge = first.locator(".qa-cite").inner_text()
    assert badge.startswith("[1] harmonyos-smart-mobility.txt · 02 ") and "¶ 18 · line 25 · chars 7215–7493" in badge
    assert answer.locator(".qa-short").inner_text().lower().startswith("answer")
    assert gold in first.locator("mark.qa-hl").inner_text()
    # The top passage is shown in the source panel right away.
    assert gold in page.page.locator("#qa-source mark.qa-passage").inner_text()
    page.shot("answer")

    # Choosing the second citation shows that passage, highlighted and scrolled into view.
    second = quotes.nth(1)
    quote = second.locator(".qa-text").inner_text()
    second.locator(".qa-cite").click()
    page.page.wait_for_function(
        "(q) => (document.querySelector('#qa-source mark.qa-passage') || {}).innerText === q", arg=quote
    )
    page.page.wait_for_timeout(300)
    mark = page.page.locator("#qa-source mark.qa-passage").bounding_box()
    panel = page.page.locator("#qa-source .qa-scroll").bounding_box()
    assert mark is not None and panel is not None
    assert panel["y"] <= mark["y"] < panel["y"] + panel["height"], "cited passage is not scrolled into view"
    page.shot("citation")
    assert page.dialogs == []
    assert page.outside_requests() == []


def test_a_follow_up_is_answered_from_its_conversation_until_clear_chat(page: Page) -> None:
    page.ask("What is the Zhijie X9?")
    page.ask("How much will it cost?")
    answer = page.page.locator("#qa-chat .qa-answer").last
    assert "between 350,000 and 450,000 yuan" in answer.locator(".qa-short").inner_text()
    read_as = answer.locator(".qa-read-as").inner_text()
    assert read_as.startswith(
        "Read as a follow-up to “What is the Zhijie X9?”, with your previous answer: “The Zhijie X9"
    )
    assert "between 350,000 and 450,000 yuan" in page.page.locator("#qa-chat .qa-quote mark.qa-hl").nth(5).inner_text()
    page.shot("follow-up")
    page.page.click("#qa-clear")
    page.page.wait_for_function("document.querySelectorAll('#qa-chat .qa-answer').length === 0")
    page.ask("How much will it cost?")
    answer = page.page.locator("#qa-chat .qa-answer").last
    assert answer.locator(".qa-read-as").count() == 0  # a new conversation: nothing to follow
    assert page.page.locator("#qa-chat .qa-question").count() == 1


def test_hostile_question_runs_nothing_and_shows_literally(page: Page) -> None:
    page.ask(HOSTILE)
    shown = page.page.locator("#qa-chat .qa-question").last.inner_text()
    assert shown == HOSTILE
    assert page.page.locator("#qa-chat img[src='x']").count() == 0
    assert page.page.locator("#qa-chat script").count() == 0
    page.page.wait_for_timeout(500)
    assert page.dialogs == []
    page.shot("hostile")
    assert page.outside_requests() == []


def test_empty_question_gets_a_friendly_message(page: Page) -> None:
    page.page.fill("#qa-question textarea", "   ")
    page.page.keyboard.press("Enter")
    page.page.get_by_text("Type a question about the article first.").wait_for(timeout=10_000)
    assert page.page.locator("#qa-chat .qa-answer").count() == 0


def test_unanswerable_question_says_so(page: Page) -> None:
    page.ask(dev_question("article-dev-17")["q"])
    head = page.page.locator("#qa-chat .qa-answer").last
    assert head.locator(".qa-unanswered").inner_text() == "The article does not say."
    assert head.locator(".qa-closest").inner_text() == "Closest passages, for checking:"
    assert head.locator(".qa-evidence").inner_text() == "weak evidence"
    assert page.page.locator("#qa-chat .qa-quote").count() == 5  # the closest passages are still quoted


def test_api_endpoint_matches_the_cli_json(server: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner
    from gradio_client import Client

    question = dev_question("article-dev-10")["q"]
    client = Client(server, verbose=False)
    via_api = client.predict(question, 3, api_name="/ask")
    follow_up = client.predict("How much will it cost?", 3, ["What is the Zhijie X9?"], api_name="/ask")
    assert follow_up == engine.ask("How much will it cost?", 3, history=["What is the Zhijie X9?"]).to_json()
    assert follow_up["context"]["follows"] == "What is the Zhijie X9?"

    assert engine.stored is not None
    monkeypatch.setattr("qa.models.embedders.make_embedder", lambda *args, **kwargs: engine.embedder)
    monkeypatch.setenv("QA_INDEX_DIR", str(engine.stored.folder.parent.parent))
    from qa.cli import main

    result = CliRunner().invoke(main, ["ask", question, "--corpus", str(ARTICLE), "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert via_api == json.loads(result.stdout)


@pytest.fixture(scope="module")
def normans_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.documents import page_html, print_pdf

    text = (BENCH / "squad-dev" / "Normans.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip()][:30]
    return print_pdf(
        page_html("The Normans", paragraphs, headings_every=5), tmp_path_factory.mktemp("up") / "normans.pdf"
    )


def test_a_pdf_added_in_the_page_is_answered_with_its_page_and_no_one_else_sees_it(
    browser: Any, server: str, normans_pdf: Path
) -> None:
    mine = Page(browser, server)
    mine.page.set_input_files("#qa-add input[type=file]", str(normans_pdf))
    # Asked the moment the file is chosen (still uploading, then being read): the question waits for it.
    mine.ask("Who was the leader of the Norse raiders who settled in Normandy?")
    assert "pages" in mine.page.locator("#qa-doc-list").inner_text()
    first = mine.page.locator("#qa-chat .qa-quote").first
    badge = first.locator(".qa-cite").inner_text()
    assert badge.startswith("[1] normans.pdf · p. 1 · "), badge
    assert "Rollo" in first.locator(".qa-text").inner_text()
    mine.page.locator("#qa-chat .qa-quote").nth(1).click()
    mine.page.wait_for_function(
        "(q) => (document.querySelector('#qa-source mark.qa-passage') || {}).innerText === q",
        arg=mine.page.locator("#qa-chat .qa-quote").nth(1).locator(".qa-text").inner_text(),
    )
    source = mine.page.locator("#qa-source").inner_text()
    assert "normans.pdf" in source and "p. 1" in source  # the page marks of the stored text
    mine.shot("pdf-added")
    # A second browser context (another person) sees only the bundled article.
    context = browser.new_context(viewport=VIEWPORT)
    other = Page(context, server)
    assert "normans.pdf" not in other.page.locator("#qa-doc-list").inner_text()
    other.ask("Who was the leader of the Norse raiders who settled in Normandy?")
    assert "normans.pdf" not in other.page.locator("#qa-chat").inner_text()
    assert mine.outside_requests() == [] and other.outside_requests() == []
    context.close()
    mine.page.close()


LAKES = (
    "Lakes of the world\n\nLake Baikal in Siberia is the deepest lake on Earth, at 1,642 metres. "
    "It holds about a fifth of the unfrozen fresh water on the surface of the planet.\n\n"
    "Lake Titicaca lies on the border of Peru and Bolivia. It is the largest lake in South America by volume.\n"
)


def test_pasted_text_is_answered_kept_over_a_reload_and_downloaded_verbatim(
    browser: Any, server: str, tmp_path: Path
) -> None:
    from tests.helpers import markdown_quotes

    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    mine = Page(context, server)
    mine.page.fill("#qa-paste textarea", LAKES)
    mine.page.click("#qa-add-text")
    mine.page.locator("#qa-doc-list", has_text="Pasted text").wait_for(timeout=30_000)
    mine.ask("Which lake is the deepest?")
    first = mine.page.locator("#qa-chat .qa-quote").first
    assert first.locator(".qa-cite").inner_text().startswith("[1] Pasted text · ")
    assert "Baikal" in first.locator("mark.qa-hl").inner_text()
    mine.ask("How much fresh water does it hold?")
    mine.page.locator("#qa-doc-status", has_text="Added Pasted text").wait_for(timeout=30_000)

    mine.page.reload()
    mine.page.locator("#qa-doc-list", has_text="Pasted text").wait_for(timeout=30_000)
    mine.page.locator("#qa-chat .qa-question", has_text="Which lake is the deepest?").wait_for(timeout=30_000)
    assert mine.page.locator("#qa-chat .qa-answer").count() == 2
    mine.ask("And where does Lake Titicaca lie?")
    last = mine.page.locator("#qa-chat .qa-answer").last
    assert "Peru and Bolivia" in last.locator(".qa-short").inner_text()
    mine.shot("reloaded")

    with mine.page.expect_download() as download:
        mine.page.click("#qa-download-md")
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    quotes = markdown_quotes(markdown)
    assert len(quotes) == mine.page.locator("#qa-chat .qa-quote").count() and quotes
    texts = {"Pasted text": LAKES, ARTICLE.name: ARTICLE.read_text(encoding="utf-8")}
    for doc, start, end, quote in quotes:
        assert quote == texts[doc][start:end], f"a downloaded quote of {doc} is not document[{start}:{end}]"
    assert any(doc == "Pasted text" for doc, *_ in quotes)

    stranger = browser.new_context(viewport=VIEWPORT)  # another browser: nothing of mine
    other = Page(stranger, server)
    other.page.wait_for_timeout(1000)
    assert "Pasted text" not in other.page.locator("#qa-doc-list").inner_text()
    assert other.page.locator("#qa-chat .qa-question").count() == 0
    stranger.close()
    context.close()


def test_a_removal_made_while_a_file_is_read_stays_removed(
    browser: Any, server: str, normans_pdf: Path, tmp_path: Path
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    mine = Page(context, server)
    copy = tmp_path / "normans-copy.pdf"  # a file no one added yet: it is read, not found in the library
    copy.write_bytes(normans_pdf.read_bytes() + b"\n% another copy\n")
    mine.page.set_input_files("#qa-add input[type=file]", str(copy))
    mine.page.locator("#qa-doc-list", has_text="normans-copy.pdf").wait_for(timeout=30_000)
    mine.page.click("#qa-remove input")
    mine.page.keyboard.type("harmonyos")
    mine.page.keyboard.press("Enter")
    mine.page.click("#qa-remove-button")
    mine.page.locator("#qa-doc-status", has_text="Added normans-copy.pdf").wait_for(timeout=120_000)
    mine.page.wait_for_timeout(1500)  # a tick later: nothing comes back
    listing = mine.page.locator("#qa-doc-list").inner_text()
    assert "normans-copy.pdf" in listing and "harmonyos" not in listing
    mine.ask("Who was the leader of the Norse raiders who settled in Normandy?")
    assert "harmonyos" not in mine.page.locator("#qa-chat").inner_text()
    context.close()
