"""The end of the incident's silences: ``/incident unsilence`` expires them in Alertmanager,
and ``sweep_ended`` (run periodically) notices those whose end time passed. Either way each
gets a ``silence.expired`` entry, the incident's ``silenced_until`` is cleared, and the
silenced alerts that stopped firing meanwhile are resolved (``silence_check``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.actor import BOT, Actor
from bot.domain.events import SilenceCreated, SilenceExpired
from bot.domain.incident import IncidentFilter
from bot.domain.silence import Matcher, SilenceState, read_matcher
from bot.errors import BadRequest, NotFound, UpstreamError
from bot.ports import Silences, Store, UnitOfWork
from bot.services.incidents.silence_check import END, UNSILENCE, Checked, check_after_silence
from bot.services.incidents.silence_entries import open_silences, stamp
from bot.services.transactions import in_transaction

# Open incidents read per query when looking for silences that ended.
_PAGE = 200


@dataclass(frozen=True, slots=True)
class Unsilenced:
    """The incident's silences that were expired now, those that had already ended, and
    what Alertmanager said of the silenced alerts after (``check_error`` when it could not
    be asked)."""

    incident_id: int
    expired: tuple[str, ...]
    already_ended: tuple[str, ...]
    checked: Checked | None = None
    check_error: str = ""


def _matcher_sets(made: Sequence[SilenceCreated]) -> list[tuple[Matcher, ...]]:
    sets: list[tuple[Matcher, ...]] = []
    for event in made:
        try:
            sets.append(tuple(read_matcher(m) for m in event.matchers))
        except ValueError:
            continue  # an entry some older version wrote differently: nothing to check by
    return sets


async def unsilence(
    store: Store, silences: Silences, incident_id: int, *, actor: Actor, now: datetime
) -> Unsilenced:
    """Expire every silence the incident's timeline holds that has not been recorded as
    expired, record ``silence.expired`` for each, then resolve the silenced alerts that
    stopped firing meanwhile; ``BadRequest`` when there is no silence."""
    async with store.transaction() as uow:
        if await uow.incidents.get(incident_id) is None:
            raise NotFound(f"there is no incident #{incident_id}")
        created = open_silences(await uow.timeline.for_incident(incident_id))
    if not created:
        raise BadRequest(f"incident #{incident_id} has no silence of firebreak's to expire")
    held = {s.id: s for s in await silences.list()}
    expired: list[str] = []
    ended: dict[str, datetime] = {}
    for silence_id in created:
        silence = held.get(silence_id)
        if silence is not None and silence.state is not SilenceState.EXPIRED:
            await silences.expire(silence_id)
            expired.append(silence_id)
        else:
            # Ended by its own end time or by someone in Alertmanager: recorded so.
            ended[silence_id] = silence.ends_at if silence is not None else now
    await _record_ended(store, incident_id, created, ended, now=now, actor=actor, until=None)
    result = Unsilenced(incident_id, tuple(expired), tuple(ended))
    try:
        checked = await check_after_silence(
            store,
            silences,
            incident_id,
            _matcher_sets(list(created.values())),
            now=now,
            after=UNSILENCE,
        )
    except UpstreamError as exc:
        return replace(result, check_error=str(exc))
    return replace(result, checked=checked)


async def _record_ended(
    store: Store,
    incident_id: int,
    created: dict[str, SilenceCreated],
    ended: dict[str, datetime],
    *,
    now: datetime,
    actor: Actor,
    until: datetime | None,
    only_if_due: bool = False,
) -> bool:
    """Record ``silence.expired`` for each of ``created`` (ended at ``ended``'s time, or
    now) and set ``silenced_until`` to ``until``. With ``only_if_due``, nothing when the
    incident's ``silenced_until`` is no longer past (another replica did it, or a new
    silence came meanwhile)."""

    async def record(uow: UnitOfWork) -> bool:
        current = await uow.incidents.get(incident_id, for_update=True)
        if current is None:
            raise NotFound(f"there is no incident #{incident_id}")
        held = current.silenced_until
        if only_if_due and (held is None or held > now):
            return False
        await uow.incidents.save(replace(current, silenced_until=until, updated_at=now))
        for silence_id, made in created.items():
            body = SilenceExpired(
                silence_id=silence_id,
                matchers=made.matchers,
                ends_at=stamp(ended.get(silence_id, now)),
                by=str(actor),
            )
            await uow.timeline.append(incident_id, at=now, actor=actor, event=body)
        return True

    return await in_transaction(store, record)


async def sweep_ended(store: Store, silences: Silences, *, now: datetime) -> list[int]:
    """For every open incident whose ``silenced_until`` has passed: record its silences
    that ended, and resolve the silenced alerts that stopped firing meanwhile. Safe on
    every replica at once. Answers the incidents it recorded."""
    due: list[int] = []
    before: int | None = None
    while True:
        async with store.transaction() as uow:
            page = await uow.incidents.list(
                IncidentFilter(open_only=True, limit=_PAGE, before_id=before)
            )
        due += [i.id for i in page if i.silenced_until is not None and i.silenced_until <= now]
        if len(page) < _PAGE:
            break
        before = min(i.id for i in page)
    return [i for i in sorted(due) if await _ended(store, silences, i, now)]


async def _ended(store: Store, silences: Silences, incident_id: int, now: datetime) -> bool:
    async with store.transaction() as uow:
        created = open_silences(await uow.timeline.for_incident(incident_id))
    held = {s.id: s for s in await silences.list()}
    ended: dict[str, datetime] = {}
    later: list[datetime] = []
    for silence_id in created:
        silence = held.get(silence_id)
        if silence is not None and silence.state is not SilenceState.EXPIRED:
            later.append(silence.ends_at)  # made longer in Alertmanager: still on
        else:
            ended[silence_id] = silence.ends_at if silence is not None else now
    done = {i: created[i] for i in ended}
    until = max(later) if later else None
    recorded = await _record_ended(
        store, incident_id, done, ended, now=now, actor=BOT, until=until, only_if_due=True
    )
    if recorded:
        await check_after_silence(
            store, silences, incident_id, _matcher_sets(list(done.values())), now=now, after=END
        )
    return recorded
