"""The timeline's hash chain: each entry's hash covers its content and the previous hash,
so editing or deleting any entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.domain.actor import Actor
from bot.domain.events.kinds import known_kind
from bot.domain.incident import JSON, TimelineEntry
from bot.errors import IntegrityViolation, UnknownEventKind

GENESIS = "0" * 64


def canonical_time(at: datetime) -> str:
    """UTC, microseconds, fixed width: the same string whichever database stored the time."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *, prev_hash: str, incident_id: int, seq: int, at: datetime, actor: Actor, kind: str, body: JSON
) -> str:
    """The entry's hash. The actor enters as its stored ``source:id`` text, so entries hash
    the same whether they were written before actors were typed or after."""
    payload = json.dumps(
        [prev_hash, incident_id, seq, canonical_time(at), str(actor), kind, body],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def verify_chain(entries: Iterable[TimelineEntry]) -> None:
    """Raise ``IntegrityViolation`` naming the first entry that does not chain."""
    prev = GENESIS
    expected_seq = 1
    for entry in entries:
        if entry.seq != expected_seq:
            raise IntegrityViolation(
                f"incident {entry.incident_id}: entry {expected_seq} is missing (found {entry.seq})"
            )
        if entry.prev_hash != prev:
            raise IntegrityViolation(
                f"incident {entry.incident_id}: entry {entry.seq} does not follow entry {entry.seq - 1}"
            )
        recomputed = entry_hash(
            prev_hash=entry.prev_hash,
            incident_id=entry.incident_id,
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            kind=entry.kind,
            body=entry.body,
        )
        if recomputed != entry.hash:
            raise IntegrityViolation(
                f"incident {entry.incident_id}: entry {entry.seq} was altered after it was written"
            )
        prev = entry.hash
        expected_seq += 1


def next_entry(
    *,
    prev_seq: int,
    prev_hash: str,
    incident_id: int,
    at: datetime,
    actor: Actor,
    kind: str,
    body: JSON,
) -> TimelineEntry:
    """The entry after (``prev_seq``, ``prev_hash``), numbered and hashed; ``(0, GENESIS)``
    starts a chain.

    The body is normalised as a JSON column gives it back (``default=str`` for anything JSON
    cannot hold), so the hash covers exactly what a reader will see. A ``kind`` outside the
    timeline vocabulary raises ``UnknownEventKind``: readers would not know what it means."""
    if known_kind(kind) is None:
        raise UnknownEventKind(f"incident {incident_id}: {kind!r} is not a timeline kind")
    seq = prev_seq + 1
    at = at.astimezone(UTC)
    stored: JSON = json.loads(json.dumps(body, default=str))
    digest = entry_hash(
        prev_hash=prev_hash,
        incident_id=incident_id,
        seq=seq,
        at=at,
        actor=actor,
        kind=kind,
        body=stored,
    )
    return TimelineEntry(incident_id, seq, at, actor, kind, stored, prev_hash, digest)
