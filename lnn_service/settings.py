"""The service's settings: one frozen object, built from the environment at start-up."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from httpguard.clock import Limits
from lnn_service.errors import LnnError

DEFAULT_MODEL_DIR = Path(__file__).parent / "models"

log = logging.getLogger(__name__)
T = TypeVar("T")

# Durations are named for their unit (issue 14). The old names are still read, the new one
# winning when both are set, with a warning naming the new one.
RENAMED = {
    "LNN_HEADER_TIMEOUT": "LNN_HEADER_TIMEOUT_SECONDS",
    "LNN_BODY_GRACE": "LNN_BODY_GRACE_SECONDS",
}


class SettingsError(LnnError):
    """An environment variable has an unusable value."""


def _renamed(env: Mapping[str, str], name: str) -> str:
    """``name``, or the old name it replaces when only that one is set."""
    old = next((o for o, new in RENAMED.items() if new == name), None)
    if old is not None and env.get(old) not in (None, "") and env.get(name) in (None, ""):
        return old
    return name


def _read(env: Mapping[str, str], name: str, convert: Callable[[str], T], what: str) -> T | None:
    """The value of ``name`` through ``convert``; ``None`` when it is unset or empty."""
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        return convert(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be {what}, got {raw!r}") from exc


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    value = _read(env, name, int, "an integer")
    if value is None:
        return default
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    name = _renamed(env, name)
    value = _read(env, name, float, "a number")
    if value is None:
        return default
    if not value >= minimum or value == float("inf"):
        raise SettingsError(
            f"{name} must be a finite number of at least {minimum}, got {env[name]}"
        )
    return value


def _boolean(raw: str) -> bool:
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(raw)


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _read(env, name, _boolean, "a boolean")
    return default if value is None else value


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from outside; see docs/lnn.md for each variable."""

    host: str = "127.0.0.1"
    port: int = 8090
    model_dir: Path = DEFAULT_MODEL_DIR
    model_version: str | None = None  # None: the newest version in model_dir
    admin_token: str | None = None  # None: admin endpoints refuse every request
    max_batch: int = 65536  # rows per /inference/batch request
    micro_batch: int = 1024  # rows per onnxruntime call when batching single requests
    ort_threads: int = 1
    batch_threads: int = 2  # intra-op threads for large /inference/batch requests
    batch_offload_rows: int = 512  # from this many rows a batch runs off the event loop
    workers: int = 1
    fast_path: bool = True
    # Slow clients: seconds for a request head, and the body's floor in bytes a second after
    # a grace period (see httpguard); slower connections are closed and counted.
    header_timeout: float = 5.0
    body_min_rate: float = 1024.0
    body_grace: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        for old in sorted(RENAMED):
            if env.get(old) not in (None, ""):
                log.warning("setting %s is deprecated: rename it to %s", old, RENAMED[old])
        token = env.get("LNN_ADMIN_TOKEN") or None
        return cls(
            host=env.get("LNN_HOST", cls.host),
            port=_int(env, "LNN_PORT", cls.port, minimum=0),
            model_dir=Path(env.get("LNN_MODEL_DIR") or DEFAULT_MODEL_DIR),
            model_version=env.get("LNN_MODEL_VERSION") or None,
            admin_token=token,
            max_batch=_int(env, "LNN_MAX_BATCH", cls.max_batch),
            micro_batch=_int(env, "LNN_MICRO_BATCH", cls.micro_batch),
            ort_threads=_int(env, "LNN_ORT_THREADS", cls.ort_threads),
            batch_threads=_int(env, "LNN_BATCH_THREADS", cls.batch_threads),
            batch_offload_rows=_int(env, "LNN_BATCH_OFFLOAD_ROWS", cls.batch_offload_rows),
            workers=_int(env, "LNN_WORKERS", cls.workers),
            fast_path=_bool(env, "LNN_FAST_PATH", cls.fast_path),
            header_timeout=_float(env, "LNN_HEADER_TIMEOUT_SECONDS", cls.header_timeout, 0.001),
            body_min_rate=_float(env, "LNN_BODY_MIN_RATE", cls.body_min_rate, 0.001),
            body_grace=_float(env, "LNN_BODY_GRACE_SECONDS", cls.body_grace, 0.0),
        )

    @property
    def limits(self) -> Limits:
        return Limits(self.header_timeout, self.body_min_rate, self.body_grace)

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with command-line values applied (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]
