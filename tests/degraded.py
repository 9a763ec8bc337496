"""Photos made worse on purpose, for the quality gate's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image


AMBIGUOUS = "another face competes with it as the photo's subject"


def detected_inter_eye_px(image: np.ndarray, models) -> float:
    """Pixels between the eyes of the image's largest face."""
    from facelead.models.faces import load

    found = load(models)[0].detect(image)
    marks = found.landmarks[found.largest()]
    return float(np.hypot(*(marks[1] - marks[0])))


def below_bar_inputs(folder: Path, faces_dev: Path, models) -> dict[str, str]:
    """Photos the gallery quality bar must refuse, with the reason it must give."""
    from facelead.models import degrade
    from facelead.models.image import decode_image

    folder.mkdir(parents=True, exist_ok=True)
    image = decode_image((faces_dev / "identities/biden/02.jpg").read_bytes(), 10**8)
    small = degrade.downscale_to_inter_eye(image, detected_inter_eye_px(image, models), 20)
    Image.fromarray(small).save(folder / "small.jpg", quality=95)
    Image.fromarray(degrade.darken(image, 0.06)).save(folder / "dark.jpg", quality=95)
    shutil.copy(faces_dev / "multi/obama_and_biden.jpg", folder / "group.jpg")
    return {"small.jpg": "face too small", "dark.jpg": "too dark", "group.jpg": AMBIGUOUS}
