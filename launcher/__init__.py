"""``python -m launcher``: the whole loop on one machine (what ``make run`` runs).

The bot on SQLite, the LNN service, Prometheus with the shipped rules (windows shortened) and
Alertmanager with the shipped example config (pointed at the local bot), wired on loopback.
The pieces are plain functions so the end-to-end tests start the same peers the same way.
"""
