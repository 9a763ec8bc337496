import numpy as np
import pytest

from models.manifest import ManifestError, load_manifest


def test_bundled_manifests_describe_their_contract():
    sface = load_manifest("sface-2021dec")
    assert (sface.role, sface.input_size, sface.colour_order, sface.output_dim) == ("recogniser", (112, 112), "RGB", 128)
    yunet = load_manifest("yunet-2023mar")
    assert (yunet.role, yunet.colour_order, yunet.strides) == ("detector", "BGR", (8, 16, 32))
    assert len(sface.sha256) == len(yunet.sha256) == 64


def test_to_blob_follows_the_colour_order_and_layout():
    pixels = np.zeros((1, 2, 2, 3), np.uint8)
    pixels[..., 0] = 200  # red
    rgb, bgr = load_manifest("sface-2021dec"), load_manifest("yunet-2023mar")
    assert rgb.to_blob(pixels).shape == (1, 3, 2, 2)
    assert rgb.to_blob(pixels)[0, 0].max() == 200 and bgr.to_blob(pixels)[0, 2].max() == 200


def test_a_licensed_model_is_described_by_its_own_manifest(tmp_path):
    path = tmp_path / "agency-arcface.toml"
    path.write_text("""
id = "agency-r100"
role = "recogniser"
licence = "agency licence 42"
[source]
path = "/models/r100.onnx"
sha256 = "AB"
[input]
name = "input.1"
size = [112, 112]
colour_order = "RGB"
mean = [127.5, 127.5, 127.5]
std = [127.5, 127.5, 127.5]
[output]
dim = 512
""")
    manifest = load_manifest(str(path))
    assert (manifest.output_dim, manifest.path, manifest.sha256, manifest.convert) == (512, "/models/r100.onnx", "ab", ())
    blob = manifest.to_blob(np.full((1, 112, 112, 3), 255, np.uint8))
    np.testing.assert_allclose(blob, 1.0)


def test_unknown_manifest_names_the_bundled_ones():
    with pytest.raises(ManifestError, match="sface-2021dec"):
        load_manifest("no-such-model")


def test_malformed_manifest_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('id = "x"\n')
    with pytest.raises(ManifestError, match="broken.toml"):
        load_manifest(str(path))
