"""Model manifests: everything the code may assume about a model comes from here."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

MANIFEST_DIR = Path(__file__).parent / "manifests"


class ManifestError(ValueError):
    """A model manifest is missing or malformed."""


@dataclass(frozen=True)
class ModelManifest:
    """One model: where its file comes from, its SHA-256, and its input/output contract.

    ``distribution``/``version``/``member`` name a file inside an installed registry
    package; ``path`` names a file on disk instead (an agency's licensed model).
    """

    id: str
    role: Literal["detector", "recogniser"]
    licence: str
    sha256: str
    convert: tuple[str, ...]
    input_name: str
    input_size: tuple[int, int]
    colour_order: Literal["RGB", "BGR"]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    output_dim: int | None = None
    strides: tuple[int, ...] = ()
    distribution: str | None = None
    version: str | None = None
    member: str | None = None
    path: str | None = None

    def to_blob(self, images_rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        """(N,H,W,3) RGB uint8 -> (N,3,H,W) float32 in this model's colour order and scale."""
        pixels = images_rgb[..., ::-1] if self.colour_order == "BGR" else images_rgb
        blob = np.empty((pixels.shape[0], 3, *pixels.shape[1:3]), np.float32)
        blob[:] = pixels.transpose(0, 3, 1, 2)  # one pass: layout, channel order and dtype
        if any(self.mean):
            blob -= np.float32(self.mean)[:, None, None]
        if any(s != 1 for s in self.std):
            blob /= np.float32(self.std)[:, None, None]
        return blob


def load_manifest(name_or_path: str) -> ModelManifest:
    """Load a bundled manifest by name (``sface-2021dec``) or any manifest by .toml path."""
    path = Path(name_or_path) if name_or_path.endswith(".toml") else MANIFEST_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in MANIFEST_DIR.glob("*.toml"))
        raise ManifestError(f"model manifest {name_or_path!r} not found; bundled: {known}, or give a .toml path")
    try:
        raw = tomllib.loads(path.read_text())
        source, inp = raw["source"], raw["input"]
        return ModelManifest(
            id=raw["id"],
            role=raw["role"],
            licence=raw.get("licence", ""),
            sha256=source["sha256"].lower(),
            convert=tuple(source.get("convert", ())),
            distribution=source.get("distribution"),
            version=source.get("version"),
            member=source.get("member"),
            path=source.get("path"),
            input_name=inp["name"],
            input_size=(int(inp["size"][0]), int(inp["size"][1])),
            colour_order=inp["colour_order"],
            mean=tuple(inp.get("mean", (0.0, 0.0, 0.0))),
            std=tuple(inp.get("std", (1.0, 1.0, 1.0))),
            output_dim=raw.get("output", {}).get("dim"),
            strides=tuple(raw.get("output", {}).get("strides", ())),
        )
    except (KeyError, IndexError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{path}: malformed model manifest ({exc!r})") from exc
