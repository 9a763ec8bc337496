import io

import numpy as np
from PIL import Image

from facelead.demo import crop_face, degrade, nearest_centre, reading_order
from models.detect import Detections


def test_reading_order_is_row_by_row_left_to_right():
    boxes = np.array([[300, 10, 40, 40], [10, 100, 40, 40], [10, 12, 40, 40], [200, 105, 40, 40]], np.float32)
    d = Detections(boxes, np.ones(4, np.float32), np.zeros((4, 5, 2), np.float32))
    assert reading_order(d) == [2, 0, 1, 3]


def test_degraded_probe_is_smaller_rotated_jpeg():
    face = crop_face(np.full((400, 400, 3), 128, np.uint8), np.array([100, 100, 100, 100]), margin=0.5)
    assert face.size == (200, 200)
    probe = Image.open(io.BytesIO(degrade(face, scale=0.5, angle=7.0)))
    assert probe.format == "JPEG" and 100 < probe.width < 120


def test_the_demo_analyst_picks_the_face_the_probe_was_cut_around():
    boxes = np.array([[0, 0, 20, 20], [40, 30, 20, 20], [80, 0, 20, 20]], np.float32)
    found = Detections(boxes, np.array([0.99, 0.8, 0.9], np.float32), np.zeros((3, 5, 2), np.float32))
    assert nearest_centre(found, 100, 100) == 1
