"""Documents of other formats, measured: quality through PDF, Word and HTML, several documents in one
corpus, and the time from adding a document to its first answer.

    .venv/bin/python -m benchmarks.documents [--bench ../shared/bench] [--skip-speed]

1. **Formats.** Each SQuAD dev article is turned into a PDF (printed by headless Chromium, with its
   date/title/URL/page-number header and footer), a Word file (python-docx, a heading every five
   paragraphs) and an HTML page (with a cookie banner, navigation, a sidebar, a footer and scripts
   around the article). Each answerable question is asked with ``qa ask --corpus FILE`` (the engine
   over that one file); it is answered when a passage among the top 3 holds one of its gold answer
   texts. For PDFs, the page of that passage is checked against the page Chromium printed the answer
   on; for every format, no quote may hold page chrome (the banner's, menu's, footer's, script's or
   print header's words).
2. **Several documents.** The article and the six SQuAD articles as one corpus: the bench questions
   (``doc`` set to their own document), hit@1 / hit@3 over all of them.
3. **Speed**: from adding a document (the app's path: convert, embed, index) to its first answer,
   for a 20-page PDF and for all seven bench documents, cold (nothing cached) and again (the same
   files added by another session: converted and embedded already).
"""

from __future__ import annotations

import dataclasses
import re
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks import common
from benchmarks.common import ARTICLE
from benchmarks.samples import page_html, print_pdf, word_file
from qa import settings
from qa.answering.engine import Engine
from qa.app.workspace import Source, Workspaces
from qa.documents.corpus import read_document
from qa.evaluate import Question, evaluate, read_questions
from qa.models.embed import Embedder
from qa.models.embedders import make_embedder

CHROME_WORDS = ("cookies", "About us", "Related stories", "Copyright", "tracker", "file://", "/tmp/")


def paragraphs(path: Path) -> list[str]:
    return [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]


def make_files(text: Path, folder: Path) -> dict[str, Path]:
    title = text.stem.replace("_", " ")
    paras = paragraphs(text)
    sections = [(f"Part {i // 5 + 1}", paras[i : i + 5]) for i in range(0, len(paras), 5)]
    html = folder / f"{text.stem}.html"
    html.write_text(page_html(title, paras, headings_every=5, chrome=True), encoding="utf-8")
    return {
        "pdf": print_pdf(page_html(title, paras, headings_every=5), folder / f"{text.stem}.pdf"),
        "docx": word_file(folder / f"{text.stem}.docx", title, sections),
        "html": html,
    }


