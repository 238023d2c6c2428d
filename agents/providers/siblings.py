"""Sibling calls: model calls that a caller issues together because none needs another's reply.

`gather_siblings(coroutines)` runs them concurrently (like `asyncio.gather`, results in order) and
marks each task with the group it belongs to. A provider that can serve several requests in one
pass (the embedded model decodes them as parallel sequences, see `local_batch`) asks
`current_group()` and waits until every sibling still running has sent its request, then serves
them together; any other provider simply sees concurrent calls. The group knows how many siblings
are still running, so a batch is formed by the program's structure, never by a timer: the same run
forms the same batches, and the embedded model's replies stay reproducible.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_GROUP: contextvars.ContextVar[SiblingGroup | None] = contextvars.ContextVar("grandrounds_sibling_group", default=None)


class SiblingGroup:
    """The siblings still running, and a hook the provider uses to learn when one finishes."""

    def __init__(self, size: int) -> None:
        self.live = size
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def finished_one(self) -> None:
        self.live -= 1
        for listener in list(self._listeners):
            listener()


def current_group() -> SiblingGroup | None:
    return _GROUP.get()


async def gather_siblings(coroutines: list[Awaitable[T]]) -> list[T]:
    """Run `coroutines` concurrently as one sibling group; results in the given order. A failing
    sibling cancels none of the others (their results are still wanted), and its error is raised
    once all have finished."""
    if len(coroutines) <= 1:
        return [await c for c in coroutines]
    group = SiblingGroup(len(coroutines))

    async def member(coroutine: Awaitable[T]) -> T:
        _GROUP.set(group)  # this task's own context: the caller's is untouched
        try:
            return await coroutine
        finally:
            group.finished_one()

    results: list[Any] = await asyncio.gather(*(member(c) for c in coroutines), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
