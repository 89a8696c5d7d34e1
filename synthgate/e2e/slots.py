"""Journey slots: `e2e.parallel` journeys work in the browser at once, and a journey that only waits lends its
slot to the next one meanwhile.

A slot bounds work (CPU in the renderers, the driver and this process), not time: while a journey sits in a
quiet window (its page's web vitals settling) it uses none. It takes its slot back the moment the wait ends,
without queueing (a step's own time limit must not depend on other journeys), so at most `n` slots are lent at
once: never more than 2n journeys work together, and only briefly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Slots:
    """`n` places for journeys at work, shared by the journeys of one run (one event loop)."""

    def __init__(self, n: int) -> None:
        self._n = n
        self._free = n
        self._lent = 0
        self._waiting: list[asyncio.Future[None]] = []

    async def take(self) -> None:
        """Wait for a free place and hold it (first come, first served)."""
        while self._free <= 0:
            woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(woken)
            try:
                await woken
            except asyncio.CancelledError:
                if woken in self._waiting:
                    self._waiting.remove(woken)
                elif not woken.cancelled():
                    self._wake()  # woken, then cancelled: the next in line gets the place
                raise
        self._free -= 1

    def give(self) -> None:
        """Free a place held."""
        self._free += 1
        self._wake()

    def _wake(self) -> None:
        if self._free > 0 and self._waiting:
            self._waiting.pop(0).set_result(None)

    def lend(self) -> bool:
        """Free a held place for the length of a wait (False: `n` are lent already, keep it)."""
        if self._lent >= self._n:
            return False
        self._lent += 1
        self.give()
        return True

    def take_back(self) -> None:
        """Hold a lent place again at once (briefly more than `n` may work)."""
        self._lent -= 1
        self._free -= 1


class Slot:
    """One journey's claim on `Slots` (none: the journey runs alone and has nothing to lend)."""

    def __init__(self, slots: Slots | None = None) -> None:
        self._slots = slots
        self._held = False
        self._lent = False

    async def __aenter__(self) -> Slot:
        if self._slots is not None:
            await self._slots.take()
            self._held = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._held and self._slots is not None:
            self._held = False
            self._slots.give()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Lend the slot while the block only waits (a journey not yet started may work meanwhile)."""
        if not self._held or self._lent or self._slots is None or not self._slots.lend():
            yield  # nothing held, or lent already by an enclosing wait
            return
        self._lent = True
        try:
            yield
        finally:
            self._lent = False
            self._slots.take_back()
