import numpy as np

from models.detect import Detections, decode_yunet, letterbox, nms


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10]], np.float32)
    keep = nms(boxes, np.array([0.8, 0.9, 0.7], np.float32), 0.3)
    assert keep.tolist() == [1, 2]


def test_letterbox_fits_and_pads_without_distortion():
    image = np.full((100, 400, 3), 255, np.uint8)
    canvas, scale = letterbox(image, (640, 640))
    assert canvas.shape == (640, 640, 3) and scale == 1.6
    assert canvas[:160].min() == 255 and canvas[161:].max() == 0


def test_yunet_heads_decode_to_pixel_boxes_and_landmarks():
    size, stride = (64, 64), 32
    cells = (size[0] // stride) * (size[1] // stride)
    outputs = {f"{name}_{stride}": np.zeros((1, cells, n), np.float32)
               for name, n in [("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10)]}
    outputs["cls_32"][0, 3], outputs["obj_32"][0, 3] = 0.81, 1.0  # cell (row 1, col 1)
    outputs["bbox_32"][0, 3] = [0.5, 0.5, 0.0, 0.0]               # centred, one stride wide
    outputs["kps_32"][0, 3] = np.zeros(10)
    boxes, scores, marks = decode_yunet(outputs, size, (stride,), threshold=0.5)
    np.testing.assert_allclose(scores, [0.9])
    np.testing.assert_allclose(boxes[0], [32, 32, 32, 32])
    np.testing.assert_allclose(marks[0], np.full((5, 2), 32.0))


def test_largest_face_is_by_area():
    d = Detections(np.array([[0, 0, 10, 10], [0, 0, 30, 4], [0, 0, 12, 12]], np.float32),
                   np.ones(3, np.float32), np.zeros((3, 5, 2), np.float32))
    assert d.largest() == 2


def _faces(*boxes):
    return Detections(np.array(boxes, np.float32), np.ones(len(boxes), np.float32),
                      np.zeros((len(boxes), 5, 2), np.float32))


def test_the_subject_is_the_central_face_even_beside_a_larger_one_at_the_edge():
    # 600 x 400 photo: a 100 px face in the middle, a 150 px face at the top right
    found = _faces([250, 150, 100, 100], [450, 0, 150, 150])
    assert found.largest() == 1 and found.subject(600, 400) == 0
    assert found.rivals(0, 600, 400) == []  # a bystander, not a rival: the photo is not ambiguous


def test_two_faces_alike_in_size_and_place_are_rivals():
    found = _faces([150, 150, 100, 100], [350, 150, 100, 100], [0, 0, 40, 40])  # two people, one far off
    chosen = found.subject(600, 400)
    assert chosen in (0, 1) and found.rivals(chosen, 600, 400) == [1 - chosen]
    assert 2 not in found.rivals(chosen, 600, 400)
