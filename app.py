"""The browser app: ask the article (or your own documents), read the quoted passages, check them.

    python app.py [--corpus PATH ...] [--model NAME] [--share]

Serves on http://127.0.0.1:7860 unless ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` say otherwise;
a public share link is opened only with ``--share``. Layout and wiring only: the answers come from
``qa.answering.engine``, each session's documents from ``qa.app.workspace``, the HTML from ``qa.app.web``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import html
import inspect
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from starlette.middleware import Middleware

from qa import settings
from qa.answering.engine import DEFAULT_K, Engine, check_k
from qa.answering.question import check_history, check_question
from qa.answering.results import Answer, Hit
from qa.app import export, web
from qa.app.chat import Session
from qa.app.server import ApiGuard, BodyLimit, CoalescingEmbedder, Gate, UploadQuota
from qa.app.sessions import Sessions
from qa.app.workspace import Workspaces
from qa.errors import QAError, QuestionError
from qa.models.embedders import make_embedder

MAX_K = 10
CHAT_CONCURRENCY = 8  # chat turns run at once (a turn may wait for documents being read); more wait in the queue
QUEUE_SIZE = 64  # beyond this many waiting chat turns, Gradio tells the user the app is busy
ACTIVE = 16  # questions answered at once (they share forward passes); more wait...
WAITING = 20  # ...up to this many (Gradio runs at most 40 handlers); beyond, callers are told "busy"
MAX_BODY_BYTES = 2_000_000  # larger HTTP requests are refused with 413 (uploads: see launch)
UPLOAD_PATH = "/gradio_api/upload"
ASK_PATHS = ("/gradio_api/run/ask", "/gradio_api/call/ask")
UPLOAD_FILES_PER_WINDOW = 4  # a client may upload this many documents at the size limit every 10 minutes
UPLOADS_KEPT = (3600, 86_400)  # every hour, delete uploaded files older than a day
TICK_SECONDS = 1.0  # how often the page looks for documents that finished reading
STORAGE_KEY = "qa-session"  # the browser's local storage key of the saved session
EXPORTS = Path(tempfile.gettempdir()) / "qa-exports"
# Where Gradio keeps uploaded files: each is deleted once read (its text is kept by content hash).
UPLOADS = Path(
    os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio"
)  # conversations to download, a folder per session
Message = dict[str, Any]


class _Unchanged:
    """A part of the page a handler leaves as it is (sent to Gradio as ``gr.skip()``)."""

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Any = _Unchanged()


@dataclass(frozen=True)
class View:
    """What a handler changes on the page, by component name; what it leaves out stays as it is."""

    chat: Any = SKIP
    question: Any = SKIP
    source: Any = SKIP
    listing: Any = SKIP
    status: Any = SKIP
    remove: Any = SKIP
    header: Any = SKIP
    pasted: Any = SKIP
    files: Any = SKIP
    saved: Any = SKIP
    timer: Any = SKIP
    skip_wait: Any = SKIP
    markdown: Any = SKIP
    jsonl: Any = SKIP


class Handlers:
    """The page's event handlers: one shared model and library, a session each (by Gradio's session hash)."""

    def __init__(self, workspaces: Workspaces, gate: Gate | None = None, sessions: Sessions | None = None) -> None:
        self.workspaces = workspaces
        self.gate = gate or Gate(ACTIVE, WAITING)
        self.sessions = sessions or Sessions(workspaces, uploads=UPLOADS)
        self._shown: dict[str, int] = {}  # the session version each page last showed: a tick redraws on change
        self._exported: dict[str, tuple[int, object]] = {}  # the turns each page's downloads were written for

    @property
    def engine(self) -> Engine:
        """The engine over the bundled corpus: the API's, and every session's starting point."""
        return self.workspaces.base

    def session(self, request: gr.Request) -> Session:
        return self.sessions.get(request.session_hash or "")

    def load(self, saved: Any, request: gr.Request) -> View:
        """A page load: the session the browser kept (if it can be trusted), else the bundled documents."""
        session = self.session(request)
        notice = self.sessions.restore(session, saved)
        if notice:
            gr.Warning(html.escape(notice))
        engine = self._engine(session)
        top = next((t.answer.hits[0] for t in reversed(session.conversation.turns) if t.answer.hits), None)
        source = self._source(engine, top, quiet=True) if engine and top else self._first_source(engine)
        return dataclasses.replace(
            self._documents(session), chat=session.conversation.messages(), source=source, **self._kept(session)
        )

    def respond(self, question: str, k: float, request: gr.Request) -> Iterator[View]:
        """Answer one chat turn, once the documents being read are ready (unless the person skips them)."""
        session = self.session(request)
        if not (question or "").strip():
            gr.Warning("Type a question about the article first.")
            yield View()
            return
        shown = session.conversation.messages()
        waited = False
        for names in self.sessions.waiting(session):
            waited = True
            asked = {"role": "user", "content": web.question_html(question)}
            wait = {"role": "assistant", "content": web.waiting_html(names)}
            yield View(chat=[*shown, asked, wait], question="", skip_wait=gr.update(visible=True))
        try:
            turn = self.sessions.ask(session, question, int(k), self._ask)
        except QuestionError as exc:
            gr.Warning(html.escape(str(exc)))  # the page renders a toast as HTML
            yield View(chat=shown, question=question, skip_wait=gr.update(visible=False))
            return
        except QAError as exc:
            yield View(chat=shown, question=question, skip_wait=gr.update(visible=False))  # as it was
            raise gr.Error(html.escape(str(exc))) from None
        if turn is None:
            gr.Warning("There is no document to ask: add one below first.")
            yield View(chat=shown, question=question, skip_wait=gr.update(visible=False))
            return
        engine = self._engine(session)
        hits = turn.answer.hits
        source = self._source(engine, hits[0]) if engine and hits else SKIP
        view = dataclasses.replace(
            self._documents(session), chat=session.conversation.messages(), question="", source=source
        )  # the documents too: those it waited for are listed as ready at once
        yield dataclasses.replace(view, skip_wait=gr.update(visible=False)) if waited else view

    def skip_wait(self, request: gr.Request) -> View:
        """Answer the waiting question now, without the documents still being read."""
        self.session(request).skip_wait.set()
        return View(skip_wait=gr.update(visible=False))

    def show_citation(self, request: gr.Request, selected: gr.SelectData) -> View:
        """The source panel for the quote the user clicked in the chat (anything else changes nothing)."""
        session = self.session(request)
        index = selected.index
        hit = session.conversation.hit_at(index) if isinstance(index, int) else None
        engine = self._engine(session)
        if hit is None or engine is None:
            return View()
        return View(source=self._source(engine, hit))

    def clear(self, request: gr.Request) -> View:
        session = self.session(request)
        self.sessions.clear(session)
        return View(chat=[], question="", source=self._first_source(self._engine(session)), **self._kept(session))

    def add_files(self, files: list[str] | None, request: gr.Request) -> View:
        """Queue uploaded files to be read, in the order chosen; each is listed, and asked once ready.

        Gradio keeps each upload under a folder of its own, with the name it was uploaded with.
        """
        session = self.session(request)
        self.sessions.add_files(session, [(Path(f), Path(f).name) for f in files or []])
        return dataclasses.replace(self._documents(session), files=None)

    def add_text(self, text: str | None, request: gr.Request) -> View:
        """Queue pasted text to be read as a document; the box is emptied once it is accepted."""
        session = self.session(request)
        accepted = self.sessions.add_text(session, text or "")
        return dataclasses.replace(self._documents(session), pasted="" if accepted else SKIP)

    def remove(self, names: list[str] | None, request: gr.Request) -> View:
        session = self.session(request)
        self.sessions.remove(session, names or [])
        return self._documents(session)

    def tick(self, request: gr.Request) -> View:
        """The documents' progress, when something changed since the page last showed it."""
        session = self.session(request)
        with session.lock:
            if session.version == self._shown.get(session.key):
                return View(timer=gr.Timer(active=bool(session.pending)))
        return self._documents(session)

    def unload(self, request: gr.Request) -> None:
        """The page was closed or reloaded: its session goes (the browser keeps what it needs)."""
        self.sessions.drop(request.session_hash or "")
        shutil.rmtree(EXPORTS / _folder(request.session_hash or ""), ignore_errors=True)
        self._shown.pop(request.session_hash or "", None)
        self._exported.pop(request.session_hash or "", None)

    def api_ask(
        self, question: str, k: int = DEFAULT_K, history: list[str | dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Answer a question about the bundled documents, in its conversation when ``history`` lists the
        earlier questions (oldest first): the same JSON object as `qa ask --json`."""
        try:
            return self._ask(self.engine, question, k, history or []).to_json()
        except QAError as exc:
            raise gr.Error(str(exc)) from None

    def _documents(self, session: Session) -> View:
        """The documents part of the page: the list (with those being read), status, header, choices."""
        with session.lock:
            version, listing, reading = session.version, session.listing(), session.reading()
            status, names, pending = session.status, [s.name for s in session.sources], bool(session.pending)
        engine = self._engine(session)
        header = web.describe(engine.documents, engine.titles(), len(engine.passages)) if engine else ""
        self._shown[session.key] = version
        return View(
            listing=web.documents_html(listing, reading),
            status=web.status_html(status),
            remove=gr.update(choices=[*names, *(r[0] for r in reading)], value=[]),
            header=header,
            timer=gr.Timer(active=pending),
            **self._kept(session),
        )

    def _kept(self, session: Session) -> dict[str, Any]:
        """The session for the browser to keep, and the conversation to download (written again, and sent
        to the page, only when its turns changed since this page last got them)."""
        turns = list(session.conversation.turns)
        kept: dict[str, Any] = {"saved": self.sessions.saved(session)}
        written = (len(turns), turns[-1] if turns else None)
        last = self._exported.get(session.key)
        if last is not None and last[0] == written[0] and last[1] is written[1]:
            return kept
        folder = EXPORTS / _folder(session.key)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "conversation.md").write_text(export.markdown(turns, "Ask the article"), encoding="utf-8")
        (folder / "conversation.jsonl").write_text(export.json_lines(turns), encoding="utf-8")
        self._exported[session.key] = written
        ready = gr.update(interactive=bool(turns))
        return {
            **kept,
            "markdown": gr.update(value=str(folder / "conversation.md"), **ready),
            "jsonl": gr.update(value=str(folder / "conversation.jsonl"), **ready),
        }

    def _engine(self, session: Session) -> Engine | None:
        """The engine over the session's documents (built when first asked); its failure, said plainly."""
        try:
            return self.sessions.engine(session)
        except QAError as exc:
            raise gr.Error(html.escape(str(exc))) from None

    @staticmethod
    def _first_source(engine: Engine | None) -> str:
        return web.source_html(engine.documents[0]) if engine else web.documents_html([])

    @staticmethod
    def _source(engine: Engine, hit: Hit, quiet: bool = False) -> Any:
        """The cited document in the source panel, the passage and its highlight marked."""
        try:
            document = engine.document(hit.passage.doc)
        except KeyError:
            if not quiet:
                gr.Warning(f"{html.escape(hit.passage.doc)} was removed from this conversation")
            return SKIP
        if document.text[hit.passage.start : hit.passage.end] != hit.text:
            if not quiet:
                gr.Warning(f"{html.escape(hit.passage.doc)} has changed since this answer; ask the question again")
            return SKIP
        return web.source_html(document, hit.passage, (hit.highlight.start, hit.highlight.end))

    def _ask(self, engine: Engine, question: str, k: int, history: list[Any]) -> Answer:
        """The engine's answer (its checks: the question's length, the history's form and cut)."""
        with self.gate.admit(), self.sessions.jobs.turns.answering():  # documents being read give way
            return engine.ask(question, k, history=history)


def check_ask(data: list[Any]) -> str | None:
    """What is wrong with the inputs of a call to ``/ask`` over HTTP (``[question, k, history]``), or None:
    the engine's own checks, made before the app reads the call."""
    if len(data) > 3:
        return f"/ask takes [question, k, history], not {len(data)} inputs"
    question, k, history = data
    try:
        check_question(question)
        check_history(history)
        check_k(k)
    except QuestionError as exc:
        return str(exc)
    return None


def _folder(session_hash: str) -> str:
    """A session's export folder name: its hash, or a digest of it when it holds other characters."""
    return session_hash if session_hash.isalnum() else hashlib.sha256(session_hash.encode()).hexdigest()[:32]


def wired(fn: Callable[..., Any], *names: str) -> tuple[Callable[..., Any], list[str]]:
    """``fn`` returning a ``View`` (or yielding them), as Gradio calls it with outputs ``names`` in order.

    A handler that sets a part of the page its event does not list fails loudly, in tests as in use.
    """

    def pick(view: View) -> Any:
        extra = [f.name for f in dataclasses.fields(view) if f.name not in names and getattr(view, f.name) is not SKIP]
        if extra:
            raise ValueError(f"{fn.__name__} changed {extra}, which its event does not list as outputs")
        values = tuple(gr.skip() if getattr(view, n) is SKIP else getattr(view, n) for n in names)
        return values[0] if len(values) == 1 else values  # Gradio takes a lone output's value as it is

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for view in fn(*args, **kwargs):
                yield pick(view)

        return stream, list(names)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return pick(fn(*args, **kwargs))

    return call, list(names)


DOCUMENTS = ("listing", "status", "remove", "header", "timer", "saved", "markdown", "jsonl")
KEPT = ("saved", "markdown", "jsonl")


def build(engine: Engine, handlers: Handlers | None = None) -> gr.Blocks:
    """The page, starting every session on ``engine``'s documents (``handlers`` over them, for tests)."""
    h = handlers or Handlers(Workspaces(engine))
    article = any(d.name == "harmonyos-smart-mobility.txt" for d in engine.documents)
    bundled = [(s.name, s.pages, s.passages, s.bundled) for s in h.workspaces.bundled]

    demo: gr.Blocks
    # Uploaded files are read once (then kept as text and vectors, see Workspaces): Gradio's copies go after a day.
    with gr.Blocks(title="Ask the article", fill_width=True, delete_cache=UPLOADS_KEPT) as demo:
        with gr.Column(elem_id="qa-header"):
            gr.HTML("<h1>Ask the article</h1>")
            header = gr.HTML(web.describe(engine.documents, engine.titles(), len(engine.passages)), elem_id="qa-what")
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
                skip_wait = gr.Button(
                    "Answer now, without the documents being read", visible=False, size="sm", elem_id="qa-skip-wait"
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
                with gr.Row():
                    markdown = gr.DownloadButton(
                        "Download conversation (Markdown)", interactive=False, size="sm", elem_id="qa-download-md"
                    )
                    jsonl = gr.DownloadButton(
                        "Download as JSON lines", interactive=False, size="sm", elem_id="qa-download-jsonl"
                    )
                if article:
                    gr.Examples([[q] for q in web.ARTICLE_EXAMPLES], inputs=[question], label="Try")
                with gr.Accordion("Your documents", open=True, elem_id="qa-documents"):
                    listing = gr.HTML(web.documents_html(bundled), elem_id="qa-doc-list")
                    status = gr.HTML("", elem_id="qa-doc-status")
                    with gr.Row():
                        files = gr.File(
                            label="Add documents (PDF, Word, HTML, text)",
                            file_count="multiple",  # any type: each file of another is refused by name
                            elem_id="qa-add",
                            scale=3,
                        )
                        with gr.Column(scale=2):
                            pasted = gr.Textbox(label="…or paste text", lines=3, elem_id="qa-paste")
                            add_text = gr.Button("Add text", elem_id="qa-add-text")
                    with gr.Row():
                        names = [s.name for s in h.workspaces.bundled]
                        remove = gr.Dropdown(names, multiselect=True, label="Remove", elem_id="qa-remove", scale=3)
                        remove_button = gr.Button("Remove", elem_id="qa-remove-button", scale=1)
            with gr.Column(scale=2, min_width=340):
                source = gr.HTML(Handlers._first_source(engine), label="The article", elem_id="qa-source")
        saved = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=STORAGE_KEY)
        timer = gr.Timer(TICK_SECONDS, active=False)
        parts = {
            "chat": chat, "question": question, "source": source, "listing": listing, "status": status,
            "remove": remove, "header": header, "pasted": pasted, "files": files, "saved": saved, "timer": timer,
            "skip_wait": skip_wait, "markdown": markdown, "jsonl": jsonl,
        }  # fmt: skip

        def on(triggers: Any, fn: Callable[..., Any], inputs: list[Any], outputs: tuple[str, ...], **kw: Any) -> Any:
            handler, names = wired(fn, *outputs)
            return gr.on(
                triggers=triggers if isinstance(triggers, list) else [triggers],
                fn=handler,
                inputs=inputs,
                outputs=[parts[n] for n in names],
                api_visibility="private",
                **kw,
            )

        on(demo.load, h.load, [saved], ("chat", "source", *DOCUMENTS))
        answered = on(
            [question.submit, send.click],
            h.respond,
            [question, k],
            ("chat", "question", "source", "skip_wait", *DOCUMENTS),
            concurrency_limit=CHAT_CONCURRENCY,
            js=web.JS_AFTER_UPLOADS,  # a file still uploading is told to the server first
        )
        answered.then(fn=None, js=web.JS_SHOW_ANSWER)
        on(skip_wait.click, h.skip_wait, [], ("skip_wait",), queue=False)
        shown = on(chat.select, h.show_citation, [], ("source",))
        shown.then(fn=None, js=web.JS_SHOW_CITATION)
        on([clear.click, chat.clear], h.clear, [], ("chat", "question", "source", *KEPT))
        on(files.upload, h.add_files, [files], ("files", *DOCUMENTS)).then(fn=None, js=web.JS_UPLOADS_TOLD)
        on([add_text.click, pasted.submit], h.add_text, [pasted], ("pasted", *DOCUMENTS))
        on(remove_button.click, h.remove, [remove], DOCUMENTS)
        on(timer.tick, h.tick, [], DOCUMENTS, show_progress="hidden", concurrency_limit=None)
        demo.unload(h.unload)
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
        js=web.JS_WATCH_UPLOADS,  # from the first moment: a file chosen before the page loaded its session
        footer_links=["api"],
        ssr_mode=False,
        max_file_size=per_file,
        app_kwargs={
            "middleware": [
                Middleware(BodyLimit, limit=MAX_BODY_BYTES, larger={UPLOAD_PATH: uploads}),
                Middleware(UploadQuota, path=UPLOAD_PATH, budget=per_file * UPLOAD_FILES_PER_WINDOW),
                # Hostile JSON gets a 4xx; /ask called over HTTP as before history was added, with
                # [question, k], still works; its inputs are checked before the app reads them.
                Middleware(ApiGuard, defaults={path: [None, DEFAULT_K, []] for path in ASK_PATHS}, check=check_ask),
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
