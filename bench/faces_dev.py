"""faces-dev, the labeled photos the benchmarks measure on: where it lies and what it holds."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-dev"


def parser(description: str) -> argparse.ArgumentParser:
    """A benchmark's argument parser, with ``--faces-dev PATH`` (default: beside the checkout)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--faces-dev", type=Path, default=DEFAULT, help="faces-dev folder (default: %(default)s)")
    return parser


def labeled(faces_dev: Path) -> list[tuple[Path, str]]:
    """(photo path, identity) of each row of ``labels.csv``, in its order."""
    with (faces_dev / "labels.csv").open() as rows:
        return [(faces_dev / row["path"], row["identity"]) for row in csv.DictReader(rows)]


def labeled_images(faces_dev: Path) -> list[tuple[str, np.ndarray]]:
    """(identity, decoded BGR image) of each labeled photo."""
    from models.image import decode_image

    return [(identity, decode_image(path.read_bytes(), 10**8)) for path, identity in labeled(faces_dev)]
