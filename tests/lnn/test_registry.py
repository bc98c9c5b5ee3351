"""Loading verifies sha256 and refuses paths that escape the registry or are symlinks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lnn_service.errors import IntegrityError, RegistryError, UnsafePath
from lnn_service.registry import Registry


def test_lists_and_loads_the_committed_versions(registry_dir: Path) -> None:
    registry = Registry(registry_dir)
    assert registry.versions() == ["cartpole-v1", "cartpole-v2"]
    assert registry.latest() == "cartpole-v2"
    model = registry.load("cartpole-v1")
    assert model.version == "cartpole-v1"
    assert model.manifest.input_dim == 4
    assert model.manifest.output_dim == 1
    assert model.golden_ok()


def test_tampered_model_is_refused(registry_dir: Path) -> None:
    onnx_path = registry_dir / "cartpole-v1" / "model.onnx"
    data = bytearray(onnx_path.read_bytes())
    data[-1] ^= 0xFF
    onnx_path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256"):
        Registry(registry_dir).load("cartpole-v1")


def test_tampered_weights_are_refused(registry_dir: Path) -> None:
    (registry_dir / "cartpole-v1" / "weights.npz").write_bytes(b"not the weights")
    with pytest.raises(IntegrityError, match=r"weights\.npz"):
        Registry(registry_dir).load("cartpole-v1")


@pytest.mark.parametrize("name", ["../cartpole-v1", "..", "/etc", "a/b", "", ".hidden"])
def test_version_names_that_are_not_plain_are_refused(registry_dir: Path, name: str) -> None:
    with pytest.raises(UnsafePath):
        Registry(registry_dir).load(name)


def test_symlinked_version_is_refused(registry_dir: Path) -> None:
    (registry_dir / "linked").symlink_to(registry_dir / "cartpole-v1")
    with pytest.raises(UnsafePath, match="symlink"):
        Registry(registry_dir).load("linked")
    assert "linked" not in Registry(registry_dir).versions()


def test_symlinked_file_is_refused(registry_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.onnx"
    target = registry_dir / "cartpole-v1" / "model.onnx"
    shutil.copy(target, outside)
    target.unlink()
    target.symlink_to(outside)
    with pytest.raises(UnsafePath, match="symlink"):
        Registry(registry_dir).load("cartpole-v1")


def test_manifest_naming_a_file_outside_is_refused(registry_dir: Path) -> None:
    manifest_path = registry_dir / "cartpole-v1" / "manifest.json"
    raw = json.loads(manifest_path.read_text())
    raw["onnx_file"] = "../cartpole-v2/model.onnx"
    raw["files"] = {"../cartpole-v2/model.onnx": raw["files"]["model.onnx"]}
    manifest_path.write_text(json.dumps(raw))
    with pytest.raises(UnsafePath):
        Registry(registry_dir).load("cartpole-v1")


def test_symlinked_registry_root_is_refused(registry_dir: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(registry_dir)
    with pytest.raises(UnsafePath):
        Registry(link).load("cartpole-v1")


def test_unknown_version_and_broken_manifest(registry_dir: Path) -> None:
    registry = Registry(registry_dir)
    with pytest.raises(RegistryError, match="unknown"):
        registry.load("cartpole-v9")
    (registry_dir / "cartpole-v2" / "manifest.json").write_text("{}")
    with pytest.raises(RegistryError, match="invalid manifest"):
        registry.load("cartpole-v2")


def test_empty_registry_has_no_latest(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no model versions"):
        Registry(tmp_path).latest()
