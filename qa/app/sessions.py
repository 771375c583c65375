"""The browser sessions on the server: each one's documents changed in order, questions that wait for the
documents being read, and the session as the browser keeps it between visits.

Every change to a session — a file chosen, text pasted, a document removed, a turn answered, a document
finished reading — is made under that session's lock on its one record (``qa.chat.Session``), so no
action is lost to another made meanwhile. Added documents are read and embedded by ``qa.jobs`` off the
request path, one at a time per session in the order chosen; a document removed while it is read is
cancelled and stays removed.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .. import settings
from ..answering.engine import Engine
from ..answering.results import Answer
from ..documents.corpus import Document
from ..errors import QAError
from .chat import Conversation, Session, Turn, searched
from .jobs import CANCELLED, FAILED, Job, Jobs
from .saved import Signer
from .workspace import Source, Workspaces, safe_name

MAX_SESSIONS = 1000  # sessions kept on the server (the least recently used go first)
STATUS_LINES = 6  # status lines shown under the documents
Ask = Callable[[Engine, str, int, list[Any]], Answer]


class Sessions:
    """Every page load's session, by Gradio's session hash; one shared library and pool of readers."""

    def __init__(
        self,
        workspaces: Workspaces,
        jobs: Jobs | None = None,
        signer: Signer | None = None,
        uploads: Path | None = None,
    ) -> None:
        """``uploads``: the folder where the web server keeps uploaded files; a file there is deleted
        once read (its text stays in the library, by content hash)."""
        self.workspaces = workspaces
        self.uploads = uploads.resolve() if uploads else None
        self.jobs = jobs or Jobs(settings.workers())
        self.signer = signer or Signer(workspaces.base.root)
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Session:
        """The session ``key`` (a new one on the bundled documents when there is none)."""
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = Session(key, self.workspaces.bundled)
            self._sessions.move_to_end(key)
            while len(self._sessions) > MAX_SESSIONS:
                self._stop(self._sessions.popitem(last=False)[1])
        return session

    def drop(self, key: str) -> None:
        """Forget session ``key`` (its page was closed); documents still being read for it are cancelled."""
        with self._lock:
            session = self._sessions.pop(key, None)
        if session is not None:
            self._stop(session)

    def _stop(self, session: Session) -> None:
        with session.lock:
            pending = list(session.pending)
        for job in pending:
            self.jobs.cancel(job)

    def engine(self, session: Session) -> Engine | None:
        """The engine over the session's documents as they are now (None without any)."""
        with session.lock:
            sources = session.sources
        return self.workspaces.engine(sources)

    # Documents -----------------------------------------------------------------------------------

    def add_files(self, session: Session, files: Sequence[tuple[Path, str]]) -> None:
        """Queue uploaded files (path, name as uploaded) to be read, in this order, after any being read."""
        for path, original in files:
            self._queue(session, original, functools.partial(self._read_file, path))

    def add_text(self, session: Session, text: str) -> bool:
        """Queue pasted text to be read as a document of its own; False (and a status line) if refused."""
        if not text.strip():
            with session.lock:
                self._say(session, "Not added: the pasted text is empty; paste some text first")
            return False
        return self._queue(session, "Pasted text", lambda name: self.workspaces.read_text(text, name))

    def _read_file(self, path: Path, name: str) -> Document:
        try:
            return self.workspaces.read_file(path, name)
        finally:
            if self.uploads is not None and path.resolve().is_relative_to(self.uploads):
                path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # the folder the server made for this upload, if now empty

    def _queue(self, session: Session, original: str, read: Callable[[str], Document]) -> bool:
        with session.lock:
            try:
                name = self.workspaces.reserve(session.sources, original, [j.name for j in session.pending])
            except QAError as exc:
                self._say(session, f"Not added: {exc}")
                return False

            def work(job: Job) -> Source:
                document = read(name)
                job.check()
                return self.workspaces.embed(document, job.report)

            job = Job(session.key, name, work, float(settings.index_seconds()), done=self._finished(session))
            session.pending.append(job)
            session.skip_wait.clear()
            self._say(session, f"{name}: waiting to be read…")
        self.jobs.submit(job)
        return True

    def _finished(self, session: Session) -> Callable[[Job], None]:
        def done(job: Job) -> None:
            with session.lock:
                if job in session.pending:
                    session.pending.remove(job)
                if job.state == CANCELLED or job.cancelled:
                    self._say(session, f"{job.name}: removed before it was read.")
                elif job.state == FAILED:
                    self._say(session, f"Not added: {job.error}")
                else:
                    session.sources = (*session.sources, job.result)
                    self._say(session, f"Added {job.name}; ask away.")

        return done

    def remove(self, session: Session, names: Sequence[str]) -> None:
        """Take the documents ``names`` out of the session; any of them being read is cancelled."""
        gone = set(names)
        with session.lock:
            if not gone:
                self._say(session, "Choose documents to remove first.")
                return
            session.sources = tuple(s for s in session.sources if s.name not in gone)
            cancelled = [j for j in session.pending if j.name in gone]
            self._say(session, f"Removed {', '.join(names)}.")
        for job in cancelled:
            self.jobs.cancel(job)

    @staticmethod
    def _say(session: Session, line: str) -> None:
        session.status = [*session.status, line][-STATUS_LINES:]
        session.changed()

    # Questions -----------------------------------------------------------------------------------

    def waiting(self, session: Session, poll: float = 0.25) -> Iterator[list[str]]:
        """While documents are being read for ``session`` (and the person has not chosen to skip them),
        yields their names every ``poll`` seconds."""
        session.skip_wait.clear()
        while True:
            with session.lock:
                pending = [j for j in session.pending if not j.finished]
            if not pending or session.skip_wait.is_set():
                return
            yield [j.name for j in pending]
            pending[0].wait(poll)

    def ask(self, session: Session, question: str, k: int, ask: Ask) -> Turn | None:
        """Answer ``question`` from the session's documents as they are now, in its conversation, and keep
        the turn; None when the session holds no document."""
        with session.lock:
            sources, history = session.sources, session.conversation.history()
            left_out = tuple(j.name for j in session.pending)
        engine = self.workspaces.engine(sources)
        if engine is None:
            return None
        answer = ask(engine, question, k, history)
        names, article = searched(sources)
        turn = Turn(answer, names, article, left_out)
        with session.lock:
            session.conversation.turns.append(turn)
            session.changed()
        return turn

    def clear(self, session: Session) -> None:
        with session.lock:
            session.conversation = Conversation()
            session.changed()

    # Kept in the browser ---------------------------------------------------------------------------

    def saved(self, session: Session) -> dict[str, Any]:
        """The session as the browser keeps it: its documents by content hash, its turns, signed."""
        with session.lock:
            documents = [(s.name, s.sha256, s.bundled) for s in session.sources]
            return self.signer.dump(documents, session.conversation)

    def restore(self, session: Session, saved: Any) -> str | None:
        """Bring back the documents and conversation the browser kept; a notice when some or all of it
        could not be (its documents are gone from the library, or it cannot be trusted)."""
        kept = self.signer.load(saved)
        if kept is None:
            return None
        if kept.problem is not None:
            return kept.problem
        sources: list[Source] = []
        lost: list[str] = []
        for name, sha256, bundled in kept.documents:
            source = self.workspaces.source(safe_name(name, [s.name for s in sources]), sha256, bundled)
            (sources.append(source) if source is not None else lost.append(name))
        with session.lock:
            session.sources, session.conversation = tuple(sources), kept.conversation
            session.changed()
        if lost:
            return f"Not restored (no longer kept here; add them again): {', '.join(lost)}."
        return None
