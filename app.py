"""The browser app: ask the article, read the quoted passages, check them in the source panel.

    python app.py [--corpus PATH ...] [--model NAME] [--share]

Serves on http://127.0.0.1:7860 unless ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` say otherwise;
a public share link is opened only with ``--share``. Layout and wiring only: the answers come from
``qa.engine`` and their HTML from ``qa.web``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from starlette.middleware import Middleware

from qa import web
from qa.engine import DEFAULT_K, Engine
from qa.errors import QAError, QuestionError
from qa.search import Answer
from qa.server import BodyLimit, Gate

MAX_K = 10
CHAT_CONCURRENCY = 2  # chat turns run at once; more wait in Gradio's queue, up to QUEUE_SIZE
QUEUE_SIZE = 64  # beyond this many waiting chat turns, Gradio tells the user the app is busy
ACTIVE = 16  # questions answered at once (they share forward passes); more wait...
WAITING = 20  # ...up to this many (Gradio runs at most 40 handlers); beyond, callers are told "busy"
MAX_QUESTION_CHARS = 100_000  # longer questions are refused; the model reads only the first ~250 words
MAX_BODY_BYTES = 2_000_000  # larger HTTP requests are refused with 413
Message = dict[str, Any]


class Handlers:
    """The page's event handlers as plain functions over one shared, read-only engine."""

    def __init__(self, engine: Engine, gate: Gate | None = None) -> None:
        self.engine = engine
        self.gate = gate or Gate(ACTIVE, WAITING)
        self._doc_index = {d.name: i for i, d in enumerate(engine.documents)}
        self._passages = {(p.doc, p.start, p.end): p for p in engine.passages}

    def first_source(self) -> str:
        return web.source_html(self.engine.documents[0])

    def respond(self, question: str, k: float, history: list[Message] | None) -> tuple[list[Message], str, Any]:
        """Answer one chat turn: (new history, cleared question box, source panel)."""
        history = list(history or [])
        if not (question or "").strip():
            gr.Warning("Type a question about the article first.")
            return history, question, gr.skip()
        try:
            answer = self._ask(question, int(k))
        except QuestionError as exc:
            gr.Warning(str(exc))
            return history, question, gr.skip()
        except QAError as exc:
            raise gr.Error(str(exc)) from None
        history.append({"role": "user", "content": web.question_html(question)})
        history.append({"role": "assistant", "content": web.answer_html(answer, self._doc_index)})
        source: Any = gr.skip()
        if answer.hits:
            top = answer.hits[0]
            highlight = (top.highlight.start, top.highlight.end)
            source = web.source_html(self.engine.document(top.passage.doc), top.passage, highlight)
        return history, "", source

    def show_citation(self, value: str) -> str:
        """The source panel for a clicked citation badge (its citation class, then a click nonce)."""
        documents = self.engine.documents
        try:
            cite = web.parse_citation(value, documents)
        except QAError as exc:
            raise gr.Error(str(exc)) from None
        document = documents[cite.doc]
        passage = self._passages.get((document.name, cite.start, cite.end))
        if passage is None:
            raise gr.Error("that passage is not in the index any more; ask the question again")
        return web.source_html(document, passage, (cite.highlight_start, cite.highlight_end))

    def clear(self) -> tuple[list[Message], str, str]:
        return [], "", self.first_source()

    def api_ask(self, question: str, k: int = DEFAULT_K) -> dict[str, Any]:
        """Answer a question: the same JSON object as `qa ask --json`."""
        try:
            return self._ask(question, k).to_json()
        except QAError as exc:
            raise gr.Error(str(exc)) from None

    def _ask(self, question: str, k: int) -> Answer:
        if isinstance(question, str) and len(question) > MAX_QUESTION_CHARS:
            raise QuestionError(
                f"the question is {len(question):,} characters long; ask in at most {MAX_QUESTION_CHARS:,} "
                "(the model reads only the first 250 words or so)"
            )
        with self.gate.admit():
            return self.engine.ask(question, k)


def build(engine: Engine) -> gr.Blocks:
    """The page for ``engine``."""
    h = Handlers(engine)
    titles = {p.doc: engine.document(p.doc).text[p.start : p.end] for p in engine.passages if p.paragraph == 0}
    article = any(d.name == "harmonyos-smart-mobility.txt" for d in engine.documents)

    demo: gr.Blocks
    with gr.Blocks(title="Ask the article", fill_width=True) as demo:
        gr.HTML(
            f"<h1>Ask the article</h1><p>{web.describe(engine.documents, titles, len(engine.passages))}</p>",
            elem_id="qa-header",
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chat = gr.Chatbot(
                    show_label=False,
                    elem_id="qa-chat",
                    height=380,
                    autoscroll=False,
                    placeholder=web.CHAT_PLACEHOLDER,
                    render_markdown=False,
                    sanitize_html=True,
                    allow_tags=False,
                    feedback_options=None,
                    buttons=["copy"],
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Ask a question about the article…",
                        elem_id="qa-question",
                        scale=5,
                        lines=1,
                        max_lines=4,
                        autofocus=True,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="qa-send")
                with gr.Row():
                    k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label="Passages to quote", elem_id="qa-k")
                    clear = gr.Button("Clear chat", variant="secondary", elem_id="qa-clear")
                if article:
                    gr.Examples([[q] for q in web.ARTICLE_EXAMPLES], inputs=[question], label="Try")
            with gr.Column(scale=2, min_width=340):
                source = gr.HTML(h.first_source(), label="The article", elem_id="qa-source")
        cite_box = gr.Textbox(visible="hidden", elem_id="qa-cite-box")

        answered = gr.on(
            triggers=[question.submit, send.click],
            fn=h.respond,
            inputs=[question, k, chat],
            outputs=[chat, question, source],
            api_visibility="private",
        )
        answered.then(fn=None, js=web.JS_SHOW_ANSWER)
        shown = cite_box.change(h.show_citation, cite_box, source, api_visibility="private")
        shown.then(fn=None, js=web.JS_SHOW_CITATION)
        clear.click(h.clear, None, [chat, question, source], api_visibility="private")
        # The API skips Gradio's queue (about 9 ms a request here); the gate limits it instead.
        gr.api(h.api_ask, api_name="ask", queue=False)  # type: ignore[attr-defined]
    demo.queue(default_concurrency_limit=CHAT_CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def launch(demo: gr.Blocks, **kwargs: Any) -> Any:
    """Serve ``demo`` with the page's theme, CSS and script (loopback unless the environment says otherwise)."""
    return demo.launch(
        theme=gr.themes.Soft(
            primary_hue="blue",
            font=(gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "sans-serif"),
        ),
        css=web.CSS,
        js=web.JS_CITATIONS,
        footer_links=["api"],
        ssr_mode=False,
        app_kwargs={"middleware": [Middleware(BodyLimit, limit=MAX_BODY_BYTES)]},
        **kwargs,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the question-answering app.")
    parser.add_argument("--corpus", action="append", help="File or folder of .txt/.md documents (repeatable).")
    parser.add_argument("--model", default=None, help="sentence-transformers model name or folder.")
    parser.add_argument("--share", action="store_true", help="Also open a public Gradio share link.")
    args = parser.parse_args(argv)
    try:
        engine = Engine.open(args.corpus, model=args.model, notice=lambda m: print(f"qa: {m}", file=sys.stderr))
    except QAError as exc:
        sys.exit(f"qa: error: {exc}")
    launch(build(engine), share=args.share)  # False, not None: GRADIO_SHARE cannot open a link


if __name__ == "__main__":
    main()
