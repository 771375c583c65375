"""The pool that reads added documents: in order per owner, fair across owners, cancellable, bounded."""

from __future__ import annotations

import time

from qa.app.jobs import CANCELLED, DONE, FAILED, Job, Jobs
from qa.errors import QAError


def steps(n: int, log: list[str], name: str, pause: float = 0.002) -> object:
    def work(job: Job) -> str:
        for i in range(n):
            time.sleep(pause)
            job.report(i + 1, n)
        log.append(name)
        return name

    return work


def test_one_owners_jobs_run_in_the_order_chosen() -> None:
    jobs, log = Jobs(workers=2), []
    submitted = [jobs.submit(Job("a", f"a{i}", steps(5, log, f"a{i}"))) for i in range(4)]  # type: ignore[arg-type]
    assert all(j.wait(10) for j in submitted)
    assert log == ["a0", "a1", "a2", "a3"] and all(j.state == DONE for j in submitted)


def test_a_small_document_is_not_stuck_behind_other_owners_large_ones() -> None:
    jobs, log = Jobs(workers=1), []  # one CPU slot for all: they must take turns
    big = [jobs.submit(Job(o, o, steps(400, log, o))) for o in ("a", "b")]  # type: ignore[arg-type]
    time.sleep(0.05)
    small = jobs.submit(Job("c", "c", steps(3, log, "c")))  # type: ignore[arg-type]
    assert small.wait(10)
    assert not any(j.finished for j in big), "the small job waited for a large one to finish"
    assert all(j.wait(30) for j in big) and log[0] == "c"


def test_a_cancelled_job_stops_at_its_next_step_or_never_starts() -> None:
    jobs, log = Jobs(workers=1), []
    running = jobs.submit(Job("a", "big", steps(10_000, log, "big")))  # type: ignore[arg-type]
    queued = jobs.submit(Job("a", "next", steps(1, log, "next")))  # type: ignore[arg-type]
    time.sleep(0.05)
    jobs.cancel(queued)
    jobs.cancel(running)
    assert running.wait(10) and queued.wait(10)
    assert running.state == CANCELLED and queued.state == CANCELLED and log == []


def test_a_job_over_its_budget_or_failing_is_named_and_the_pool_goes_on() -> None:
    jobs, log = Jobs(workers=1), []
    slow = jobs.submit(Job("a", "slow.txt", steps(10_000, log, "slow"), budget=0.05))  # type: ignore[arg-type]

    def broken(job: Job) -> None:
        raise QAError("broken.pdf cannot be read")

    bad = jobs.submit(Job("b", "broken.pdf", broken))
    assert slow.wait(10) and bad.wait(10)
    assert slow.state == FAILED and "slow.txt took longer than 0 s" in (slow.error or "")
    assert "split it into smaller files" in (slow.error or "")
    assert bad.state == FAILED and bad.error == "broken.pdf cannot be read"
    after = jobs.submit(Job("a", "after", steps(1, log, "after")))  # type: ignore[arg-type]
    assert after.wait(10) and after.state == DONE


def test_jobs_give_way_while_questions_are_answered() -> None:
    jobs, log = Jobs(workers=1), []
    job = jobs.submit(Job("a", "doc", steps(200, log, "doc", pause=0.0)))  # type: ignore[arg-type]
    with jobs.turns.answering():
        time.sleep(0.2)
        progress = job.done_fraction
    assert job.wait(10) and progress < 0.1  # barely moved while the question ran
