"""Parsed Alertmanager bodies, remembered by their bytes.

Alertmanager re-sends a group's whole notification every ``group_interval`` (and an HA pair
sends each twice), usually byte for byte the same: a group of 1,000 alerts costs ~50 ms to
parse, far more than applying it again changes nothing. Parsing depends only on the bytes,
so the result of the same bytes is reused. Bounded by entries and by alerts held, oldest
dropped first; keyed by a digest, so the bodies themselves are not kept.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from bot.domain.incident import AlertGroup

MAX_BODIES = 64
MAX_ALERTS = 50_000


class ParsedBodies:
    """An LRU of parsed bodies; ``parse`` raises what the parser raises, and a body that
    failed to parse is not remembered."""

    def __init__(
        self,
        parse: Callable[[bytes], AlertGroup],
        *,
        max_bodies: int = MAX_BODIES,
        max_alerts: int = MAX_ALERTS,
    ) -> None:
        self._parse = parse
        self._max_bodies = max_bodies
        self._max_alerts = max_alerts
        self._groups: OrderedDict[bytes, AlertGroup] = OrderedDict()
        self._alerts = 0
        self.hits = 0

    def parse(self, body: bytes) -> AlertGroup:
        key = hashlib.blake2b(body, digest_size=20).digest()
        group = self._groups.get(key)
        if group is not None:
            self._groups.move_to_end(key)
            self.hits += 1
            return group
        group = self._parse(body)
        if len(group.alerts) <= self._max_alerts:
            self._groups[key] = group
            self._alerts += len(group.alerts)
            while len(self._groups) > self._max_bodies or self._alerts > self._max_alerts:
                _, dropped = self._groups.popitem(last=False)
                self._alerts -= len(dropped.alerts)
        return group
