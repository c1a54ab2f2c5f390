"""Long polls without polling: a request that waits for a record to reach an outcome reads it
again only when the record changed, and answers as soon as it is done or its wait ends.

Whoever commits a change calls `ChangeFeed.notify(key)` right after the commit, from any thread
(`Database.on_commit` does it for every transaction, see the issuer). A waiting request is a
coroutine on the server's event loop: it holds no thread while it waits, and each of its reads
runs in the threadpool on a `Database.read()` session, which takes no writer lock. It listens to
its key before it reads, so a change committed while it reads still wakes it: no notification
is lost between the read and the wait, and there is no timer to catch one that was.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


class _Listener:
    """One waiting request: woken (from any thread) through its own event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._changed = asyncio.Event()

    def wake(self) -> None:
        with suppress(RuntimeError):  # its loop is closed: the request is gone
            self._loop.call_soon_threadsafe(self._changed.set)

    async def changed(self, timeout: float) -> bool:
        """Whether a change came within `timeout` seconds (since the last one seen)."""
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            return False
        self._changed.clear()  # before the next read: a change after it wakes this again
        return True


class ChangeFeed:
    """Keys of changed records -> the requests waiting on them, in one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, set[_Listener]] = {}
        self._closed = False

    def notify(self, *keys: str) -> None:
        """The records of `keys` changed (call it once the change is committed): wake the
        requests waiting on them. Callable from any thread; cheap when no one waits."""
        with self._lock:
            woken = [listener for key in keys for listener in self._listeners.get(key, ())]
        for listener in woken:
            listener.wake()

    def close(self) -> None:
        """The service is stopping: every wait ends now, answering the state then, and no later
        request waits (so a shutdown does not wait out the long polls in flight)."""
        with self._lock:
            self._closed = True
            woken = [listener for listeners in self._listeners.values() for listener in listeners]
        for listener in woken:
            listener.wake()

    @contextmanager
    def _listening(self, key: str) -> Iterator[_Listener]:
        listener = _Listener(asyncio.get_running_loop())
        with self._lock:
            self._listeners.setdefault(key, set()).add(listener)
        try:
            yield listener
        finally:
            with self._lock:
                listeners = self._listeners.get(key)
                if listeners is not None:
                    listeners.discard(listener)
                    if not listeners:
                        del self._listeners[key]

    async def observe(self, key: str, read: Callable[[], T], done: Callable[[T], bool], wait: float) -> T:
        """`read()` (in the threadpool) the record `key` names; read it again each time `key` is
        notified, until `done(answer)` or `wait` seconds have passed; answer the last read."""
        if wait <= 0 or self._closed:
            return await run_in_threadpool(read)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        with self._listening(key) as listener:
            while True:
                answer = await run_in_threadpool(read)
                remaining = deadline - loop.time()
                if done(answer) or remaining <= 0 or self._closed:
                    return answer
                if not await listener.changed(remaining):
                    return await run_in_threadpool(read)  # the wait is over: the state now
