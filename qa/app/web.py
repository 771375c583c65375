"""HTML for the browser app: answers with positioned quotes, and the source panel.

Pure functions, no Gradio: ``app.py`` wires them to the page. A reply is several chat messages: its
head (``answer_html``), then one message per quoted passage (``quote_html``), so that a click on a
quote reaches the app as the index of that message (Gradio's select event), never as offsets. Every
piece of text that comes from a question or a document goes through ``html.escape``; the only markup
is the one written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..answering.results import Answer, Hit
from ..documents.corpus import Document
from ..documents.passages import Passage
from ..render import CLOSEST, evidence, not_answered, position, position_parts, quote_parts, read_as

QUESTION_PREVIEW_CHARS = 600
SOURCE_WINDOW_CHARS = 100_000  # larger documents are shown around the cited passage
BADGE_SECTION_CHARS = 40

ARTICLE_EXAMPLES = (
    "What did GAC Group launch together with Huawei Qiankun?",
    "What powertrains will the Zhijie X9 offer?",
    "How have consumer attitudes toward smart car technology changed?",
    "Which basic experiences must Huawei's technology work together with?",
    "Who founded Seres?",
)


def question_html(question: str) -> str:
    """The user's chat bubble: the question as text (cut for display when very long)."""
    shown = question[:QUESTION_PREVIEW_CHARS]
    more = len(question) - len(shown)
    suffix = f' <span class="qa-note">… ({more:,} more characters)</span>' if more > 0 else ""
    return f'<span class="qa-question">{escape(shown)}</span>{suffix}'


def _quote(hit: Hit) -> str:
    before, inside, after = quote_parts(hit)
    body = f'{escape(before)}<mark class="qa-hl">{escape(inside)}</mark>{escape(after)}'
    return body.replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>")


def answer_html(answer: Answer, documents: int = 1, *, refusal: str | None = None, left_out: Sequence[str] = ()) -> str:
    """The head of the assistant's reply: the short answer (or that the text does not say: ``refusal``
    when given), how strong the evidence is, how a follow-up was read, and the documents still being
    read that it was answered without (``left_out``)."""
    parts = ['<div class="qa-answer">']
    if answer.truncated:
        parts.append(
            '<p class="qa-note">Your question is longer than the model reads; only its beginning was used.</p>'
        )
    if not answer.hits:
        parts.append('<p class="qa-short">No passage to show.</p>')
    elif answer.answered:
        top = answer.hits[0].highlight.text
        parts.append(f'<p class="qa-short"><span class="qa-label">Answer</span> {escape(top)}</p>')
    else:
        said = refusal if refusal is not None else not_answered(documents)
        parts.append(f'<p class="qa-short qa-unanswered">{escape(said)}</p>')
        parts.append(f'<p class="qa-closest">{escape(CLOSEST)}</p>')
    if answer.hits:
        label = evidence(answer)
        parts.append(
            f'<p class="qa-evidence qa-{label.split()[0]}" title="confidence {answer.confidence:.2f}">{label}</p>'
        )
    if answer.context is not None:
        words = read_as(answer.context, ("“", "”"))
        parts.append(f'<p class="qa-read-as">{escape(words[0].upper() + words[1:])}</p>')
    if left_out:
        names = ", ".join(left_out)
        parts.append(f'<p class="qa-note qa-left-out">Answered without {escape(names)} (still being read).</p>')
    parts.append("</div>")
    return "".join(parts)


def quote_html(hit: Hit) -> str:
    """One quoted passage of the reply, with its position badge; clicking it shows it in the source panel."""
    badge = f"[{hit.rank}] " + " · ".join(position_parts(hit.passage, BADGE_SECTION_CHARS))
    return (
        '<blockquote class="qa-quote">'
        f'<div class="qa-badge"><span class="qa-cite" role="button" tabindex="0" '
        f'title="Show in the document: {escape(position(hit.passage))}">{escape(badge)}</span>'
        f'<span class="qa-score">score {hit.score:.2f}</span></div>'
        f'<p class="qa-text">{_quote(hit)}</p>'
        "</blockquote>"
    )


