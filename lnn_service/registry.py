"""The registry directory of model versions: ``<root>/<version>/manifest.json`` + files.

Loading is defensive: the version name and every file must stay inside the
registry directory, nothing along the way may be a symlink, and every file's
sha256 must match the manifest before onnxruntime sees a byte of it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from lnn_service.errors import IntegrityError, RegistryError, UnsafePath
from lnn_service.manifest import MANIFEST_NAME, Manifest
from lnn_service.runtime import LoadedModel

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def versions(self) -> list[str]:
        """Version directories that hold a manifest, oldest name first."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if _NAME.match(p.name) and not p.is_symlink() and (p / MANIFEST_NAME).is_file()
        )

    def latest(self) -> str:
        found = self.versions()
        if not found:
            raise RegistryError(f"no model versions in {self.root}")
        return found[-1]

    def _safe_child(self, parent: Path, name: str, what: str) -> Path:
        if not _NAME.match(name):
            raise UnsafePath(f"{what} name {name!r} is not a plain file name")
        path = parent / name
        if path.is_symlink():
            raise UnsafePath(f"{what} {name!r} is a symlink")
        real_root = self.root.resolve(strict=False)
        if not path.resolve(strict=False).is_relative_to(real_root):
            raise UnsafePath(f"{what} {name!r} escapes the registry directory")
        return path

    def _read_verified(self, directory: Path, name: str, expected: str) -> bytes:
        path = self._safe_child(directory, name, "file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RegistryError(f"cannot read {name}: {exc.strerror}") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise IntegrityError(f"{name}: sha256 {actual} does not match manifest {expected}")
        return data

    def load(self, version: str, threads: int = 1, wide_threads: int = 0) -> LoadedModel:
        """Verify and load one version; raises a :class:`RegistryError` subclass on any doubt."""
        if self.root.is_symlink():
            raise UnsafePath("the registry directory itself is a symlink")
        directory = self._safe_child(self.root, version, "version")
        if not directory.is_dir():
            raise RegistryError(f"unknown model version {version!r}")
        manifest_path = self._safe_child(directory, MANIFEST_NAME, "manifest")
        try:
            manifest = Manifest.from_json(manifest_path.read_text())
        except OSError as exc:
            raise RegistryError(f"cannot read manifest of {version!r}: {exc.strerror}") from exc
        if manifest.version != version:
            raise RegistryError(f"manifest names version {manifest.version!r}, not {version!r}")
        if manifest.onnx_file not in manifest.files:
            raise RegistryError(f"manifest of {version!r} has no sha256 for {manifest.onnx_file}")
        for name, digest in manifest.files.items():
            if name != manifest.onnx_file:
                self._read_verified(directory, name, digest)
        sha = manifest.files[manifest.onnx_file]
        onnx_bytes = self._read_verified(directory, manifest.onnx_file, sha)
        try:
            return LoadedModel.from_bytes(manifest, onnx_bytes, sha, threads, wide_threads)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise RegistryError(f"onnxruntime cannot load {version!r}: {exc}") from exc
