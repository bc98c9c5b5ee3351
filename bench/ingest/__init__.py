"""Alertmanager ingest benchmark: firebreak on SQLite and PostgreSQL against a no-op ceiling.

Run ``python -m bench.ingest --help``; what it measures and the figures are in
docs/ingest-benchmark.md. Modules: ``cli`` (options, CPU placement, main), ``targets``
(scenarios per server), ``generators`` (open and closed loop), ``progress`` (waiting for
processing), ``report``; ``servers``, ``load``, ``noop`` and ``wrk.lua`` are the processes and
scripts they start.
"""
