"""Periodic jobs of the API process (webhook delivery; later retention purge, overdue checks).

Each job runs in its own task: once after its first interval, then again `interval_s` after
the previous run ended, so a slow run is never overlapped by the next one. A failing run is
logged and the loop goes on. Stopping (on SIGTERM, when the lifespan ends) starts no new run,
gives a run in progress `grace_s` seconds to finish, then cancels it, and waits for every
task to end; a cancelled webhook delivery is sent again once its lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from core.errors import HomewardError

log = logging.getLogger("homeward.background")


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    name: str
    interval_s: float
    run: Callable[[], Awaitable[object]]


class PeriodicRunner:
    """Runs `jobs` until stopped; a job with an interval of 0 or less is switched off."""

    def __init__(self, jobs: Sequence[PeriodicJob], *, grace_s: float = 0.0) -> None:
        self.jobs = list(jobs)
        self.grace_s = grace_s
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    @property
    def running(self) -> list[str]:
        return [name for name, task in self._tasks.items() if not task.done()]

    def start(self) -> None:
        if not self._tasks:
            self._stopping.clear()
        for job in self.jobs:
            if job.interval_s > 0 and job.name not in self._tasks:
                self._tasks[job.name] = asyncio.create_task(
                    self._loop(job), name=f"periodic:{job.name}"
                )

    async def stop(self) -> None:
        tasks = dict(self._tasks)
        self._tasks.clear()
        self._stopping.set()
        if tasks and self.grace_s > 0:
            await asyncio.wait(tasks.values(), timeout=self.grace_s)
        for name, task in tasks.items():
            if not task.done():
                log.warning("periodic job %s cut off after %.0f s", name, self.grace_s)
                task.cancel()
        for task in tasks.values():
            # A run still going is interrupted at its next await; that is the point of stopping.
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if tasks:
            log.info("periodic jobs stopped")

    async def __aenter__(self) -> PeriodicRunner:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _loop(self, job: PeriodicJob) -> None:
        while not self._stopping.is_set():
            try:
                # Sleeps the interval, unless stopping wakes it first.
                await asyncio.wait_for(self._stopping.wait(), timeout=job.interval_s)
                return
            except TimeoutError:
                pass
            try:
                await job.run()
            except HomewardError as exc:
                # Expected trouble (Neo4j away): one line, no traceback; the next run retries.
                log.warning("periodic job %s failed: %s", job.name, exc.message)
            except Exception:
                # A bug in one run must not end the loop; the traceback names it (job code
                # keeps secrets out of its exception messages).
                log.exception("periodic job %s failed", job.name)
