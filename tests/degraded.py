"""Photos made worse on purpose, for the quality gate's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

AMBIGUOUS = "another face competes with it as the photo's subject"


def detected_inter_eye_px(image: np.ndarray, models) -> float:
    """Pixels between the eyes of the image's largest face."""
    from models.faces import load

    found = load(models)[0].detect(image)
    marks = found.landmarks[found.largest()]
    return float(np.hypot(*(marks[1] - marks[0])))


def below_bar_inputs(folder: Path, faces_dev: Path, models) -> dict[str, str]:
    """Photos the gallery quality bar must refuse, with the reason it must give."""
    from models import degrade
    from models.image import decode_image

    folder.mkdir(parents=True, exist_ok=True)
    image = decode_image((faces_dev / "identities/biden/02.jpg").read_bytes(), 10**8)
    small = degrade.downscale_to_inter_eye(image, detected_inter_eye_px(image, models), 20)
    Image.fromarray(small).save(folder / "small.jpg", quality=95)
    Image.fromarray(degrade.darken(image, 0.06)).save(folder / "dark.jpg", quality=95)
    shutil.copy(faces_dev / "multi/obama_and_biden.jpg", folder / "group.jpg")
    return {"small.jpg": "face too small", "dark.jpg": "too dark", "group.jpg": AMBIGUOUS}


def labeled_with_degraded_copies(folder: Path, faces_dev: Path, models) -> Path:
    """faces-dev's labeled photos plus, for each, a copy shrunk to 20 px between the eyes and
    a blurred, darkened copy: a labeled CSV (path, identity) whose poor images an
    error-versus-discard curve must find."""
    import csv

    from models import degrade
    from models.image import decode_image

    folder.mkdir(parents=True, exist_ok=True)
    rows = list(csv.DictReader((faces_dev / "labels.csv").open()))
    out = []
    for number, row in enumerate(rows):
        image = decode_image((faces_dev / row["path"]).read_bytes(), 10**8)
        eyes = detected_inter_eye_px(image, models)
        small = degrade.downscale_to_inter_eye(image, eyes, 20)
        poor = degrade.darken(degrade.blur(image, eyes / 12), 0.3)
        for kind, pixels in (("small", small), ("poor", poor)):
            Image.fromarray(pixels).save(folder / f"{number:03d}-{kind}.png")
            out.append((f"{number:03d}-{kind}.png", row["identity"]))
        out.append((str(faces_dev / row["path"]), row["identity"]))
    labeled = folder / "labeled.csv"
    with labeled.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "identity"])
        writer.writerows(out)
    return labeled
