"""Metric graphs of an incident's firing alert: wanted when a P0/P1 incident opens from
Alertmanager (``reactor``), drawn once by the graph worker outside any transaction and
recorded in one (``attach``, ``worker``), and drawn on demand for the incident page
(``on_demand``); which alert and what to ask is ``choice``."""
