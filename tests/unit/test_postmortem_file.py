"""The postmortem as the file ``/incident postmortem`` queues (made in the requesting
transaction, stored in its outbox row): a long timeline keeps its first and last entries and
says where the whole one is, while the document of ``GET /api/incidents/{id}/postmortem``
keeps every entry; and a title ending in ``#`` keeps it in the heading."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.events import Note
from bot.integrations.slack.files import UPLOAD
from bot.integrations.slack.postmortem import TIMELINE_ROWS_MAX
from bot.integrations.slack.publisher import SlackPublisher
from bot.policy.model import Policy
from bot.services.incidents.postmortem import load_postmortem, render_facts, request_postmortem
from bot.services.publishing import PublishingStore
from tests.fakes.memory.store import MemoryStore
from tests.support.markdown import parse
from tests.support.store_builders import new_incident

ALICE = Actor.parse("slack:U0ALICE")
NOTES = TIMELINE_ROWS_MAX + 500
HEADER = ["Time (UTC)", "Actor", "Kind", "What happened"]


def _timeline_rows(document: str) -> list[list[str]]:
    (table,) = [t for t in parse(document).tables if t[0] == HEADER]
    return table[1:]


async def test_the_file_of_a_long_timeline_keeps_its_ends_and_points_to_the_whole(
    policy: Policy, clock: FixedClock
) -> None:
    memory = MemoryStore()
    store = PublishingStore(
        memory, SlackPublisher(policy=policy, clock=clock, triage_channel="C0TRIAGE")
    )
    async with memory.transaction() as uow:
        incident = await uow.incidents.create(new_incident(created_at=clock.now()))
        for n in range(1, NOTES + 1):
            at = clock.now() + timedelta(seconds=n)
            await uow.timeline.append(incident.id, at=at, actor=ALICE, event=Note(text=f"n{n}"))
    clock.advance(NOTES + 60)
    await request_postmortem(store, incident.id, actor=ALICE, at=clock.now())
    async with memory.transaction() as uow:
        (row,) = [m for m in await uow.outbox.list() if m.call.method == UPLOAD]
    document = str(row.call.args["content"])

    entries = NOTES + 1  # and the request, last
    whole = f"GET /api/incidents/{incident.id}/postmortem"
    half = TIMELINE_ROWS_MAX // 2
    assert (
        f"The first {half:,} and the last {half:,} of {entries:,} entries; "
        f"the whole timeline is at {whole}."
    ) in parse(document).paragraphs
    rows = _timeline_rows(document)
    assert len(rows) == TIMELINE_ROWS_MAX + 1
    gap = rows[half]
    left_out = entries - TIMELINE_ROWS_MAX
    assert gap == ["…", "", "", f"… {left_out:,} more entries: see {whole}"]
    notes = [row[3] for row in rows if row[2] == "note"]
    assert notes[:half] == [f"Note: n{n}" for n in range(1, half + 1)]
    assert notes[half:] == [f"Note: n{n}" for n in range(NOTES - half + 2, NOTES + 1)]
    assert rows[-1][2] == "postmortem.requested"

    # The route's document is the whole record.
    served = render_facts(await load_postmortem(memory, incident.id), now=clock.now())
    assert len(_timeline_rows(served)) == entries


async def test_a_title_ending_in_a_hash_keeps_it_in_the_heading(
    policy: Policy, clock: FixedClock
) -> None:
    memory = MemoryStore()
    for title in ("Disk full on node #", "Queue ##", "#", "trailing \\#"):
        async with memory.transaction() as uow:
            made = await uow.incidents.create(new_incident(title=title, group_key=title))
        document = render_facts(await load_postmortem(memory, made.id), now=clock.now())
        assert parse(document).headings[0] == (1, f"Postmortem: incident #{made.id}: {title}")
