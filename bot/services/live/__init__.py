"""Live updates: timeline entries, as every replica commits them, pushed to whoever follows
them (``feed``), in an order that never skips an entry still being committed (``order``)."""
