"""Cutting slow clients: a deadline for each request head and a rate floor for its body.

aiohttp's server has no header or body read timeout of its own (``keepalive_timeout`` only
closes a connection idle between requests), so both servers (the bot and the LNN service)
put this in front of it. It imports nothing of the project.
"""
