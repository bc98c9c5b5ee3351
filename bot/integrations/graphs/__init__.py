"""Metric graphs: the PNG drawn with matplotlib (``render``) and the ``MetricGraphs`` port
over the configured Prometheus (``source``)."""
