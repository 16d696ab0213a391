"""One pool of worker processes for every hardware job of a report.

The co-simulations and the synthesis runs of all hardware sections are
independent jobs: they go into one pool of ``workers`` processes (two: each
Verilator, Yosys and nextpnr run is single-threaded) and run longest first
(each job carries an estimated cost), so a core is never idle while
another section's jobs wait, and the longest runs do not come last. A
section adds its jobs, the pool runs them all, then each section builds its
record from its jobs' results.

A job may answer :data:`BUSY` when the other worker has claimed the same
cache entry (two codings whose circuits are the same hardware; see
:func:`claimed`): it is put back at the end of the queue and finds the entry
made when it comes round again; with nothing else left to run it waits for
the entry instead.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

__all__ = ["JobPool", "Job", "BUSY", "WORKERS", "claimed"]

#: worker processes of a report (each tool run is single-threaded)
WORKERS = 2

#: a job's answer when the other worker is computing the same cache entry now
BUSY = "busy: the other worker is computing the same cache entry"


@dataclass(eq=False)
class Job:
    """One job: ``fn(*args, may_defer=…)`` in a worker process (``fn`` at module level).

    ``task`` is the progress task it belongs to, ``name`` what it is, ``cost``
    its estimated CPU-seconds (only their order matters).
    """

    fn: object
    args: tuple
    task: str
    name: str
    cost: float
    result: object = None
    done: bool = False
    deferred: int = 0
    order: int = field(default=0, repr=False)


def claimed(plans, may_defer, run):
    """``run()`` while holding the claim of every synthesis plan in ``plans``
    (:meth:`~spikeforge.synth.flow.Plan.claim`), or :data:`BUSY` if another process holds one
    and the job may step aside; otherwise it runs (and waits for the entry if need be)."""
    with contextlib.ExitStack() as stack:
        mine = [stack.enter_context(p.claim()) for p in plans]
        if may_defer and not all(mine):
            return BUSY
        return run()


def _call(fn, args, may_defer):
    return fn(*args, may_defer=may_defer)


class JobPool:
    """Jobs of every section, run by :meth:`run` in ``workers`` processes, longest first.

    Parameters
    ----------
    workers : int
    progress : callable
        Called as ``progress(name, done, total, task=task)`` as each job finishes, and as
        ``progress("still running: …")`` naming the running jobs and their time so far when
        none has finished for ``heartbeat`` seconds (a synthesis run can take minutes).
    heartbeat : float
    """

    def __init__(self, workers=WORKERS, progress=lambda *a, **k: None, heartbeat=60):
        self.workers = workers
        self.progress = progress
        self.heartbeat = heartbeat
        self.jobs = []
        self._tasks = {}

    def add(self, fn, args, *, task, name, cost):
        """Queue ``fn(*args, may_defer=…)``; returns the :class:`Job` (its ``result`` is set by
        :meth:`run`)."""
        job = Job(fn, tuple(args), task, name, float(cost), order=len(self.jobs))
        self.jobs.append(job)
        self._tasks.setdefault(task, [0, 0])[1] += 1
        return job

    def run(self):
        """Run every job not run yet, longest first; the first job that raises stops the run
        (the jobs already running finish) and its exception propagates."""
        queue = sorted((j for j in self.jobs if not j.done), key=lambda j: (-j.cost, j.order))
        if not queue:
            return
        running = {}
        with ProcessPoolExecutor(max_workers=self.workers) as ex:
            def start():
                while queue and len(running) < self.workers:
                    job = queue.pop(0)
                    # a job may step aside for another only while there is another to run
                    running[ex.submit(_call, job.fn, job.args, bool(queue))] = job
                    since[job] = time.monotonic()
            since = {}
            try:
                start()
                while running:
                    finished, _ = wait(running, timeout=self.heartbeat, return_when=FIRST_COMPLETED)
                    if not finished:
                        now = time.monotonic()
                        self.progress("still running: " + "; ".join(
                            f"{j.name} ({now - since[j]:.0f} s)" for j in running.values()))
                        continue
                    for fut in finished:
                        job = running.pop(fut)
                        res = fut.result()
                        if isinstance(res, str) and res == BUSY:
                            job.deferred += 1
                            queue.append(job)
                            continue
                        job.result, job.done = res, True
                        count = self._tasks[job.task]
                        count[0] += 1
                        self.progress(job.name, count[0], count[1], task=job.task)
                    start()
            except BaseException:
                queue.clear()
                for fut in running:
                    fut.cancel()
                raise