def answer_pages(pdf: Path) -> list[str]:
    """The words of each printed page, as the PDF holds them."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    return [
        " ".join(re.findall(r"[^\W_]+", document[i].get_textpage().get_text_range().lower()))
        for i in range(len(document))
    ]


def words(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def formats(bench: Path, embedder: Embedder, folder: Path) -> None:
    totals: dict[str, list[int]] = {}
    for text in sorted((bench / "squad-dev").glob("*.txt")):
        questions = [q for q in read_questions(text.with_suffix(".questions.jsonl")) if q.answers]
        for fmt, path in make_files(text, folder).items():
            engine = Engine.open([path], embedder=embedder)
            answers = engine.ask_many([q.q for q in questions], 3)
            pages = answer_pages(path) if fmt == "pdf" else []
            hit = page_right = page_checked = chrome = 0
            for question, answer in zip(questions, answers, strict=True):
                chrome += sum(any(w in h.text for w in CHROME_WORDS) for h in answer.hits)
                golds = [g.text for g in question.answers]
                found = next((h for h in answer.hits if any(g in h.text for g in golds)), None)
                hit += found is not None
                if found is not None and pages and found.passage.page is not None:
                    holding = [i + 1 for i, page in enumerate(pages) if any(words(g) in page for g in golds)]
                    if len(holding) == 1:  # the answer is printed on one page only: its page is known
                        page_checked += 1
                        page_right += found.passage.page == holding[0]
            row = totals.setdefault(fmt, [0, 0, 0, 0, 0])
            for i, value in enumerate((len(questions), hit, page_checked, page_right, chrome)):
                row[i] += value
            print(f"  {text.stem:18s} {fmt:4s} top-3 {hit / len(questions):.3f} (n={len(questions)})", flush=True)
    print("\n| format | questions | answer in the top 3 | PDF: right page (of the checkable) | quotes with chrome |")
    print("|---|---:|---:|---:|---:|")
    for fmt, (n, hit, checked, right, chrome) in totals.items():
        page = f"{right / checked:.3f} ({checked})" if checked else "–"
        print(f"| {fmt} | {n} | {hit / n:.3f} | {page} | {chrome} |")


def several(bench: Path, embedder: Embedder) -> None:
    texts = [ARTICLE, *sorted((bench / "squad-dev").glob("*.txt"))]
    engine = Engine.open(texts, embedder=embedder)
    sets: list[tuple[str, list[Question]]] = [("article-dev", read_questions(bench / "article-dev.questions.jsonl"))]
    sets[0] = ("article-dev", [dataclasses.replace(q, doc=ARTICLE.name) for q in sets[0][1]])
    for text in texts[1:]:
        rows = read_questions(text.with_suffix(".questions.jsonl"))
        sets.append((text.stem, [dataclasses.replace(q, doc=text.name) for q in rows]))
    print(f"\n{len(texts)} documents in one corpus ({len(engine.passages)} passages), each question's own document:\n")
    print("| questions | answerable | hit@1 | hit@3 | highlight@1 |")
    print("|---|---:|---:|---:|---:|")
    every = [q for _, rows in sets for q in rows]
    for name, rows in [*sets, ("all", every)]:
        m = evaluate(engine, rows, "")
        print(f"| {name} | {m.answerable} | {m.hit1:.3f} | {m.hit3:.3f} | {m.highlight1:.3f} |")


def speed(bench: Path, embedder: Embedder, folder: Path, repeats: int) -> None:
    base = Engine.open([ARTICLE], embedder=embedder)
    warsaw, force = bench / "squad-dev" / "Warsaw.txt", bench / "squad-dev" / "Force.txt"
    long_pdf = print_pdf(page_html("Warsaw and Force", paragraphs(warsaw) + paragraphs(force)), folder / "long.pdf")
    pages = len(read_document(long_pdf, long_pdf.name).pages)
    cases = [
        (f"a {pages}-page PDF", [long_pdf]),
        ("the 7 bench documents", [ARTICLE, *sorted((bench / "squad-dev").glob("*.txt"))]),
    ]
    print("\n| added | cold: convert + embed + index + first answer, s (median of runs) | again (cached), s |")
    print("|---|---:|---:|")
    for label, files in cases:
        cold, warm = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as root:
                settings_root = Path(root)
                cold.append(_first_answer(files, base, settings_root))
                warm.append(_first_answer(files, base, settings_root))
        print(f"| {label} | {statistics.median(cold):.2f} | {statistics.median(warm):.2f} |", flush=True)


def _first_answer(files: Sequence[Path], base: Engine, root: Path) -> float:
    """Seconds from a session adding ``files`` (as the app does) to the answer of a question; the
    conversion and embedding caches live under ``root`` (empty the first time)."""
    import os

    os.environ[settings.INDEX_DIR_ENV] = str(root)
    spaces = Workspaces(base)

    def add_and_ask() -> None:
        sources: tuple[Source, ...] = ()
        for path in files:
            sources = spaces.add_file(sources, path, path.name)
        engine = spaces.engine(sources)
        assert engine is not None
        engine.ask("What is the subject of this document?", 5)

    return common.timed(add_and_ask)


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("documents", __doc__, repeats=3)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args(argv)
    embedder = make_embedder()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("## Formats (SQuAD dev articles as PDF, Word and HTML)\n", flush=True)
        formats(args.bench, embedder, folder)
        several(args.bench, embedder)
        if not args.skip_speed:
            print("\n## From adding documents to the first answer", flush=True)
            speed(args.bench, embedder, folder, args.repeats)


if __name__ == "__main__":
    main()
