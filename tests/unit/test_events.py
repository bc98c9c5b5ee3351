"""The timeline vocabulary: every kind has a body, a writer, a thread decision and a line in
the postmortem; an unknown kind cannot be written; bodies survive the trip to JSON."""

from __future__ import annotations

import ast
import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.actor import Actor
from bot.domain.events import (
    BODY_FOR,
    BODY_TYPES,
    ActionApproval,
    AlertChanged,
    Event,
    EventKind,
    Note,
    SeverityChanged,
    decode,
    encode,
)
from bot.domain.incident import (
    IncidentStatus,
    TimelineEntry,
)
from bot.domain.timeline import GENESIS, next_entry
from bot.errors import UnknownEventKind
from bot.integrations.slack.messages import render_timeline_entry
from bot.integrations.slack.publisher import QUIET_KINDS, threaded
from bot.services.entry_text import describe
from bot.services.incidents.ingest_pagerduty import HANDLED
from bot.services.incidents.postmortem import render_postmortem
from bot.services.markdown import inline
from tests.fakes.memory.store import MemoryStore
from tests.support.incidents import incident as support_incident
from tests.support.store_builders import new_incident

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
# Kinds built from data rather than named: the PagerDuty event types and the incident status.
FAMILIES = {"for_pagerduty", "for_status"}


def _entry(kind: EventKind, seq: int = 1) -> TimelineEntry:
    sample = decode(kind, {})
    assert sample is not None
    stored_kind, body = encode(sample)
    return next_entry(
        prev_seq=seq - 1,
        prev_hash=GENESIS,
        incident_id=1,
        at=T0,
        actor=Actor.parse("slack:U0N"),
        kind=stored_kind,
        body=body,
    )


def _production_modules() -> dict[str, ast.Module]:
    files = [*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]
    events = ROOT / "bot" / "domain" / "events"
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text())
        for path in files
        if events not in path.parents
    }


def _names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names called, attributes read off ``EventKind``) in one module."""
    called: set[str] = set()
    kinds: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(node.func.id)
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "EventKind"
        ):
            kinds.add(node.attr)
    return called, kinds


def test_every_kind_has_exactly_one_body() -> None:
    owners = [kind for body in BODY_TYPES for kind in body.KINDS]
    assert sorted(owners) == sorted(EventKind)
    assert set(BODY_FOR) == set(EventKind)


def test_every_kind_has_a_writer() -> None:
    """A production module outside the vocabulary builds each kind's body: a one-kind body
    by calling its class; a family body by also naming the kind (or building it from the
    PagerDuty event type or the new status, each of which must map to a kind)."""
    modules = {path: _names(tree) for path, tree in _production_modules().items()}
    for event_type in HANDLED:
        EventKind.for_pagerduty(event_type)
    from_data = {EventKind.for_pagerduty(t) for t in HANDLED}
    from_data |= {EventKind.for_status(s.value) for s in IncidentStatus}
    for kind in EventKind:
        body = BODY_FOR[kind]
        family = len(body.KINDS) > 1
        writers = [
            path
            for path, (called, named) in modules.items()
            if body.__name__ in called
            and (
                not family
                or kind.name in named
                or (kind in from_data and called & FAMILIES | named & FAMILIES)
            )
        ]
        assert writers, f"nothing writes {kind}"


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_kind_has_a_line_and_a_thread_decision(kind: EventKind) -> None:
    entry = _entry(kind)
    line = describe(entry)
    assert line
    assert not line.startswith(kind.value), "a generic line: describe lacks a branch"
    if threaded(entry):
        assert line in render_timeline_entry(entry).text
    else:
        assert kind in QUIET_KINDS  # the explicit "not shown in the thread" decision


def test_every_kind_has_a_postmortem_line() -> None:
    incident = support_incident(id=1)
    timeline = [_entry(kind, seq) for seq, kind in enumerate(EventKind, start=1)]
    doc = render_postmortem(incident, [], timeline, now=T0)
    for entry in timeline:
        # A row of the timeline table: the kind and its line, as literal Markdown text.
        assert f"| {inline(entry.kind)} | {inline(describe(entry))} |" in doc


def test_writing_an_unknown_kind_fails() -> None:
    with pytest.raises(UnknownEventKind, match=re.escape("'commander.set' is not a timeline kind")):
        next_entry(
            prev_seq=0,
            prev_hash=GENESIS,
            incident_id=1,
            at=T0,
            actor=Actor.parse("slack:U0N"),
            kind="commander.set",
            body={"commander": "U0BOSS"},
        )


async def test_the_store_refuses_what_is_not_an_event() -> None:
    store = MemoryStore()
    async with store.transaction() as uow:
        incident = await uow.incidents.create(new_incident(created_at=T0))
        with pytest.raises(TypeError, match="not a timeline event body"):
            await uow.timeline.append(
                incident.id,
                at=T0,
                actor=Actor.parse("bot"),
                event={"kind": "note", "text": "x"},  # type: ignore[arg-type]
            )


def test_a_family_body_refuses_a_kind_outside_its_family() -> None:
    with pytest.raises(ValueError, match="cannot be a"):
        AlertChanged(kind=EventKind.NOTE, fingerprint="f", alertname="a", starts_at="", labels={})


def test_bodies_round_trip_through_the_stored_json() -> None:
    events: list[Event] = [
        Note(text="hi"),
        SeverityChanged(previous="P2", to="P1", rule="r", priority=None),
        ActionApproval(
            kind=EventKind.ACTION_APPROVED,
            action_id=3,
            approvals=2,
            approvals_required=2,
            snapshot={"replicas": 3},
            by="U1",
        ),
    ]
    for event in events:
        kind, body = encode(event)
        assert decode(kind, body) == event
    # The stored keys are the old ones: ``from``, and nothing for an absent value.
    assert encode(events[1]) == (
        EventKind.SEVERITY_CHANGED,
        {"from": "P2", "to": "P1", "rule": "r"},
    )


def test_decoding_is_lenient_and_unknown_kinds_decode_to_none() -> None:
    assert decode("something.new", {"a": 1}) is None
    note = decode("note", {"text": "x", "added_later": True})
    assert note == Note(text="x")
    empty = decode("severity.changed", {})
    assert isinstance(empty, SeverityChanged)
    assert dataclasses.astuple(empty)[:3] == ("", "", "")
