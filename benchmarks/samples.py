"""Documents of every format made on the spot, for the benchmarks and the tests: HTML pages with their
chrome, PDFs printed by headless Chromium, Word files written by python-docx (nothing binary is
checked in)."""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def page_html(title: str, paragraphs: list[str], headings_every: int = 0, chrome: bool = False) -> str:
    """An HTML page: a title, paragraphs (a heading before every ``headings_every``-th), and, with
    ``chrome``, a cookie banner, navigation, a sidebar, a footer and scripts around the article."""
    body = []
    for i, paragraph in enumerate(paragraphs):
        if headings_every and i % headings_every == 0:
            body.append(f"<h2>Part {i // headings_every + 1}</h2>")
        body.append(f"<p>{html.escape(paragraph)}</p>")
    article = f"<article><h1>{html.escape(title)}</h1>{''.join(body)}</article>"
    if chrome:
        article = (
            '<div id="cookies">We use cookies to improve your experience. Accept all cookies?</div>'
            '<nav><a href="/">Home</a> <a href="/about">About us</a> <a href="/shop">Shop</a></nav>'
            f"<main>{article}</main><aside>Related stories: Vikings in Iceland</aside>"
            "<footer>Copyright 2026 Example Media. All rights reserved. Privacy policy.</footer>"
            "<script>var tracking = 'secret tracker code';</script>"
        )
    style = "body{font-family:serif;font-size:12pt;margin:2cm} p{text-align:justify;hyphens:auto}"
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{article}</body></html>"
    )


def print_pdf(page: str, path: Path, header_footer: bool = True) -> Path:
    """``page`` (HTML) printed to ``path`` by headless Chromium, with its date/title/URL/page-number
    header and footer unless told otherwise — the page chrome a PDF reader must leave out."""
    source = path.with_suffix(".source.html")
    source.write_text(page, encoding="utf-8")
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        f"--user-data-dir={path.parent / '.chromium'}",
        f"--print-to-pdf={path}",
        *([] if header_footer else ["--no-pdf-header-footer"]),
        source.as_uri(),
    ]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return path


def word_file(path: Path, title: str, sections: list[tuple[str, list[str]]]) -> Path:
    """A .docx with a Title, then a "Heading 1" and its paragraphs per section."""
    import docx

    document = docx.Document()
    document.add_heading(title, 0)
    for heading, paragraphs in sections:
        document.add_heading(heading, 1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    document.save(str(path))
    return path
