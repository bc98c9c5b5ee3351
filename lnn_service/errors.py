"""The service's own exception tree; :mod:`lnn_service.http_errors` maps it to statuses."""

from __future__ import annotations


class LnnError(Exception):
    """Base of every error the LNN service raises on purpose."""


class BadInput(LnnError):
    """The request body is malformed; the message names the problem (HTTP 400)."""


class BatchTooLarge(LnnError):
    """More rows than the configured cap (HTTP 413)."""


class Unauthorized(LnnError):
    """Missing or wrong admin bearer token (HTTP 401)."""


class NotReady(LnnError):
    """No model is loaded, or a drill fault is injecting errors (HTTP 503)."""


class InferenceFailed(LnnError):
    """onnxruntime raised while computing a batch (HTTP 500)."""


class NotSupported(LnnError):
    """The request cannot be honoured in this configuration (HTTP 409)."""


class RegistryError(LnnError):
    """A model version cannot be loaded: unknown, escaping the directory, or tampered."""


class IntegrityError(RegistryError):
    """A file's sha256 differs from the manifest."""


class UnsafePath(RegistryError):
    """A path escapes the registry directory or is a symlink."""
