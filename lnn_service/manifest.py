"""The manifest of one model version: which files, their sha256, shapes and golden I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lnn_service.errors import RegistryError

MANIFEST_NAME = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Golden:
    """A known input and the output the model must give for it (checked by ``/ready``)."""

    input: list[float]
    dt: float
    output: list[float]


@dataclass(frozen=True)
class Manifest:
    version: str
    onnx_file: str
    weights_file: str
    files: dict[str, str]  # file name -> sha256
    input_dim: int
    state_dim: int
    output_dim: int
    default_dt: float
    golden: Golden
    notes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            raw = json.loads(text)
            golden = Golden(
                input=[float(v) for v in raw["golden"]["input"]],
                dt=float(raw["golden"]["dt"]),
                output=[float(v) for v in raw["golden"]["output"]],
            )
            files = {str(k): str(v) for k, v in raw["files"].items()}
            return cls(
                version=str(raw["version"]),
                onnx_file=str(raw["onnx_file"]),
                weights_file=str(raw["weights_file"]),
                files=files,
                input_dim=int(raw["input_dim"]),
                state_dim=int(raw["state_dim"]),
                output_dim=int(raw["output_dim"]),
                default_dt=float(raw["default_dt"]),
                golden=golden,
                notes=dict(raw.get("notes", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RegistryError(f"invalid manifest: {exc!r}") from exc
