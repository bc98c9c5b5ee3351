"""Alertmanager ingest benchmark: firebreak on SQLite and PostgreSQL against a no-op ceiling.

Run ``python -m bench.ingest --help``; what it measures and the figures are in
docs/ingest-benchmark.md. Modules: ``cli`` (options, CPU placement, main), ``targets``
(scenarios per server), ``scenarios`` (large groups, storm, latency), ``bodies`` (what is
sent), ``generators`` (open and closed loop), ``progress`` (waiting for processing),
``database`` (what firebreak stored), ``report`` and ``report_scenarios``; ``servers``,
``load``, ``noop``, ``fake_slack`` and ``wrk.lua`` are the processes and scripts they start.
"""
