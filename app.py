"""The browser app: ask the article (or your own documents), read the quoted passages, check them.

    python app.py [--corpus PATH ...] [--model NAME] [--share]

Serves on http://127.0.0.1:7860 unless ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` say otherwise;
a public share link is opened only with ``--share``. Layout and wiring only: the answers come from
``qa.answering.engine``, each session's documents from ``qa.app.workspace``, the HTML from ``qa.app.web``.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from starlette.middleware import Middleware

from qa import settings
from qa.answering.engine import DEFAULT_K, Engine
from qa.answering.results import Answer, Hit
from qa.app import web
from qa.app.chat import Conversation, Session
from qa.app.server import BodyLimit, CoalescingEmbedder, Gate, OptionalInputs
from qa.app.workspace import Workspaces
from qa.documents.corpus import SUFFIXES
from qa.errors import QAError, QuestionError
from qa.models.embedders import make_embedder

MAX_K = 10
CHAT_CONCURRENCY = 2  # chat turns run at once; more wait in Gradio's queue, up to QUEUE_SIZE
QUEUE_SIZE = 64  # beyond this many waiting chat turns, Gradio tells the user the app is busy
ACTIVE = 16  # questions answered at once (they share forward passes); more wait...
WAITING = 20  # ...up to this many (Gradio runs at most 40 handlers); beyond, callers are told "busy"
MAX_QUESTION_CHARS = 100_000  # longer questions are refused; the model reads only the first ~250 words
MAX_BODY_BYTES = 2_000_000  # larger HTTP requests are refused with 413 (uploads: see launch)
MAX_HISTORY = 20  # earlier questions passed on to the engine (it reads the latest few)
UPLOAD_PATH = "/gradio_api/upload"
ASK_PATHS = ("/gradio_api/run/ask", "/gradio_api/call/ask")
UPLOADS_KEPT = (3600, 86_400)  # every hour, delete uploaded files older than a day
Message = dict[str, Any]
Documents = tuple[Session, str, str, Any, Any]  # session, document list, status, remove choices, header


class Handlers:
    """The page's event handlers as plain functions: one shared model and library, a session each."""

    def __init__(self, workspaces: Workspaces, gate: Gate | None = None) -> None:
        self.workspaces = workspaces
        self.gate = gate or Gate(ACTIVE, WAITING)

    @property
    def engine(self) -> Engine:
        """The engine over the bundled corpus: the API's, and every session's starting point."""
        return self.workspaces.base

    def session(self, state: Session | None) -> Session:
        return state if state is not None else Session(self.workspaces.bundled)

    def first_source(self, state: Session | None = None) -> str:
        engine = self._engine(self.session(state))
        return web.source_html(engine.documents[0]) if engine else web.documents_html([])

    def respond(
        self, question: str, k: float, history: list[Message] | None, state: Session | None
    ) -> tuple[list[Message], str, Any, Session]:
        """Answer one chat turn: (new history, cleared question box, source panel, session)."""
        history = list(history or [])
        session = self.session(state)
        if not (question or "").strip():
            gr.Warning("Type a question about the article first.")
            return history, question, gr.skip(), session
        engine = self._engine(session)
        if engine is None:
            gr.Warning("There is no document to ask: add one below first.")
            return history, question, gr.skip(), session
        try:
            answer = self._ask(engine, question, int(k), session.conversation.questions())
        except QuestionError as exc:
            gr.Warning(html.escape(str(exc)))  # the page renders a toast as HTML
            return history, question, gr.skip(), session
        except QAError as exc:
            raise gr.Error(html.escape(str(exc))) from None
        history = session.conversation.add(answer, history, len(engine.documents))
        source = self._source(engine, answer.hits[0]) if answer.hits else gr.skip()
        return history, "", source, session

    def show_citation(self, state: Session | None, selected: gr.SelectData) -> Any:
        """The source panel for the quote the user clicked in the chat (anything else changes nothing)."""
        session = self.session(state)
        index = selected.index
        hit = session.conversation.hit_at(index) if isinstance(index, int) else None
        engine = self._engine(session)
        if hit is None or engine is None:
            return gr.skip()
        return self._source(engine, hit)

    def clear(self, state: Session | None) -> tuple[list[Message], str, str, Session]:
        session = Session(self.session(state).sources, Conversation())
        return [], "", self.first_source(session), session

    def add_files(self, files: list[str] | None, state: Session | None) -> Iterator[Documents]:
        """Add uploaded files one by one; each can be asked as soon as its line says it is ready.

        Gradio keeps each upload under a folder of its own, with the name it was uploaded with.
        """
        session = self.session(state)
        paths = [Path(f) for f in files or []]
        problems: list[str] = []
        for done, path in enumerate(paths):
            name = path.name
            # While files are read, the list grows; the header waits for the last (it needs their index).
            yield self._documents(session, web.reading_html(name, done + 1, len(paths)), header=False)
            try:
                session = Session(self.workspaces.add_file(session.sources, path, name), session.conversation)
            except QAError as exc:
                problems.append(str(exc))
        yield self._documents(session, web.added_html(len(paths) - len(problems), problems))

    def add_text(self, text: str, state: Session | None) -> tuple[Documents, str]:
        session = self.session(state)
        try:
            session = Session(self.workspaces.add_text(session.sources, text or ""), session.conversation)
        except QAError as exc:
            return self._documents(session, web.added_html(0, [str(exc)])), text
        return self._documents(session, web.added_html(1, [])), ""

    def remove(self, names: list[str] | None, state: Session | None) -> Documents:
        session = self.session(state)
        session = Session(self.workspaces.remove(session.sources, names or []), session.conversation)
        return self._documents(session, web.removed_html(names or []))

    def api_ask(self, question: str, k: int = DEFAULT_K, history: list[str] | None = None) -> dict[str, Any]:
        """Answer a question about the bundled documents, in its conversation when ``history`` lists the
        earlier questions (oldest first): the same JSON object as `qa ask --json`."""
        try:
            return self._ask(self.engine, question, k, history or []).to_json()
        except QAError as exc:
            raise gr.Error(str(exc)) from None

    def _documents(self, session: Session, status: str, header: bool = True) -> Documents:
        names = [s.name for s in session.sources]
        engine = self._engine(session) if header else None
        described = web.describe(engine.documents, engine.titles(), len(engine.passages)) if engine else ""
        choices = gr.update(choices=names, value=[])
        return session, web.documents_html(session.listing()), status, choices, described if header else gr.skip()

    def _engine(self, session: Session) -> Engine | None:
        """The engine over the session's documents (built when first asked); its failure, said plainly."""
        try:
            return self.workspaces.engine(session.sources)
        except QAError as exc:
            raise gr.Error(html.escape(str(exc))) from None

    @staticmethod
    def _source(engine: Engine, hit: Hit) -> Any:
        """The cited document in the source panel, the passage and its highlight marked."""
        try:
            document = engine.document(hit.passage.doc)
        except KeyError:
            gr.Warning(f"{html.escape(hit.passage.doc)} was removed from this conversation")
            return gr.skip()
        if document.text[hit.passage.start : hit.passage.end] != hit.text:
            gr.Warning(f"{html.escape(hit.passage.doc)} has changed since this answer; ask the question again")
            return gr.skip()
        return web.source_html(document, hit.passage, (hit.highlight.start, hit.highlight.end))

    def _ask(self, engine: Engine, question: str, k: int, history: list[str]) -> Answer:
        """The engine's answer (its checks: the question's length, the history's form and cut)."""
        with self.gate.admit():
            return engine.ask(question, k, history=history)


