"""The graph of the incident's firing alert as an image in the incident's channel: the
outbox call a ``graph.attached`` entry becomes (``bot.integrations.slack.publisher``), with
the PNG the graph worker stored in the transaction that wrote the entry."""

from __future__ import annotations

from bot.domain.events import GraphAttached
from bot.domain.outbox import OutboundCall
from bot.integrations.slack import calls
from bot.text import escape

ALT_MAX = 1000


def _line(event: GraphAttached) -> str:
    if event.op and event.threshold is not None:
        return f"{event.expr} {event.op} {event.threshold:g}"
    return event.expr


def graph_filename(incident_id: int) -> str:
    return f"incident-{incident_id}-graph.png"


def graph_upload(incident_id: int, png: bytes, event: GraphAttached) -> OutboundCall:
    """``png`` shared into the incident's channel, with a line saying what it shows; the
    expression and alert name come from a payload, so they are escaped for mrkdwn."""
    alert = event.alert or "the firing alert"
    hours = event.window_minutes / 60
    span = "hour" if hours == 1 else f"{hours:g} hours"
    comment = f"Graph of *{escape(alert)}* over the last {span}: `{escape(_line(event))}`"
    if event.series > 1:
        comment += f" ({event.series} series)"
    alt = f"Line graph of {alert} over the last {span}: {_line(event)}"
    return calls.upload_file(
        incident_id,
        filename=graph_filename(incident_id),
        title=f"{alert}, incident #{incident_id}",
        content=png,
        initial_comment=comment,
        alt_text=alt[:ALT_MAX],
    )
