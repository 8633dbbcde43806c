"""Group commit: concurrent requests share one database transaction, each keeps its outcome.

A request waits in a queue only while earlier groups are being stored; the next group takes
everything queued by then (at most ``max_batch``). At most ``max_concurrent`` groups are in
flight. The ``store`` function gets a whole group and returns one outcome per item, in order:
a result, or the exception that item's caller is to raise. Every caller is answered only
when ``store`` has returned, that is after the group's transaction has committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Coalesces concurrent :meth:`submit` calls into groups for ``store``.

    Attributes:
        batches: Groups handed to ``store`` so far.
        requests: Items in those groups.
    """

    def __init__(
        self,
        store: Callable[[Sequence[Item]], Awaitable[list[Result | BaseException]]],
        *,
        max_batch: int = 64,
        max_concurrent: int = 2,
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._max_concurrent = max_concurrent
        self._queue: list[tuple[Item, asyncio.Future[Result | BaseException]]] = []
        self._drains: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.requests = 0

    async def submit(self, item: Item) -> Result:
        """Queue ``item`` for the next group and wait for its outcome.

        Raises:
            BaseException: whatever ``store`` gave as this item's outcome, or the error of
                ``store`` itself if it failed as a whole.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result | BaseException] = loop.create_future()
        self._queue.append((item, future))
        if len(self._drains) < self._max_concurrent:
            task = asyncio.create_task(self._drain())
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        # shield: a caller that goes away does not cancel the group others are waiting on.
        outcome = await asyncio.shield(future)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def close(self) -> None:
        """Wait for the groups in flight (at shutdown, before the engine is disposed)."""
        while self._drains:
            await asyncio.gather(*self._drains, return_exceptions=True)

    async def _drain(self) -> None:
        # One turn of the event loop first: requests whose bodies arrived together join.
        await asyncio.sleep(0)
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            self.batches += 1
            self.requests += len(batch)
            outcomes: list[Result | BaseException]
            try:
                outcomes = await self._store([item for item, _ in batch])
            except Exception as error:  # the group failed as a whole
                outcomes = [error] * len(batch)
            except BaseException:  # cancelled at shutdown: nobody is left to answer
                for _, future in batch + self._queue:
                    future.cancel()
                self._queue.clear()
                raise
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
