"""Parsed Alertmanager bodies are reused for the same bytes, bounded, and never for a body
that failed to parse."""

from __future__ import annotations

import json

import pytest

from bot.domain.incident import AlertGroup
from bot.errors import BadRequest
from bot.services.incidents.parsed_bodies import ParsedBodies
from handlers.alertmanager_schema import parse_alertmanager
from tests.support.payloads.alertmanager import alert, webhook


def _body(group: str, alerts: int = 1) -> bytes:
    payload = webhook(group, [alert("A", instance=f"i{n}") for n in range(alerts)])
    return json.dumps(payload).encode()


def test_the_same_bytes_parse_once() -> None:
    calls: list[bytes] = []

    def counting(body: bytes) -> AlertGroup:
        calls.append(body)
        return parse_alertmanager(body)

    bodies = ParsedBodies(counting)
    first = bodies.parse(_body("g1"))
    again = bodies.parse(_body("g1"))
    other = bodies.parse(_body("g2"))
    assert again is first
    assert other.group_key == "g2"
    assert len(calls) == 2
    assert bodies.hits == 1


def test_the_oldest_body_is_dropped_past_either_bound() -> None:
    bodies = ParsedBodies(parse_alertmanager, max_bodies=2, max_alerts=5)
    bodies.parse(_body("g1"))
    bodies.parse(_body("g2"))
    bodies.parse(_body("g3"))  # three bodies: g1 goes
    bodies.parse(_body("g2"))
    assert bodies.hits == 1
    bodies.parse(_body("g4", alerts=4))  # five alerts held at most: g3 and then g2 go
    bodies.parse(_body("g1"))
    bodies.parse(_body("g2"))
    assert bodies.hits == 1


def test_a_body_that_fails_to_parse_fails_every_time() -> None:
    bodies = ParsedBodies(parse_alertmanager)
    for _ in range(2):
        with pytest.raises(BadRequest):
            bodies.parse(b'{"version": "4"}')
    assert bodies.hits == 0
