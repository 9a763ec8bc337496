"""The embedded demo: a gallery cut from a public-domain group photo and a degraded probe.

The photo is the 1927 Solvay conference portrait (public domain), taken from the
``images/`` folder of the ``scrfd==0.3.0`` source archive on PyPI: only the photo is
extracted, never the archive's models (research-only weights).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from facelead.digest import file_sha256, sha256_hex
from models.detect import Detections
from models.faces import crop_box


@dataclass(frozen=True)
class RegistryPhoto:
    """A photo inside a registry source archive, pinned by both hashes."""

    requirement: str
    archive_sha256: str
    member: str
    sha256: str


SOLVAY_1927 = RegistryPhoto(
    requirement="scrfd==0.3.0",
    archive_sha256="35855c664d565492aab0068f1c64b4957a15ca6cd106b9c8b1642d67cfeeb5fc",
    member="scrfd-0.3.0/images/solvay_conference_1927.jpg",
    sha256="ae76a5be54f53cca50074a0d1ac8653187154d264fc58ed928e1b92c27e17e2a",
)


def fetch_photo(photo: RegistryPhoto, target: Path) -> Path:
    """Download the source archive with pip, check both hashes, extract only the photo."""
    if target.is_file() and file_sha256(target) == photo.sha256:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        photo.requirement, "--dest", tmp], check=True)
        archive = next(Path(tmp).glob("*.tar.gz"))
        if file_sha256(archive) != photo.archive_sha256:
            raise ValueError(f"{archive.name}: SHA-256 differs from the pinned {photo.archive_sha256}")
        with tarfile.open(archive) as tar:
            data = tar.extractfile(photo.member).read()
    if sha256_hex(data) != photo.sha256:
        raise ValueError(f"{photo.member}: SHA-256 differs from the pinned {photo.sha256}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def reading_order(detections: Detections) -> list[int]:
    """Face indices row by row (rows split where box centres jump by half a face), left to right."""
    centres = detections.boxes[:, :2] + detections.boxes[:, 2:] / 2
    order = np.argsort(centres[:, 1])
    rows, current = [], [order[0]]
    for i in order[1:]:
        if centres[i, 1] - centres[current[-1], 1] > detections.boxes[i, 3] / 2:
            rows.append(current)
            current = []
        current.append(i)
    rows.append(current)
    return [int(i) for row in rows for i in sorted(row, key=lambda j: centres[j, 0])]


def nearest_centre(detections: Detections, width: int, height: int) -> int:
    """Index of the face whose box centre is nearest the image's centre (the face a crop was cut around)."""
    centres = detections.boxes[:, :2] + detections.boxes[:, 2:] / 2
    return int(np.argmin(np.linalg.norm(centres - np.array([width / 2, height / 2]), axis=1)))


def mask_other_faces(image: NDArray[np.uint8], boxes: NDArray, keep: int, grow: float = 0.15) -> NDArray[np.uint8]:
    """A copy of ``image`` with every face box but ``keep``'s (grown by ``grow``) painted mid-grey,
    so that a crop out of a crowd shows one person."""
    out = image.copy()
    for i, box in enumerate(boxes):
        if i != keep:
            x, y, w, h = box
            x0, y0 = int(max(0, x - grow * w)), int(max(0, y - grow * h))
            out[y0:int(y + (1 + grow) * h), x0:int(x + (1 + grow) * w)] = 128
    return out


def crop_face(image: NDArray[np.uint8], box: NDArray, margin: float) -> Image.Image:
    """The face box grown by ``margin`` of its size on each side, clipped to the image."""
    return Image.fromarray(crop_box(image, box, margin))


def degrade(photo: Image.Image, scale: float = 0.5, blur: float = 1.0, angle: float = 7.0, quality: int = 35) -> bytes:
    """A poorer copy, as a CCTV still would be: smaller, blurred, rotated, recompressed JPEG."""
    small = photo.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))), Image.BILINEAR)
    worse = small.filter(ImageFilter.GaussianBlur(blur)).rotate(angle, resample=Image.BILINEAR, expand=True)
    out = io.BytesIO()
    worse.save(out, format="JPEG", quality=quality)
    return out.getvalue()
