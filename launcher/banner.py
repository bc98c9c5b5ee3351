"""The first lines the launcher prints: where everything listens, the web page's sign-in
link, how to call the API, the drills, and which of the team's own settings are in use."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from launcher.layout import Layout
from launcher.load import Load
from launcher.plan import Plan
from launcher.sign_in import sign_in_link


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def banner(plan: Plan, layout: Layout, environ: Mapping[str, str], load: Load | None) -> str:
    """The text; it names the API token's source rather than printing the secret."""
    env_file = _shown(layout.env_file)
    bot = plan.bot.url
    if environ.get("FIREBREAK_API_TOKEN"):
        token = "$FIREBREAK_API_TOKEN"  # noqa: S105 (the shell expands it)
    else:
        token = f"$(sed -n 's/^FIREBREAK_API_TOKEN=//p' {env_file})"
    traffic = (
        f"~{load.inferences_per_second:,.0f} inferences/s of background traffic"
        if load
        else "no background traffic (--no-load)"
    )
    slack = (
        "your workspace (SLACK_BOT_TOKEN is set)"
        if environ.get("SLACK_BOT_TOKEN")
        else "not configured: each card and thread message is printed in the bot's log"
    )
    kube = (
        f"KUBECONFIG={environ['KUBECONFIG']}: approved actions change that cluster"
        if environ.get("KUBECONFIG")
        else "not configured: remediation requests are refused"
    )
    paging = (
        "PAGERDUTY_ROUTING_KEY is set: pages go to PagerDuty"
        if environ.get("PAGERDUTY_ROUTING_KEY")
        else "not configured: pages are printed in the bot's log (the timeline says so)"
    )
    email = (
        "FIREBREAK_SMTP_URL is set: escalation emails are sent"
        if environ.get("FIREBREAK_SMTP_URL")
        else "not configured: emails are printed in the bot's log"
    )
    database = (
        "FIREBREAK_DATABASE_URL from your environment"
        if environ.get("FIREBREAK_DATABASE_URL")
        else f"SQLite, {_shown(layout.database)}"
    )
    drill = "firebreak" if environ.get("VIRTUAL_ENV") else ".venv/bin/firebreak"
    # A ticket signed with the API token, not the token: it signs a browser in for a day.
    web = (
        f"{sign_in_link(plan.public_url, plan.api_token)}  (signs this browser in; valid a day)"
        if plan.api_token
        else "set FIREBREAK_API_TOKEN to sign in"
    )
    return f"""\
firebreak: the whole loop on loopback (Ctrl-C stops everything)
  bot           {bot}  (/healthz, /readyz, /metrics; webhooks from the Alertmanager below)
  web page      {web}
  API           curl -s -H "Authorization: Bearer {token}" {bot}/api/incidents
  LNN service   {plan.lnn.url}  ({traffic})
  Prometheus    {plan.prometheus.url}/alerts  (the shipped rules, windows shortened)
  Alertmanager  {plan.alertmanager.url}  (the shipped example config, sending to the bot)
  secrets       {env_file}  (generated on the first run, mode 0600)
  logs          {_shown(layout.logs)}/  (and below, one prefix per component)
  database      {database}
  Slack         {slack}
  Kubernetes    {kube}
  PagerDuty     {paging}
  Email         {email}
Drills (in another terminal; an incident opens within about a minute, --off resolves it):
  {drill} drill latency     p99 above 100 ms -> LNNHighLatency (P1)
  {drill} drill errors      5 % of requests fail -> LNNHighErrorRate
  {drill} drill down        the service answers 503 -> LNNServiceDown (P0)
  {drill} drill --off       lift every drill
"""
