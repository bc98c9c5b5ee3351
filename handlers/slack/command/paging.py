"""``/incident page`` and ``/incident oncall``: the Slack side of paging by hand and of who
is on call (the use cases are ``bot.services.incidents.page`` and ``.oncall``)."""

from __future__ import annotations

from bot.domain.actor import Actor
from bot.errors import BadRequest
from bot.services.incidents.lookup import incident_for
from bot.services.incidents.oncall import who_is_on_call
from bot.services.incidents.page import PageRequest, page
from handlers.deps import Deps
from handlers.slack.command import commands as cmd
from handlers.slack.replies import oncall_text, page_text


async def run_page(deps: Deps, command: cmd.Page, *, actor: Actor, channel: str) -> str:
    """Page for the incident of ``channel``; a channel of no incident is refused."""
    try:
        incident_id = await incident_for(deps.store, None, channel=channel)
    except BadRequest:
        raise BadRequest(
            "`/incident page` pages for the incident of the channel it is typed in: "
            "type it in the incident's channel"
        ) from None
    result = await page(
        deps.store,
        deps.policy,
        incident_id,
        PageRequest(slack_user=command.user_id, who=command.who),
        actor=actor,
        at=deps.clock.now(),
        reach=deps.reach,
    )
    return page_text(result)


async def run_oncall(deps: Deps, command: cmd.OnCall) -> str:
    """Who is on call: PagerDuty's answer, or the policy's rotation, saying which."""
    answer = await who_is_on_call(deps.oncall, deps.policy.rotation, command.service)
    return oncall_text(answer, command.service)
