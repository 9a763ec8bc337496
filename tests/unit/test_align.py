import numpy as np
import pytest

from models.align import ARCFACE_TEMPLATE, align_face, similarity_transform, template_for


def _apply(matrix, points):
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_similarity_transform_recovers_a_known_rotation_scale_and_shift():
    angle, scale, shift = np.deg2rad(23.0), 1.7, np.array([12.5, -4.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = np.random.default_rng(0).uniform(0, 200, (5, 2))
    dst = scale * src @ rot.T + shift
    matrix = similarity_transform(src, dst)
    np.testing.assert_allclose(matrix[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


def test_similarity_transform_never_reflects():
    src = ARCFACE_TEMPLATE.copy()
    mirrored = src * np.array([-1.0, 1.0])
    matrix = similarity_transform(src, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_landmarks_land_on_the_template_after_alignment():
    # A face twice the template's size, rotated 15 degrees, somewhere in a larger image.
    angle = np.deg2rad(15.0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = 2.0 * ARCFACE_TEMPLATE @ rot.T + np.array([300.0, 120.0])
    matrix = similarity_transform(landmarks, ARCFACE_TEMPLATE)
    np.testing.assert_allclose(_apply(matrix, landmarks), ARCFACE_TEMPLATE, atol=1e-6)


def test_align_face_moves_a_marked_pixel_to_its_template_position():
    image = np.zeros((400, 400, 3), np.uint8)
    landmarks = ARCFACE_TEMPLATE * 2.0 + 50.0
    x, y = landmarks[2].round().astype(int)  # nose tip
    image[y - 2:y + 3, x - 2:x + 3] = 255
    crop = align_face(image, landmarks, (112, 112))
    assert crop.shape == (112, 112, 3)
    ys, xs = np.nonzero(crop[..., 0] > 128)
    assert abs(xs.mean() - ARCFACE_TEMPLATE[2, 0]) < 1.0 and abs(ys.mean() - ARCFACE_TEMPLATE[2, 1]) < 1.0


@pytest.mark.parametrize("size", [(112, 112), (128, 128), (96, 112)])
def test_template_scales_with_the_model_input(size):
    template = template_for(size)
    np.testing.assert_allclose(template[:, 0], ARCFACE_TEMPLATE[:, 0] * size[0] / 112)
    np.testing.assert_allclose(template[:, 1], ARCFACE_TEMPLATE[:, 1] * size[1] / 112)
