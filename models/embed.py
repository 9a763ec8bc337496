"""ArcFace-family embedding: aligned crops -> L2-normalised vectors of the manifest's size."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from models.manifest import ModelManifest

# Faces per onnxruntime call: on one thread larger batches run slower (SFace: 20.4 ms a
# face at 1-8, 22.6 at 32, 24 at 78), so big inputs go through in slices of this size.
EMBED_SLICE = 8


class Embedder:
    """(N,H,W,3) RGB uint8 aligned crops -> (N,D) float32 unit vectors; D from the manifest."""

    def __init__(self, session: ort.InferenceSession, manifest: ModelManifest) -> None:
        shape = session.get_inputs()[0].shape
        if list(shape[1:]) != [3, manifest.input_size[1], manifest.input_size[0]]:
            raise ValueError(f"recogniser {manifest.id}: input shape {shape} disagrees with its manifest")
        out_dim = session.get_outputs()[0].shape[-1]
        if isinstance(out_dim, int) and out_dim != manifest.output_dim:
            raise ValueError(f"recogniser {manifest.id}: output size {out_dim}, manifest says {manifest.output_dim}")
        self._session, self.manifest = session, manifest

    @property
    def dim(self) -> int:
        return self.manifest.output_dim

    def embed(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        if not len(crops):
            return np.zeros((0, self.dim), np.float32)
        out = [self._session.run(None, {self.manifest.input_name: self.manifest.to_blob(crops[i:i + EMBED_SLICE])})[0]
               for i in range(0, len(crops), EMBED_SLICE)]
        return l2_normalise(np.concatenate(out).astype(np.float32))


def l2_normalise(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))