def build(engine: Engine) -> gr.Blocks:
    """The page, starting every session on ``engine``'s documents."""
    h = Handlers(Workspaces(engine))
    article = any(d.name == "harmonyos-smart-mobility.txt" for d in engine.documents)
    start = h.session(None)

    demo: gr.Blocks
    # Uploaded files are read once (then kept as text and vectors, see Workspaces): Gradio's copies go after a day.
    with gr.Blocks(title="Ask the article", fill_width=True, delete_cache=UPLOADS_KEPT) as demo:
        with gr.Column(elem_id="qa-header"):
            gr.HTML("<h1>Ask the article</h1>")
            header = gr.HTML(web.describe(engine.documents, engine.titles(), len(engine.passages)))
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
                        placeholder="Ask a question about the article or your documents…",
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
                with gr.Accordion("Your documents", open=True, elem_id="qa-documents"):
                    listing = gr.HTML(web.documents_html(start.listing()), elem_id="qa-doc-list")
                    status = gr.HTML("", elem_id="qa-doc-status")
                    with gr.Row():
                        files = gr.File(
                            label="Add documents (PDF, Word, HTML, text)",
                            file_count="multiple",
                            file_types=list(SUFFIXES),
                            elem_id="qa-add",
                            scale=3,
                        )
                        with gr.Column(scale=2):
                            pasted = gr.Textbox(label="…or paste text", lines=3, elem_id="qa-paste")
                            add_text = gr.Button("Add text", elem_id="qa-add-text")
                    with gr.Row():
                        names = [s.name for s in start.sources]
                        remove = gr.Dropdown(names, multiselect=True, label="Remove", elem_id="qa-remove", scale=3)
                        remove_button = gr.Button("Remove", elem_id="qa-remove-button", scale=1)
            with gr.Column(scale=2, min_width=340):
                source = gr.HTML(h.first_source(), label="The article", elem_id="qa-source")
        session = gr.State(None)
        documents = [session, listing, status, remove, header]

        answered = gr.on(
            triggers=[question.submit, send.click],
            fn=h.respond,
            inputs=[question, k, chat, session],
            outputs=[chat, question, source, session],
            api_visibility="private",
        )
        answered.then(fn=None, js=web.JS_SHOW_ANSWER)
        shown = chat.select(h.show_citation, session, source, api_visibility="private")
        shown.then(fn=None, js=web.JS_SHOW_CITATION)
        gr.on(
            triggers=[clear.click, chat.clear],
            fn=h.clear,
            inputs=[session],
            outputs=[chat, question, source, session],
            api_visibility="private",
        )
        added = files.upload(h.add_files, [files, session], documents, api_visibility="private")
        added.then(lambda: None, None, files, api_visibility="private")
        add_text.click(h.add_text, [pasted, session], [*documents, pasted], api_visibility="private")
        remove_button.click(h.remove, [remove, session], documents, api_visibility="private")
        # The API skips Gradio's queue (about 9 ms a request here); the gate limits it instead.
        gr.api(h.api_ask, api_name="ask", queue=False)  # type: ignore[attr-defined]
    demo.queue(default_concurrency_limit=CHAT_CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def launch(demo: gr.Blocks, **kwargs: Any) -> Any:
    """Serve ``demo`` with the page's theme, CSS and limits (loopback unless the environment says otherwise).

    Requests are refused over 2 MB, but uploads: each file may be as large as one document may
    (``QA_MAX_DOC_MB``), up to the documents a session may hold (``QA_MAX_DOCS``) in one request.
    """
    per_file = settings.max_document_bytes()
    uploads = per_file * settings.max_documents() + 1_000_000
    return demo.launch(
        theme=gr.themes.Soft(
            primary_hue="blue",
            font=(gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "sans-serif"),
        ),
        css=web.CSS,
        footer_links=["api"],
        ssr_mode=False,
        max_file_size=per_file,
        app_kwargs={
            "middleware": [
                Middleware(BodyLimit, limit=MAX_BODY_BYTES, larger={UPLOAD_PATH: uploads}),
                # /ask called over HTTP as before history was added, with [question, k], still works.
                Middleware(OptionalInputs, defaults={path: [None, DEFAULT_K, []] for path in ASK_PATHS}),
            ]
        },
        **kwargs,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the question-answering app.")
    parser.add_argument("--corpus", action="append", help="File or folder of documents (repeatable).")
    parser.add_argument("--model", default=None, help="sentence-transformers model name or folder.")
    parser.add_argument("--share", action="store_true", help="Also open a public Gradio share link.")
    args = parser.parse_args(argv)

    def notice(message: str) -> None:
        print(f"qa: {message}", file=sys.stderr)

    try:
        # Questions asked at the same time by several users share one forward pass of the model.
        embedder = CoalescingEmbedder(make_embedder(args.model, notice=notice))
        engine = Engine.open(args.corpus, embedder=embedder, notice=notice)
        settings.max_document_bytes(), settings.max_documents()  # the upload limits, checked before serving
    except QAError as exc:
        sys.exit(f"qa: error: {exc}")
    launch(build(engine), share=args.share)  # False, not None: GRADIO_SHARE cannot open a link


if __name__ == "__main__":
    main()
