"""Find a model's source file, check its SHA-256, convert it once and cache the result.

The cache holds ``<id>-<source sha[:16]>.onnx`` with a ``.sha256`` sidecar; a cached file
whose content no longer matches its sidecar is rebuilt. Writes are atomic (temp + rename)
so parallel workers preparing the same model never see a half-written file.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx

from facelead.digest import file_sha256, sha256_hex
from models.convert import convert
from models.manifest import ModelManifest


class ModelMissingError(FileNotFoundError):
    """The model's source file is not installed."""


class ModelHashError(ValueError):
    """A model file's SHA-256 differs from the one its manifest or the caller expects."""


@dataclass(frozen=True)
class PreparedModel:
    """A converted model file ready for onnxruntime, named by manifest id and its own hash."""

    manifest: ModelManifest
    path: Path
    sha256: str

    @property
    def model_id(self) -> str:
        return f"{self.manifest.id}@{self.sha256[:12]}"


def locate_source(manifest: ModelManifest) -> Path:
    """Path of the manifest's source file, from an installed package or from disk."""
    if manifest.path:
        path = Path(manifest.path)
    else:
        how = f"pip install --no-deps {manifest.distribution}=={manifest.version}"
        try:
            dist = importlib.metadata.distribution(manifest.distribution or "")
        except importlib.metadata.PackageNotFoundError as exc:
            raise ModelMissingError(f"model {manifest.id}: package {manifest.distribution} not installed; run `{how}`") from exc
        if dist.version != manifest.version:
            raise ModelMissingError(f"model {manifest.id}: {manifest.distribution} {dist.version} installed, need {manifest.version}; run `{how}`")
        path = Path(str(dist.locate_file(manifest.member or "")))
    if not path.is_file():
        raise ModelMissingError(f"model {manifest.id}: {path} not found")
    return path


@functools.cache
def prepare_model(manifest: ModelManifest, cache_dir: Path) -> PreparedModel:
    """Verify the source hash, convert as the manifest says, cache; cached once per process."""
    source = locate_source(manifest)
    actual = file_sha256(source)
    if actual != manifest.sha256:
        raise ModelHashError(f"model {manifest.id}: {source} has SHA-256 {actual}, manifest says {manifest.sha256}")
    recipe = sha256_hex(" ".join((manifest.sha256, *manifest.convert)))
    target = cache_dir / f"{manifest.id}-{recipe[:16]}.onnx"  # a changed conversion is a new file
    sidecar = target.with_suffix(".sha256")
    if target.is_file() and sidecar.is_file() and file_sha256(target) == sidecar.read_text().strip():
        return PreparedModel(manifest, target, sidecar.read_text().strip())
    data = convert(onnx.load(str(source)), manifest.convert).SerializeToString()
    cache_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, data)
    digest = sha256_hex(data)
    _atomic_write(sidecar, digest.encode())
    return PreparedModel(manifest, target, digest)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
