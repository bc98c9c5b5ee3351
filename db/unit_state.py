"""What one transaction remembers between its statements: writes held back to be sent many
rows at a time, and what it already knows, so that it does not ask the database again.

The inbox processor applies dozens of deliveries per transaction, and each one used to cost
about twenty statements; a statement costs more in SQLAlchemy and the driver than the
database spends on it (docs/ingest-benchmark.md). So:

- **Held-back writes.** Inserts and updates whose result the caller does not need (timeline
  entries, outbox rows, a delivery's settlement, new alert episodes, timers) wait here and go
  out as one multi-row statement per table: before the next statement that reads their table,
  or before commit. An error of theirs (a duplicate) surfaces there, inside the transaction,
  which then rolls back as a whole (``Conflict`` retries it).
- **What the transaction knows.** Rows it created, locked or wrote are read back from here:
  nobody else can change them before it commits. Incidents created in it have no timeline,
  alerts or timers but its own, so those need no query at all.

Only the repositories of ``db/repositories/`` use this; the ports say which of their writes may
be held back (the ``*_later`` methods and ``TimelineRepository.append``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from bot.domain.escalation import Timer
from bot.domain.incident import AlertEpisode, EpisodeState, Incident
from db.errors import translated

# Called with the rows a held-back insert returned (``RETURNING``), in no particular order.
RowsSink = Callable[[list[Row[Any]], list[dict[str, Any]]], Awaitable[None] | None]


@dataclass
class _Batch:
    statement: Executable
    rows: list[dict[str, Any]] = field(default_factory=list)
    sink: RowsSink | None = None


@dataclass
class HeldWrites:
    """Writes waiting for the next read of their table, or for the commit; per table, in the
    order they were made."""

    _by_table: dict[str, dict[int, _Batch]] = field(default_factory=dict)

    def add(
        self,
        table: str,
        statement: Executable,
        row: dict[str, Any],
        sink: RowsSink | None = None,
    ) -> None:
        batches = self._by_table.setdefault(table, {})
        batch = batches.get(id(statement))
        if batch is None:
            batch = batches[id(statement)] = _Batch(statement, sink=sink)
        batch.rows.append(row)

    def holds(self, table: str) -> bool:
        return bool(self._by_table.get(table))

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The rows held for ``table``, in the order they were held (to be read as if sent)."""
        return [row for batch in self._by_table.get(table, {}).values() for row in batch.rows]

    async def flush(self, conn: AsyncConnection, tables: Collection[str] | None = None) -> None:
        """Send what waits for ``tables`` (every table: ``None``), in the order it was held.

        Tables are sent in the order their first write was held: a held row only ever refers
        to rows written before it (an incident's entries after the incident)."""
        names = (
            list(self._by_table) if tables is None else [t for t in tables if t in self._by_table]
        )
        for name in names:
            batches = self._by_table.pop(name, None)
            if not batches:
                continue
            for batch in batches.values():
                async with translated():
                    result = await conn.execute(batch.statement, batch.rows)
                if batch.sink is not None:
                    done = batch.sink(list(result), batch.rows)
                    if done is not None:
                        await done


@dataclass
class Known:
    """What this transaction knows for certain about rows it created, locked or wrote."""

    # Incidents created in this transaction: theirs are only the rows it wrote itself.
    created: set[int] = field(default_factory=set)
    # Incidents no one else can change before commit (created or locked here; on SQLite every
    # one read, since its transactions run one at a time), as this transaction last saw them.
    incidents: dict[int, Incident] = field(default_factory=dict)
    # The newest incident id of a group key (None: the group has none), read under lock.
    latest: dict[str, int | None] = field(default_factory=dict)
    episode_keys: dict[int, tuple[str, datetime]] = field(default_factory=dict)
    # What intake needs of episodes by key (a batch's, read at once); None: not stored.
    states: dict[tuple[str, datetime], EpisodeState | None] = field(default_factory=dict)
    # Episodes whose insert is held back, by key: a read of one sends them first.
    episodes_held: set[tuple[str, datetime]] = field(default_factory=set)
    # The complete episode list of incidents created here, once their held inserts are sent.
    episodes_of: dict[int, list[AlertEpisode]] = field(default_factory=dict)
    # Every timer of an incident created here, once their held inserts are sent.
    timers_of: dict[int, list[Timer]] = field(default_factory=dict)
    timers_held: set[int] = field(default_factory=set)
    runs: dict[int, int] = field(default_factory=dict)
    # The last (seq, hash) of an incident's timeline.
    heads: dict[int, tuple[int, str]] = field(default_factory=dict)
    # Open incidents of a set of scenarios (inhibition's candidates), until an incident of one
    # of them is created or saved.
    open_in: dict[frozenset[str], list[Incident]] = field(default_factory=dict)

    # Storm intake: the open storms by key (None: not read yet), the storm candidates of a
    # service since an instant, incidents that stopped being candidates (promoted, merged),
    # and the incident each group's newest episode lives in.
    open_storms: dict[str, int] | None = None
    recent: dict[str, tuple[datetime, list[Incident]]] = field(default_factory=dict)
    not_candidates: set[int] = field(default_factory=set)
    group_homes: dict[str, int | None] = field(default_factory=dict)

    def saved(self, incident: Incident) -> None:
        """Keep the storm knowledge true after ``incident`` was saved as given."""
        if incident.storm_key is not None or incident.merged_into is not None:
            self.not_candidates.add(incident.id)
        if self.open_storms is None:
            return
        if incident.storm_key is not None and incident.status.is_open:
            self.open_storms.setdefault(incident.storm_key, incident.id)
        for key, storm_id in list(self.open_storms.items()):
            if storm_id == incident.id and (
                incident.storm_key != key or not incident.status.is_open
            ):
                del self.open_storms[key]

    def remember_incident(self, incident: Incident) -> None:
        self.incidents[incident.id] = incident
        self._drop_open_in(incident)

    def forget_incident(self, incident: Incident) -> None:
        self.incidents.pop(incident.id, None)
        self._drop_open_in(incident)

    def _drop_open_in(self, incident: Incident) -> None:
        """Forget the open-incident lists ``incident`` is, or may now be, one of."""
        for scenarios, found in list(self.open_in.items()):
            if incident.scenario in scenarios or any(i.id == incident.id for i in found):
                del self.open_in[scenarios]


@dataclass
class UnitState:
    """The held writes and the knowledge of one transaction, shared by its repositories."""

    held: HeldWrites = field(default_factory=HeldWrites)
    known: Known = field(default_factory=Known)
