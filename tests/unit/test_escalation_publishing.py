"""The publishing store with several publishers: called in order with the transaction's own
entries, never with what a publisher wrote, and its commit hooks run after a commit only."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.domain.actor import Actor
from bot.domain.events import Note
from bot.domain.incident import TimelineEntry
from bot.ports import UnitOfWork
from bot.services.publishing import PublishingStore
from tests.fakes.memory.store import MemoryStore
from tests.support.store_builders import T0, new_incident

ALICE = Actor("slack", "U0ALICE")


class Seen:
    """A publisher that notes what it was handed and, if asked, writes a note of its own."""

    def __init__(self, name: str, log: list[tuple[str, list[str]]], *, writes: bool = False):
        self.name = name
        self.log = log
        self.writes = writes

    async def publish(
        self, uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry]
    ) -> None:
        self.log.append((self.name, [e.body.get("text", e.kind) for e in entries]))
        if self.writes:
            await uow.timeline.append(
                incident_id, at=T0, actor=ALICE, event=Note(text=f"from {self.name}")
            )


class Boom(Exception):
    pass


async def note_then_fail(store: PublishingStore) -> None:
    async with store.transaction() as uow:
        incident = await uow.incidents.create(new_incident(group_key="other"))
        await uow.timeline.append(incident.id, at=T0, actor=ALICE, event=Note(text="lost"))
        raise Boom


async def test_publishers_are_called_in_order_and_never_see_what_a_publisher_wrote() -> None:
    log: list[tuple[str, list[str]]] = []
    commits: list[str] = []
    inner = MemoryStore()
    store = PublishingStore(
        inner,
        [Seen("first", log, writes=True), Seen("second", log)],
        after_commit=lambda: commits.append("outbox"),
    )
    store.on_commit(lambda: commits.append("escalation"))
    async with store.transaction() as uow:
        incident = await uow.incidents.create(new_incident())
        await uow.timeline.append(incident.id, at=T0, actor=ALICE, event=Note(text="hello"))

    assert log == [("first", ["hello"]), ("second", ["hello"])]
    assert commits == ["outbox", "escalation"]
    async with inner.transaction() as raw:
        texts = [e.body["text"] for e in await raw.timeline.for_incident(incident.id)]
    assert texts == ["hello", "from first"]


async def test_one_publisher_still_works_and_hooks_wait_for_a_commit() -> None:
    log: list[tuple[str, list[str]]] = []
    commits: list[str] = []
    store = PublishingStore(
        MemoryStore(), Seen("only", log), after_commit=lambda: commits.append("x")
    )
    async with store.transaction() as uow:
        await uow.incidents.create(new_incident())
    assert (log, commits) == ([], [])  # nothing appended: nothing published, nothing woken

    with pytest.raises(Boom):
        await note_then_fail(store)
    assert (log, commits) == ([], [])
