"""The LNN model service: a CfC liquid network for cart-pole control, served from ONNX.

Imports nothing of the bot. Start it with ``firebreak lnn serve`` (see docs/lnn.md).
"""
