"""Documents added in the page are read and embedded here, off the request path: a bounded pool of worker
threads fed by one queue per owner (a browser session), taken in turn, so that one session's documents are
read in the order chosen and a small document is never stuck behind another session's large one.

Jobs of different owners run side by side, but only as many compute at once as there are CPU slots
(``Turns``: one per core); at every step (a batch of texts embedded) a job hands its slot to a job that
has waited for one, and every job gives way while questions are being answered, so answering keeps
priority over embedding. A ``Job`` can be cancelled (the person removed the document) and reports its
progress; its work checks ``Job.check`` between steps, which stops it when cancelled or past its budget.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..errors import QAError

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
MAX_RUNNING = 8  # jobs (of different owners) under way at once, taking turns on the CPU slots


class CancelledError(QAError):
    """The job was cancelled while it ran (its document was removed)."""


@dataclass(eq=False)
class Job:
    """One document to read and embed for ``owner``; ``work`` gets the job (for ``check``/``report``)."""

    owner: str
    name: str
    work: Callable[[Job], Any]
    budget: float | None = None  # seconds the work may take once started
    done: Callable[[Job], None] | None = None  # called once the job has finished, however it ended
    state: str = QUEUED
    result: Any = None
    error: str | None = None
    done_fraction: float = 0.0
    started: float | None = None
    _cancel: threading.Event = field(default_factory=threading.Event)
    _finished: threading.Event = field(default_factory=threading.Event)
    _turns: Turns | None = None

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the job finished (done, failed or cancelled) within ``timeout`` seconds."""
        return self._finished.wait(timeout)

    def report(self, done: int, total: int) -> None:
        """Progress of the work (``done`` of ``total`` steps); stops it when cancelled or over budget."""
        self.done_fraction = done / total if total else 1.0
        self.check()
        if self._turns is not None:
            self._turns.step()

    def check(self) -> None:
        if self.cancelled:
            raise CancelledError(f"{self.name} was removed while it was read")
        if self.budget is not None and self.started is not None and time.monotonic() - self.started > self.budget:
            raise QAError(
                f"{self.name} took longer than {self.budget:.0f} s to read and index, the most one document "
                "may; split it into smaller files and add them one by one"
            )


class Turns:
    """``slots`` holders compute at once; the others wait in order of arrival. ``step`` hands the slot
    on when someone waits for one (and waits while questions are answered: ``answering``)."""

    QUESTION_WAIT = 0.05  # the longest a step waits for questions to finish (embedding still moves on)

    def __init__(self, slots: int) -> None:
        self._free = max(1, slots)
        self._waiting: deque[object] = deque()
        self._questions = 0
        self._cond = threading.Condition()

    def acquire(self) -> None:
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
            self._cond.wait_for(lambda: self._free > 0 and self._waiting[0] is ticket)
            self._waiting.popleft()
            self._free -= 1
            self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._free += 1
            self._cond.notify_all()

    def step(self) -> None:
        """Between two steps of work: give the slot to whoever waits for one, and way to questions."""
        with self._cond:
            if self._questions:
                self._cond.wait_for(lambda: self._questions == 0, self.QUESTION_WAIT)
            if not self._waiting:
                return
        self.release()
        self.acquire()

    @contextmanager
    def answering(self) -> Iterator[None]:
        """While a question is answered, jobs pause at their next step (for at most ``QUESTION_WAIT``)."""
        with self._cond:
            self._questions += 1
        try:
            yield
        finally:
            with self._cond:
                self._questions -= 1
                self._cond.notify_all()


class Jobs:
    """Runs jobs one at a time per owner, owners in turn: up to ``running`` at once in threads of their
    own, ``workers`` of them computing at a time (one per core, ``Turns``)."""

    def __init__(self, workers: int, running: int = MAX_RUNNING) -> None:
        self.workers = max(1, workers)
        self.running = max(self.workers, running)
        self.turns = Turns(self.workers)
        self._queues: OrderedDict[str, deque[Job]] = OrderedDict()
        self._busy: set[str] = set()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []

    def submit(self, job: Job) -> Job:
        job._turns = self.turns
        with self._cond:
            self._queues.setdefault(job.owner, deque()).append(job)
            if len(self._threads) < self.running:
                thread = threading.Thread(target=self._run, name=f"qa-jobs-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._cond.notify()
        return job

    def cancel(self, job: Job) -> None:
        """Stop ``job``: at once if it is still queued, at its next step if it runs."""
        job.cancel()
        with self._cond:
            queue = self._queues.get(job.owner)
            if queue is not None and job in queue:
                queue.remove(job)
                job.state = CANCELLED
                if not queue:
                    del self._queues[job.owner]
            else:
                return
        self._finish(job)

    def _next(self) -> Job:
        """The first queued job of the first owner (in turn) with nothing running; waits for one."""
        with self._cond:
            while True:
                for owner, queue in self._queues.items():
                    if queue and owner not in self._busy:
                        job = queue.popleft()
                        self._busy.add(owner)
                        self._queues.move_to_end(owner)  # the next job goes to another owner first
                        if not queue:
                            del self._queues[owner]
                        return job
                self._cond.wait()

    def _run(self) -> None:
        while True:
            job = self._next()
            self.turns.acquire()
            job.state, job.started = RUNNING, time.monotonic()
            try:
                job.check()
                job.result = job.work(job)
                job.state = DONE
            except CancelledError:
                job.state = CANCELLED
            except QAError as exc:
                job.state, job.error = FAILED, str(exc)
            except Exception as exc:  # a bug must not kill the worker; the page names the file and the error
                job.state, job.error = FAILED, f"{job.name} could not be read ({type(exc).__name__}: {exc})"
            finally:
                self.turns.release()
                with self._cond:
                    self._busy.discard(job.owner)
                    self._cond.notify_all()
                self._finish(job)

    @staticmethod
    def _finish(job: Job) -> None:
        try:
            if job.done is not None:
                job.done(job)
        finally:
            job._finished.set()
