"""Journey slots (synthgate.e2e.slots): `e2e.parallel` journeys work at once; one in a wait lends its slot."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from synthgate.e2e.slots import Slot, Slots

T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: a session's sync Playwright may hold this thread's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=30)


async def _journeys(waits: dict[str, bool], work_s: float = 0.05) -> tuple[dict[str, float], int, Slots]:
    slots = Slots(2)
    loop = asyncio.get_running_loop()
    begun = loop.time()
    started: dict[str, float] = {}
    working = [0, 0]  # now, most at once

    async def journey(name: str, lends: bool) -> None:
        async with Slot(slots) as slot:
            started[name] = loop.time() - begun
            working[0] += 1
            working[1] = max(working)
            if lends:
                with slot.waiting(), slot.waiting():  # nested: lent once
                    working[0] -= 1
                    await asyncio.sleep(0.2)
                    working[0] += 1
                    working[1] = max(working)
            await asyncio.sleep(work_s)
            working[0] -= 1

    await asyncio.gather(*(journey(name, lends) for name, lends in waits.items()))
    return started, working[1], slots


def test_a_waiting_journey_lends_its_slot_and_every_slot_comes_back() -> None:
    started, most, slots = _run(_journeys({"landing": True, "intake": False, "toggle": False}, work_s=0.3))
    assert list(started) == ["landing", "intake", "toggle"]
    assert started["toggle"] < 0.1  # it started while landing waited, not when a slot's work ended (0.3 s)
    assert most == 3  # landing took its slot back at once while both others worked: briefly n + 1
    assert (slots._free, slots._lent) == (2, 0)


def test_without_a_wait_the_third_journey_waits_for_a_slot() -> None:
    async def run() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await _journeys({"a": False, "b": False, "c": False})
        return loop.time() - started

    assert _run(run()) >= 0.1  # two rounds of 0.05 s: c waited for a or b


def test_a_journey_cancelled_while_it_waits_for_a_slot_takes_none() -> None:
    async def run() -> Slots:
        slots = Slots(1)
        holder = Slot(slots)
        await holder.__aenter__()
        waiting = asyncio.ensure_future(Slot(slots).__aenter__())
        await asyncio.sleep(0.01)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await holder.__aexit__()
        return slots

    slots = _run(run())
    assert slots._free == 1 and not slots._waiting
