"""``/incident page``: someone pages by hand, from the incident's channel.

The use case decides who is told and how, and records it as one ``page.requested`` entry
with the person as its actor; the notification publisher turns that entry into outbox rows
(pages, mentions, emails) in the same transaction. A way of telling people that firebreak has
no settings for is noted on the timeline once per incident (``note_unconfigured``).

A page goes to the member's PagerDuty service (or the default routing key) under a dedup key
of its own, so PagerDuty opens a new alert; that service's escalation policy decides whose
phone rings. An incident PagerDuty opened is not paged through PagerDuty again (its own
escalation policy pages for it); mentions and emails of someone still work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.escalation import Recipient, Via
from bot.domain.events import PageRequested, notified
from bot.domain.incident import Incident, IncidentStatus, Severity, Source
from bot.errors import BadRequest, NotFound
from bot.policy.escalation import RotationMember
from bot.policy.model import Policy
from bot.ports import Store, UnitOfWork
from bot.services.escalation.reach import Reach, note_unconfigured
from bot.services.transactions import in_transaction

# The member paged when the severity's path pages nobody at its first level.
DEFAULT_MEMBER = "primary"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Who to page: ``slack_user`` (the Slack user id of someone mentioned), ``who`` (a key
    of the policy's rotation), or neither: whom the severity's path pages first."""

    slack_user: str | None = None
    who: str | None = None


@dataclass(frozen=True, slots=True)
class PageResult:
    """What was recorded: who is told how, the rotation members among them, and the ways
    that are not configured (recorded, logged by their sender, and sent nowhere)."""

    incident: Incident
    recipients: tuple[Recipient, ...]
    members: tuple[RotationMember, ...]
    unconfigured: tuple[Via, ...]


def first_paged(policy: Policy, severity: Severity) -> tuple[RotationMember, ...]:
    """The rotation members the severity's path pages at its first level, else the
    ``primary`` member; ``()`` when the policy has neither."""
    level = policy.levels.get(severity)
    path = level.path if level is not None else ()
    keys = [n.who for n in path[0].notify if n.via is Via.PAGE] if path else []
    members = tuple(dict.fromkeys(policy.rotation[k] for k in keys if k in policy.rotation))
    if members:
        return members
    default = policy.rotation.get(DEFAULT_MEMBER)
    return (default,) if default is not None else ()


def rotation_members(
    rotation: Mapping[str, RotationMember], who: str
) -> tuple[RotationMember, ...]:
    """The member whose key is ``who`` (in any case), else the members whose pages go to the
    PagerDuty service named ``who`` (``/incident page lnn-service``); ``BadRequest`` naming
    the keys and services there are when there is none."""
    for key, member in rotation.items():
        if key.lower() == who.lower():
            return (member,)
    serving = tuple(
        m for m in rotation.values() if m.pagerduty and m.pagerduty.lower() == who.lower()
    )
    if serving:
        return serving
    if not rotation:
        raise BadRequest(
            f"`{who}` is not on call: the policy has no on-call rotation. "
            "Mention someone instead: `/incident page @name`"
        )
    keys = ", ".join(f"`{key}`" for key in rotation)
    services = sorted({m.pagerduty for m in rotation.values() if m.pagerduty})
    through = (
        f" (or a PagerDuty service: {', '.join(f'`{s}`' for s in services)})" if services else ""
    )
    raise BadRequest(
        f"`{who}` is not in the on-call rotation. Page one of {keys}{through}, "
        "or mention someone: `/incident page @name`"
    )


def member_recipients(member: RotationMember) -> tuple[Recipient, ...]:
    """A page to ``member`` (their PagerDuty service, or the default routing key) and a
    Slack mention of each of their Slack ids."""
    mentions = (Recipient(Via.SLACK, member.key, ident) for ident in member.slack)
    return (Recipient(Via.PAGE, member.key, member.pagerduty), *mentions)


def person_recipients(
    rotation: Mapping[str, RotationMember], slack_user: str
) -> tuple[tuple[Recipient, ...], tuple[RotationMember, ...]]:
    """A mention of ``slack_user``, and an email when a rotation member has that Slack id
    and an email address (the first such member)."""
    member = next((m for m in rotation.values() if slack_user in m.slack), None)
    if member is None:
        return (Recipient(Via.SLACK, slack_user, slack_user),), ()
    told = [Recipient(Via.SLACK, member.key, slack_user)]
    if member.email:
        told.append(Recipient(Via.EMAIL, member.key, member.email))
    return tuple(told), (member,)


def _recipients(
    policy: Policy, incident: Incident, request: PageRequest
) -> tuple[tuple[Recipient, ...], tuple[RotationMember, ...]]:
    if request.slack_user is not None:
        return person_recipients(policy.rotation, request.slack_user)
    if incident.source is Source.PAGERDUTY:
        raise BadRequest(
            f"Incident #{incident.id} came from PagerDuty: its escalation policy there pages "
            "for it, and firebreak does not page it again. Mention someone instead: "
            "`/incident page @name`"
        )
    if request.who is not None:
        members: tuple[RotationMember, ...] = rotation_members(policy.rotation, request.who)
    else:
        members = first_paged(policy, incident.severity)
        if not members:
            raise BadRequest(
                f"The policy names nobody to page for {incident.severity.value} (no "
                f"`{DEFAULT_MEMBER}` in its rotation). Mention someone: `/incident page @name`"
            )
    told = tuple(dict.fromkeys(r for m in members for r in member_recipients(m)))
    return told, members


async def page(
    store: Store,
    policy: Policy,
    incident_id: int,
    request: PageRequest,
    *,
    actor: Actor,
    at: datetime,
    reach: Reach,
) -> PageResult:
    """Record a page by hand of ``request`` on the incident, by ``actor``. Refused
    (``BadRequest``) for a resolved incident, someone the policy does not know, or a page
    through PagerDuty of an incident PagerDuty opened."""

    async def work(uow: UnitOfWork) -> PageResult:
        incident = await uow.incidents.get(incident_id, for_update=True)
        if incident is None:
            raise NotFound(f"there is no incident #{incident_id}")
        if incident.status is IncidentStatus.RESOLVED:
            raise BadRequest(
                f"incident #{incident.id} is resolved: nobody is paged for it. "
                "If it is back, declare a new one: `/incident declare TITLE`"
            )
        recipients, members = _recipients(policy, incident, request)
        await uow.timeline.append(
            incident.id, at=at, actor=actor, event=PageRequested(notified=notified(recipients))
        )
        vias = {r.via for r in recipients}
        await note_unconfigured(uow, incident.id, vias, reach, at=at)
        missing = tuple(sorted(via for via in vias if not reach.can(via)))
        return PageResult(incident, recipients, members, missing)

    return await in_transaction(store, work)
