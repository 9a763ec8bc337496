"""The measurements behind the quality bars' defaults, and what the gate costs.

On faces-dev's labeled photos (real models, the configured bars):

1. each quality metric's distribution;
2. synthetic degradations (20 px between the eyes, heavy blur, near-black exposure,
   60-degree roll): how many faces the detector still finds and how many the gallery
   bar refuses with the expected reason;
3. genuine scores against the same people's other photos as the probe shrinks to a
   given distance between the eyes (where the probe bar's floor comes from);
4. the gate's cost: measuring and validating, against the whole per-image work.

    .venv/bin/python bench/quality.py [--faces-dev PATH]
"""

from __future__ import annotations

import time

import faces_dev
import numpy as np


def main() -> None:
    args = faces_dev.parser(__doc__.splitlines()[0]).parse_args()

    from expectations.quality import validate
    from facelead.settings import Settings
    from models import degrade
    from models.align import align_face
    from models.faces import embed_measured, load, measure_face
    from models.quality import METRICS, face_quality
    from tasks.faces import face_models

    settings = Settings()
    detector, embedder = load(face_models(settings))
    size = embedder.manifest.input_size
    photos = faces_dev.labeled_images(args.faces_dev)

    def measured(image):
        found = detector.detect(image)
        return None if not len(found) else measure_face(image, found, found.largest(), detector, size)

    faces = [measured(image) for _, image in photos]
    print(f"1. metrics of {len(faces)} labeled photos")
    print(f"   {'metric':<18}{'min':>9}{'p5':>9}{'median':>9}{'p95':>9}{'max':>9}")
    for metric in METRICS:
        values = np.array([getattr(f.quality, metric) for f in faces], float)
        print(f"   {metric:<18}" + "".join(f"{v:>9.2f}" for v in np.percentile(values, [0, 5, 50, 95, 100])))
    verdicts = validate("gallery", settings.quality.gallery, [f.quality.as_row() for f in faces])
    print(f"   gallery bar: {sum(v.passed for v in verdicts)} of {len(verdicts)} pass")

    damages = {
        "20 px between the eyes": (lambda im, f: degrade.downscale_to_inter_eye(im, f.quality.inter_eye_px, 20), "face too small"),
        "blur sigma 0.15 x inter-eye": (lambda im, f: degrade.blur(im, 0.15 * f.quality.inter_eye_px), "blurred"),
        "darkened to 6%": (lambda im, f: degrade.darken(im, 0.06), "too dark"),
        "rotated 60 degrees": (lambda im, f: degrade.rotate(im, 60), "head tilted"),
    }
    print("\n2. degradations under the gallery bar")
    for name, (damage, reason) in damages.items():
        found = [m for m in (measured(damage(image, f)) for (_, image), f in zip(photos, faces)) if m]
        out = validate("gallery", settings.quality.gallery, [m.quality.as_row() for m in found])
        named = sum(reason in {c.reason for c in v.failures} for v in out)
        print(f"   {name:<30} detected {len(found):>3}/{len(photos)}  refused {sum(not v.passed for v in out):>3}"
              f"  with '{reason}' {named:>3}")

    print("\n3. genuine scores as the probe shrinks")
    identities = np.array([identity for identity, _ in photos])
    gallery = np.stack([v.vector for v in embed_measured(faces, embedder)])
    for target in (None, 50, 35, 28, 24, 20, 16, 12):
        scores, lost = [], 0
        for i, ((identity, image), face) in enumerate(zip(photos, faces)):
            mates = identities == identity
            mates[i] = False
            if not mates.any():
                continue
            probe = image if target is None else degrade.downscale_to_inter_eye(image, face.quality.inter_eye_px, target)
            small = measured(probe)
            if small is None:
                lost += 1
                continue
            scores.append(float((gallery[mates] @ embedder.embed(small.aligned[None])[0]).mean()))
        label = "full size" if target is None else f"{target} px"
        print(f"   {label:<10} genuine mean {np.mean(scores):.3f}  p10 {np.percentile(scores, 10):.3f}"
              f"  faces lost by the detector {lost}")

    print("\n4. cost of the gate")
    work = gate = 0.0
    for _, image in photos:
        start = time.perf_counter()
        found = detector.detect(image)
        index = found.largest()
        landmarks = detector.level_landmarks(image, found.boxes[index], found.landmarks[index])
        aligned = align_face(image, landmarks, size)
        embedder.embed(aligned[None])
        middle = time.perf_counter()
        face_quality(image, found.boxes[index], landmarks, float(found.scores[index]), len(found),
                     len(found.rivals(index, image.shape[1], image.shape[0])), aligned)
        gate += time.perf_counter() - middle
        work += time.perf_counter() - start
    rows_per_chunk = [f.quality.as_row() for f in faces] * 2  # a Dask task's worth
    start = time.perf_counter()
    validate("gallery", settings.quality.gallery, rows_per_chunk)
    per_face = (time.perf_counter() - start) / len(rows_per_chunk)
    gate += per_face * len(photos)
    work += per_face * len(photos)
    print(f"   per image: detect+align+embed+measure {1000 * work / len(photos):.1f} ms, of which metrics and "
          f"validation {1000 * gate / len(photos):.2f} ms ({100 * gate / work:.1f}%; decoding not counted)")


if __name__ == "__main__":
    main()
