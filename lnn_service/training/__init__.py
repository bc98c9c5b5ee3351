"""Training of the cart-pole CfC policy (needs the ``train`` extra: torch and onnx)."""