def source_html(document: Document, passage: Passage | None = None, highlight: tuple[int, int] | None = None) -> str:
    """The document as stored, with ``passage`` marked and the ``highlight`` span marked inside it."""
    text = document.text
    lo, hi = 0, len(text)
    if len(text) > SOURCE_WINDOW_CHARS:
        centre = passage.start if passage else 0
        lo = max(0, centre - SOURCE_WINDOW_CHARS // 2)
        hi = min(len(text), lo + SOURCE_WINDOW_CHARS)
    head = f'<div class="qa-source-head"><span class="qa-doc">{escape(document.name)}</span>'
    if passage is not None:
        where = position(passage).removeprefix(passage.doc).removeprefix(" · ")
        head += f'<span class="qa-where">{escape(where)}</span>'
    head += "</div>"
    marks: list[tuple[int, str]] = [(start, _page_mark(n)) for n, (start, _) in enumerate(document.pages, 1)]
    if passage is not None:
        hl_start, hl_end = highlight or (passage.start, passage.start)
        marks += [
            (passage.start, '<mark class="qa-passage" id="qa-cited">'),
            (hl_start, '<mark class="qa-hl">'),
            (hl_end, "</mark>"),
            (passage.end, "</mark>"),
        ]
    body = _marked(text, lo, hi, marks)
    clipped = ""
    if lo > 0 or hi < len(text):
        clipped = f'<p class="qa-note">Showing characters {lo:,}–{hi:,} of {len(text):,}.</p>'
    return f'<div class="qa-source">{head}{clipped}<div class="qa-scroll">{body}</div></div>'


def _page_mark(page: int) -> str:
    return f'<span class="qa-page" id="qa-page-{page}">p. {page}</span>'


def _marked(text: str, lo: int, hi: int, marks: list[tuple[int, str]]) -> str:
    """``text[lo:hi]`` escaped, with each mark's markup inserted at its offset (in the given order at a tie)."""
    inside = sorted(((at, i, markup) for i, (at, markup) in enumerate(marks) if lo <= at <= hi), key=lambda m: m[:2])
    out, pos = [], lo
    for at, _, markup in inside:
        out.append(escape(text[pos:at]))
        out.append(markup)
        pos = at
    out.append(escape(text[pos:hi]))
    return "".join(out)


def documents_html(names: list[tuple[str, int, int, bool]], reading: Sequence[tuple[str, str, float]] = ()) -> str:
    """The conversation's documents: (name, pages, passages, bundled) each, as a small table, then those
    being read: (name, state, fraction done) each."""
    if not names and not reading:
        return '<p class="qa-note">No documents: add one to ask about it.</p>'
    rows = []
    for name, pages, passages, bundled in names:
        size = f"{pages} pages · {passages} passages" if pages else f"{passages} passages"
        tag = ' <span class="qa-tag">bundled</span>' if bundled else ""
        rows.append(f'<tr><td class="qa-docname">{escape(name)}{tag}</td><td class="qa-note">{size}</td></tr>')
    for name, state, done in reading:
        doing = f"reading and indexing… {done:.0%}" if state == "running" else "waiting to be read…"
        rows.append(
            f'<tr class="qa-reading"><td class="qa-docname">{escape(name)}</td><td class="qa-note">{doing}</td></tr>'
        )
    return f'<table class="qa-docs">{"".join(rows)}</table>'


def waiting_html(names: Sequence[str]) -> str:
    """The chat's status while a question waits for documents being read."""
    which = ", ".join(names)
    return (
        f'<div class="qa-waiting"><p class="qa-note">Reading {escape(which)} — your question will be answered '
        "from it too.</p></div>"
    )


def status_html(lines: Sequence[str]) -> str:
    """The latest status lines under the documents (refusals marked as problems)."""
    shown = []
    for line in lines:
        problem = line.startswith("Not added:")
        shown.append(f'<span class="qa-problem">{escape(line)}</span>' if problem else escape(line))
    return "<br>".join(shown)


def describe(documents: tuple[Document, ...], titles: dict[str, str], passages: int) -> str:
    """One line about the corpus: the article's title (or document names) and its size."""
    size = f'<span class="qa-note">{passages} passages</span>'
    if len(documents) == 1:
        doc = documents[0]
        title = titles.get(doc.name) or doc.name
        return f"Questions answered from “{escape(title)}”, quoted word for word. {size}"
    names = ", ".join(escape(d.name) for d in documents[:5])
    more = f" and {len(documents) - 5} more" if len(documents) > 5 else ""
    return f"Questions answered from {len(documents)} documents ({names}{more}), quoted word for word. {size}"


CHAT_PLACEHOLDER = (
    "<b>Ask a question about the article, or add your own documents below.</b><br>"
    "The answer is quoted word for word, with its page, section, paragraph, line and characters;"
    " click a passage to see it in its document."
)


CSS = """
@font-face {font-family: 'Lora'; src: url('static/fonts/Lora/Lora-Regular.woff2') format('woff2'); font-weight: 400;}
#qa-header h1 {margin: 0; font-size: 1.45rem;}
#qa-header p {margin: 0.1rem 0 0; color: var(--body-text-color-subdued);}
.qa-answer p {margin: 0 0 0.5rem;}
.qa-short {font-size: 1.02rem; line-height: 1.45;}
.qa-label {display: inline-block; font-weight: 700; font-size: 0.75rem; text-transform: uppercase;
  letter-spacing: 0.04em; background: #1d4ed8; color: #fff; border-radius: 4px; padding: 1px 6px; margin-right: 4px;}
.qa-unanswered {font-weight: 600; color: #b45309;}
.qa-quote {margin: 0.6rem 0 0; padding: 0.4rem 0.7rem; border-left: 4px solid #93c5fd;
  background: rgba(147, 197, 253, 0.08); border-radius: 0 6px 6px 0;}
.qa-badge {display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-bottom: 0.3rem; font-size: 0.78rem;}
.qa-cite {cursor: pointer; background: #e0e7ff; color: #1e3a8a; border-radius: 999px; padding: 1px 9px;
  font-weight: 600; text-decoration: none;}
.qa-cite:hover, .qa-cite:focus {background: #c7d2fe; outline: 2px solid #6366f1;}
.qa-score {color: var(--body-text-color-subdued);}
.qa-text {margin: 0; line-height: 1.5;}
mark.qa-hl {background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px;}
.qa-note {font-size: 0.8rem; color: var(--body-text-color-subdued);}
.qa-evidence {display: inline-block; font-size: 0.75rem; border-radius: 999px; padding: 0 8px; margin: 0;
  border: 1px solid currentColor;}
.qa-strong {color: #047857;} .qa-some {color: #a16207;} .qa-weak {color: #9ca3af;}
.qa-closest {font-size: 0.85rem; color: var(--body-text-color-subdued); margin-top: 0.2rem;}
.qa-read-as {font-size: 0.8rem; color: var(--body-text-color-subdued); font-style: italic; margin-top: 0.2rem;}
.qa-source-head {display: flex; flex-wrap: wrap; gap: 8px; align-items: baseline; margin-bottom: 0.4rem;}
.qa-doc {font-weight: 700;}
.qa-where {font-size: 0.8rem; color: var(--body-text-color-subdued);}
.qa-scroll {position: relative; max-height: calc(100vh - 190px); min-height: 300px; overflow-y: auto;
  white-space: pre-wrap; line-height: 1.6; font-family: 'Lora', Georgia, serif; font-size: 0.92rem; padding-right: 8px;}
#qa-chat .qa-answer, #qa-chat .qa-question {font-size: 0.95rem;}
.qa-page {display: block; margin: 0.6rem 0 0.2rem; font-family: ui-sans-serif, sans-serif; font-size: 0.72rem;
  color: var(--body-text-color-subdued); border-top: 1px dashed var(--border-color-primary);}
.qa-problem {color: #b91c1c;}
.qa-docs {width: 100%; font-size: 0.85rem;} .qa-docs td {padding: 2px 6px;}
.qa-docname {font-weight: 600; word-break: break-all;}
.qa-tag {font-weight: 400; font-size: 0.7rem; border: 1px solid currentColor; border-radius: 999px; padding: 0 5px;}
mark.qa-passage {background: #dbeafe; color: #1f2937; border-radius: 3px; padding: 1px 0;}
mark.qa-passage mark.qa-hl {background: #fde68a;}
"""

# Scroll the cited passage into view inside the source panel (never the whole page).
_SCROLL_SOURCE = """
    const box = document.querySelector('#qa-source .qa-scroll');
    const mark = box && box.querySelector('mark.qa-passage');
    if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 4);
"""
# Scroll the chat so that the newest question, and the answer under it, start at the top.
_SCROLL_CHAT = """
    const questions = document.querySelectorAll('#qa-chat .qa-question');
    const last = questions[questions.length - 1];
    for (let p = last && last.parentElement; p; p = p.parentElement) {
      if (/(auto|scroll)/.test(getComputedStyle(p).overflowY) && p.scrollHeight > p.clientHeight) {
        p.scrollTop += last.getBoundingClientRect().top - p.getBoundingClientRect().top - 12;
        break;
      }
    }
"""
JS_SHOW_CITATION = "() => { setTimeout(() => {" + _SCROLL_SOURCE + "}, 80); }"
JS_SHOW_ANSWER = "() => { setTimeout(() => {" + _SCROLL_SOURCE + _SCROLL_CHAT + "}, 80); }"
# A file chosen (or dropped) is uploaded before the page tells the server about it: until it has, a
# question asked meanwhile waits here in the browser, so that it is answered from that file too.
JS_WATCH_UPLOADS = """() => {
    const mark = (e) => { if (e.target.closest && e.target.closest('#qa-add')) window.qaUploading = Date.now(); };
    document.addEventListener('change', mark, true);
    document.addEventListener('drop', mark, true);
}"""
JS_UPLOADS_TOLD = "() => { window.qaUploading = 0; }"
JS_AFTER_UPLOADS = """async (...inputs) => {
    const began = Date.now();
    while (window.qaUploading && Date.now() - window.qaUploading < 120000 && Date.now() - began < 120000) {
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return inputs;
}"""
