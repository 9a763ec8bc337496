"""Galleries of synthetic face vectors shaped like real ones, for benchmarks and tests of
the index: mostly distinct people with one to a few photos each, so that a probe's nearest
neighbours are mostly strangers at chance scores, as in a booking gallery."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.embed import l2_normalise

PHOTOS_PER_SUBJECT = (1, 2, 3, 4, 5)
PHOTO_SHARES = (0.40, 0.25, 0.15, 0.10, 0.10)  # most people are in a gallery once


@dataclass(frozen=True)
class SyntheticGallery:
    """Unit vectors (rows) and the subject number of each."""

    vectors: NDArray[np.float32]
    subjects: NDArray[np.int64]


def photos_like(centres: NDArray[np.float32], genuine: float, spread: float,
                rng: np.random.Generator) -> NDArray[np.float32]:
    """One photo of each centre's subject: two photos of a subject score about ``genuine``
    (cosine, +- ``spread``), photos of different subjects about 0 +- 1/sqrt(dim)."""
    share = np.clip(rng.normal(genuine, spread, (len(centres), 1)), 0.05, 0.98).astype(np.float32)
    noise = l2_normalise(rng.normal(size=centres.shape).astype(np.float32))
    return l2_normalise(np.sqrt(share) * centres + np.sqrt(1 - share) * noise)


def realistic_gallery(faces: int, dim: int = 128, genuine: float = 0.65, spread: float = 0.08,
                      seed: int = 0) -> SyntheticGallery:
    """``faces`` photos of subjects with 1 to 5 photos each (``PHOTO_SHARES``), at SFace-like
    genuine scores (about 0.65 between two photos of a person, by default)."""
    rng = np.random.default_rng(seed)
    counts = rng.choice(PHOTOS_PER_SUBJECT, size=faces, p=PHOTO_SHARES)  # more subjects than needed
    subjects = np.repeat(np.arange(len(counts)), counts)[:faces]
    centres = l2_normalise(rng.normal(size=(int(subjects[-1]) + 1, dim)).astype(np.float32))
    vectors = np.empty((faces, dim), np.float32)
    for start in range(0, faces, 1 << 16):  # bounded temporary copies
        stop = min(faces, start + (1 << 16))
        vectors[start:stop] = photos_like(centres[subjects[start:stop]], genuine, spread, rng)
    return SyntheticGallery(vectors, subjects.astype(np.int64))
