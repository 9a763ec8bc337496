"""YuNet face detection: boxes, scores and five landmarks per face."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from models.align import roll_degrees
from models.manifest import ModelManifest

LEVEL_TOLERANCE_DEG = 5.0  # rolls below this are left to the alignment alone
# A face at least this share of the chosen face's prominence competes with it as the photo's
# subject, and the photo is refused as ambiguous: enrolling the wrong person of a photo under
# the subject's id is worse than asking for another photo. In faces-dev's group photos the
# second face scores 0.81-0.98 of the first (two-person portraits 0.81-0.98), except one
# whose subject stands in the middle of five smaller faces (0.52); a face 1.5 times the
# subject's size at the side edge of a photo scores about 0.4.
RIVAL_SHARE = 0.6


@dataclass(frozen=True)
class Detections:
    """Faces in one image, in its pixel coordinates: boxes (N,4) x,y,w,h; scores (N,);
    landmarks (N,5,2) right eye, left eye, nose tip, right and left mouth corner."""

    boxes: NDArray[np.float32]
    scores: NDArray[np.float32]
    landmarks: NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.scores)

    def largest(self) -> int:
        """Index of the face with the largest box area."""
        return int(np.argmax(self.boxes[:, 2] * self.boxes[:, 3]))

    def prominence(self, width: int, height: int) -> NDArray[np.float64]:
        """Each face's claim to be the subject of a ``width`` x ``height`` photo: its size
        (box side over image side, by area) times its nearness to the centre (1 at the
        centre, 0 at any edge of the photo)."""
        boxes = self.boxes.astype(np.float64)
        size = np.sqrt(boxes[:, 2] * boxes[:, 3] / (width * height))
        off_x = (boxes[:, 0] + boxes[:, 2] / 2 - width / 2) / (width / 2)
        off_y = (boxes[:, 1] + boxes[:, 3] / 2 - height / 2) / (height / 2)
        return size * np.clip(1 - np.maximum(np.abs(off_x), np.abs(off_y)), 0, 1)

    def subject(self, width: int, height: int) -> int:
        """Index of the photo's subject: the most prominent face (size and centrality together)."""
        return int(np.argmax(self.prominence(width, height)))

    def rivals(self, chosen: int, width: int, height: int) -> list[int]:
        """Other faces at least ``RIVAL_SHARE`` as prominent as face ``chosen``: with any, which
        face is the subject is ambiguous."""
        prominence = self.prominence(width, height)
        return [i for i in np.flatnonzero(prominence >= RIVAL_SHARE * prominence[chosen]).tolist() if i != chosen]


def letterbox(image: NDArray[np.uint8], size: tuple[int, int]) -> tuple[NDArray[np.uint8], float]:
    """Scale to fit (width, height) keeping aspect, pad right/bottom with black; return scale."""
    height, width = image.shape[:2]
    scale = min(size[0] / width, size[1] / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas = np.zeros((size[1], size[0], 3), np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    return canvas, scale


def nms(boxes: NDArray, scores: NDArray, iou_threshold: float) -> NDArray[np.int64]:
    """Indices kept by greedy non-maximum suppression, highest score first."""
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    areas = boxes[:, 2] * boxes[:, 3]
    order, keep = np.argsort(-scores), []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        order = rest[inter / (areas[i] + areas[rest] - inter + 1e-9) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode_yunet(outputs: dict[str, NDArray], size: tuple[int, int], strides: tuple[int, ...], threshold: float):
    """Raw YuNet heads -> (boxes x,y,w,h, scores, landmarks (N,5,2)) in input pixels."""
    all_boxes, all_scores, all_marks = [], [], []
    for stride in strides:
        cols, rows = size[0] // stride, size[1] // stride
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0, 1)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0, 1)
        scores = np.sqrt(cls * obj)
        keep = np.nonzero(scores >= threshold)[0]
        if not keep.size:
            continue
        anchor = np.stack([keep % cols, keep // cols], axis=1).astype(np.float32)
        bbox = outputs[f"bbox_{stride}"].reshape(rows * cols, 4)[keep]
        centre = (anchor + bbox[:, :2]) * stride
        wh = np.exp(bbox[:, 2:]) * stride
        kps = outputs[f"kps_{stride}"].reshape(rows * cols, 5, 2)[keep]
        all_boxes.append(np.hstack([centre - wh / 2, wh]))
        all_scores.append(scores[keep])
        all_marks.append((kps + anchor[:, None, :]) * stride)
    if not all_scores:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
    return np.concatenate(all_boxes), np.concatenate(all_scores), np.concatenate(all_marks)


class FaceDetector:
    """(H,W,3) RGB uint8 -> Detections, sorted by score, in the image's own pixels."""

    def __init__(self, session: ort.InferenceSession, manifest: ModelManifest, score_threshold: float,
                 nms_threshold: float = 0.3) -> None:
        expected = [1, 3, manifest.input_size[1], manifest.input_size[0]]
        actual = session.get_inputs()[0].shape
        if actual != expected:
            raise ValueError(f"detector {manifest.id}: input shape {actual}, manifest says {expected}")
        self._session, self._manifest = session, manifest
        self._outputs = [o.name for o in session.get_outputs()]
        self._score, self._nms = score_threshold, nms_threshold

    def detect(self, image: NDArray[np.uint8]) -> Detections:
        canvas, scale = letterbox(image, self._manifest.input_size)
        raw = self._session.run(None, {self._manifest.input_name: self._manifest.to_blob(canvas[None])})
        boxes, scores, marks = decode_yunet(dict(zip(self._outputs, raw)), self._manifest.input_size,
                                            self._manifest.strides, self._score)
        keep = nms(boxes, scores, self._nms)
        return Detections((boxes[keep] / scale).astype(np.float32), scores[keep].astype(np.float32),
                          (marks[keep] / scale).astype(np.float32))

    def level_landmarks(self, image: NDArray[np.uint8], box: NDArray, landmarks: NDArray, rounds: int = 3) -> NDArray[np.float32]:
        """Landmarks of a rolled face, re-detected on a patch turned upright.

        YuNet places landmarks of tilted faces as if they were nearer upright (a face rolled
        30 degrees measures about 17), which skews alignment. The patch around the face is
        rotated by the measured roll and detected again, up to ``rounds`` times, until the
        eye line is within LEVEL_TOLERANCE_DEG; landmarks map back to ``image`` pixels.
        """
        marks = np.asarray(landmarks, np.float64)
        side = 3.0 * float(max(box[2], box[3]))
        for _ in range(rounds):
            roll = roll_degrees(marks)
            if abs(roll) < LEVEL_TOLERANCE_DEG:
                break
            centre = marks.mean(0)
            matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, 1.0)
            matrix[:, 2] += side / 2 - centre
            patch = cv2.warpAffine(image, matrix, (int(side), int(side)), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
            found = self.detect(patch)
            if not len(found):
                break
            centres = found.boxes[:, :2] + found.boxes[:, 2:] / 2
            nearest = int(np.argmin(np.linalg.norm(centres - side / 2, axis=1)))
            inverse = cv2.invertAffineTransform(matrix)
            marks = found.landmarks[nearest].astype(np.float64) @ inverse[:, :2].T + inverse[:, 2]
            side = 3.0 * float(found.boxes[nearest, 2:].max())
        return marks.astype(np.float32)
