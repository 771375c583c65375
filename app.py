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
from qa.chat import Conversation
from qa.embedders import make_embedder
from qa.engine import DEFAULT_K, Engine
from qa.errors import QAError, QuestionError
from qa.results import Answer, Hit
from qa.server import BodyLimit, CoalescingEmbedder, Gate

MAX_K = 10
CHAT_CONCURRENCY = 2  # chat turns run at once; more wait in Gradio's queue, up to QUEUE_SIZE
QUEUE_SIZE = 64  # beyond this many waiting chat turns, Gradio tells the user the app is busy
ACTIVE = 16  # questions answered at once (they share forward passes); more wait...
WAITING = 20  # ...up to this many (Gradio runs at most 40 handlers); beyond, callers are told "busy"
MAX_QUESTION_CHARS = 100_000  # longer questions are refused; the model reads only the first ~250 words
MAX_BODY_BYTES = 2_000_000  # larger HTTP requests are refused with 413
MAX_HISTORY = 20  # earlier questions passed on to the engine (it reads the latest few)
Message = dict[str, Any]


class Handlers:
    """The page's event handlers as plain functions over one shared, read-only engine."""

    def __init__(self, engine: Engine, gate: Gate | None = None) -> None:
        self.engine = engine
        self.gate = gate or Gate(ACTIVE, WAITING)

    def first_source(self) -> str:
        return web.source_html(self.engine.documents[0])

    def respond(
        self, question: str, k: float, history: list[Message] | None, chat: Conversation | None
    ) -> tuple[list[Message], str, Any, Conversation]:
        """Answer one chat turn: (new history, cleared question box, source panel, conversation)."""
        history = list(history or [])
        chat = chat or Conversation()
        if not (question or "").strip():
            gr.Warning("Type a question about the article first.")
            return history, question, gr.skip(), chat
        try:
            answer = self._ask(question, int(k), chat.questions())
        except QuestionError as exc:
            gr.Warning(str(exc))
            return history, question, gr.skip(), chat
        except QAError as exc:
            raise gr.Error(str(exc)) from None
        history = chat.add(answer, history, len(self.engine.documents))
        source: Any = gr.skip()
        if answer.hits:
            source = self._source(answer.hits[0])
        return history, "", source, chat

    def show_citation(self, chat: Conversation | None, selected: gr.SelectData) -> Any:
        """The source panel for the quote the user clicked in the chat (anything else changes nothing)."""
        index = selected.index
        hit = chat.hit_at(index) if chat is not None and isinstance(index, int) else None
        return gr.skip() if hit is None else self._source(hit)

    def clear(self) -> tuple[list[Message], str, str, Conversation]:
        return [], "", self.first_source(), Conversation()

    def api_ask(self, question: str, k: int = DEFAULT_K, history: list[str] | None = None) -> dict[str, Any]:
        """Answer a question, in its conversation when ``history`` lists the earlier questions (oldest
        first): the same JSON object as `qa ask --json`."""
        try:
            return self._ask(question, k, history or []).to_json()
        except QAError as exc:
            raise gr.Error(str(exc)) from None

    def _source(self, hit: Hit) -> str:
        """The cited document in the source panel, the passage and its highlight marked."""
        document = self.engine.document(hit.passage.doc)
        return web.source_html(document, hit.passage, (hit.highlight.start, hit.highlight.end))

    def _ask(self, question: str, k: int, history: list[str]) -> Answer:
        if not isinstance(history, list):
            raise QuestionError("history must be a list of the earlier questions, oldest first")
        for text in (question, *history):
            if isinstance(text, str) and len(text) > MAX_QUESTION_CHARS:
                raise QuestionError(
                    f"a question is {len(text):,} characters long; ask in at most {MAX_QUESTION_CHARS:,} "
                    "(the model reads only the first 250 words or so)"
                )
        if len(history) > MAX_HISTORY:
            history = history[-MAX_HISTORY:]  # only the latest turns shape the reading anyway
        with self.gate.admit():
            return self.engine.ask(question, k, history=history)


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
        conversation = gr.State(None)

        answered = gr.on(
            triggers=[question.submit, send.click],
            fn=h.respond,
            inputs=[question, k, chat, conversation],
            outputs=[chat, question, source, conversation],
            api_visibility="private",
        )
        answered.then(fn=None, js=web.JS_SHOW_ANSWER)
        shown = chat.select(h.show_citation, conversation, source, api_visibility="private")
        shown.then(fn=None, js=web.JS_SHOW_CITATION)
        gr.on(
            triggers=[clear.click, chat.clear],
            fn=h.clear,
            inputs=None,
            outputs=[chat, question, source, conversation],
            api_visibility="private",
        )
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

    def notice(message: str) -> None:
        print(f"qa: {message}", file=sys.stderr)

    try:
        # Questions asked at the same time by several users share one forward pass of the model.
        embedder = CoalescingEmbedder(make_embedder(args.model, notice=notice))
        engine = Engine.open(args.corpus, embedder=embedder, notice=notice)
    except QAError as exc:
        sys.exit(f"qa: error: {exc}")
    launch(build(engine), share=args.share)  # False, not None: GRADIO_SHARE cannot open a link


if __name__ == "__main__":
    main()
