"""Test-time flip: does embedding a face and its mirror image, averaged, raise accuracy?

On faces-dev's labeled photos, as taken and under each surveillance degradation of
``models.degrade.SURVEILLANCE`` (the evaluation report's), the same aligned crops
are embedded once plainly and once as the normalised mean of the crop and its mirror.
Prints, for both: genuine and impostor mean scores, EER and TAR at FAR 1e-2 over every pair, and
rank 1 / FNIR of degraded probes against one photo per identity (as in the report).

    .venv/bin/python bench/flip.py [--faces-dev PATH]
"""

from __future__ import annotations

import faces_dev
import numpy as np


def main() -> None:
    args = faces_dev.parser(__doc__.splitlines()[0]).parse_args()

    from facelead.metrics import (
        degradation_plan,
        equal_error_rate,
        mated_search_rates,
        operating_threshold,
        pair_scores,
        score_matrix,
        tar_at_far,
        verification_metrics,
    )
    from facelead.settings import Settings
    from models.degrade import SURVEILLANCE
    from models.faces import load, measure_face
    from tasks.faces import face_models

    detector, embedder = load(face_models(Settings()))

    def crop(image: np.ndarray) -> np.ndarray | None:
        found = detector.detect(image)
        if not len(found):
            return None
        subject = found.subject(image.shape[1], image.shape[0])
        return measure_face(image, found, subject, detector, embedder.manifest.input_size).aligned

    def embed(crops: list[np.ndarray], flip: bool) -> np.ndarray:
        batch = np.stack(crops)
        vectors = embedder.embed(batch)
        if flip:
            vectors = vectors + embedder.embed(np.ascontiguousarray(batch[:, :, ::-1]))
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    images, crops, labels, eyes = [], [], [], []
    for identity, image in faces_dev.labeled_images(args.faces_dev):
        found = detector.detect(image)
        aligned = crop(image)
        if aligned is None:
            continue
        marks = found.landmarks[found.subject(image.shape[1], image.shape[0])]
        images.append(image)
        crops.append(aligned)
        labels.append(identity)
        eyes.append(float(np.hypot(*(marks[1] - marks[0]))))
    labels_arr = np.array(labels)
    gallery, probes = degradation_plan(labels_arr, len(labels))
    print(f"{len(crops)} labeled faces, {len(set(labels))} identities; {len(probes)} mated probes\n")
    degraded = {d.label: [crop(d.apply(images[p], eyes[p])) for p in probes] for d in SURVEILLANCE}
    print("| embedding | genuine mean | impostor mean | EER | TAR @ FAR 1e-2 | " + " | ".join(
        f"{label}: rank 1 / FNIR" for label in ["as taken", *degraded]) + " |")
    print("|---" * (5 + 1 + len(degraded)) + "|")
    for flip in (False, True):
        vectors = embed(crops, flip)
        pairs = pair_scores(score_matrix(vectors), labels_arr)
        verification = verification_metrics(pairs)
        _, threshold = operating_threshold(verification)
        tar = tar_at_far(pairs, 1e-2)
        cells = []
        for label, faces in [("as taken", [crops[p] for p in probes]), *degraded.items()]:
            kept = [i for i, face in enumerate(faces) if face is not None]
            found = embed([faces[i] for i in kept], flip) if kept else np.zeros((0, vectors.shape[1]), np.float32)
            rates = mated_search_rates(vectors[gallery], labels_arr[gallery], found, labels_arr[probes][kept],
                                       len(faces) - len(kept), threshold, 20)
            cells.append(f"{rates['rank1']:.3f} / {rates['fnir']:.3f}")
        print(f"| {'mirror-averaged' if flip else 'plain'} | {np.mean(pairs.genuine):.4f} | {np.mean(pairs.impostor):.4f} "
              f"| {equal_error_rate(pairs)[0]:.4f} "
              f"| {tar[0] if tar else float('nan'):.4f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
