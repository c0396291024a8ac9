"""Reading the Surrey Face Model from eos' cereal files into the SDK's model arrays."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import tfvsdk
from tfvsdk import models
from tfvsdk.morphable.eos_files import read_eos_blendshapes, read_eos_shape_model, sfm_arrays


def matrix(a: np.ndarray) -> bytes:
    a = np.atleast_2d(a.T).T if a.ndim == 1 else a
    return struct.pack("<ii", *a.shape) + np.asarray(a, "<f4").T.tobytes()


def pca(mean, basis, eigenvalues, triangles) -> bytes:
    return matrix(mean) + matrix(basis) + matrix(eigenvalues) + struct.pack("<Q", len(triangles)) + np.asarray(triangles, "<i4").tobytes()


@pytest.fixture
def eos_files(tmp_path):
    """A 4-vertex model in eos' format: version 1, shape PCA, empty colour PCA, texture coordinates."""
    rng = np.random.default_rng(0)
    mean = rng.normal(size=12)
    basis, _ = np.linalg.qr(rng.normal(size=(12, 2)))
    eigen = np.array([4.0, 1.0])
    tri = [[0, 1, 2], [1, 3, 2]]
    uv = rng.uniform(size=(4, 2))
    empty = pca(np.zeros((0, 1)), np.zeros((0, 0)), np.zeros((0, 1)), [])
    (tmp_path / "shape.bin").write_bytes(struct.pack("<I", 1) + pca(mean, basis, eigen, tri) + empty + struct.pack("<Q", 4) + uv.astype("<f8").tobytes())
    offsets = rng.normal(size=12)
    name = b"smile"
    (tmp_path / "blend.bin").write_bytes(struct.pack("<Q", 1) + struct.pack("<Q", len(name)) + name + matrix(offsets))
    (tmp_path / "map.txt").write_text("[landmark_mappings]\n9 = 3  # chin\n31 = 1\n")
    (tmp_path / "contours.json").write_text(json.dumps({"model_contour": {"right_contour": [0, 1], "left_contour": [2, 3]}}))
    (tmp_path / "sym.txt").write_text("2 # 1-based\n1\n")
    return tmp_path, dict(mean=mean, basis=basis, eigen=eigen, tri=tri, uv=uv, offsets=offsets)


def test_reads_the_shape_model_blendshapes_and_landmarks(eos_files):
    folder, truth = eos_files
    shape = read_eos_shape_model(folder / "shape.bin")
    assert np.allclose(shape["mean"], truth["mean"].reshape(4, 3))
    assert np.allclose(shape["id_basis"], truth["basis"] * np.sqrt(truth["eigen"]), atol=1e-6)
    assert shape["triangles"].tolist() == truth["tri"] and np.allclose(shape["uv"], truth["uv"])
    names, offsets = read_eos_blendshapes(folder / "blend.bin")
    assert names == ["smile"] and np.allclose(offsets[:, 0], truth["offsets"])

    arrays = sfm_arrays(folder / "shape.bin", folder / "blend.bin", folder / "map.txt", folder / "contours.json", folder / "sym.txt")
    assert arrays["ibug68"][8] == 3 and arrays["ibug68"][30] == 1 and (np.delete(arrays["ibug68"], [8, 30]) == -1).all()
    assert arrays["symmetry"].tolist() == [1, 0] and arrays["contour_left"].tolist() == [2, 3]
    model = tfvsdk.MorphableModel.from_arrays(arrays, name="tiny")
    assert model.n_vertices == 4 and list(model.exp_names) == ["smile"]


def test_truncated_or_foreign_files_raise(eos_files):
    folder, _ = eos_files
    data = (folder / "shape.bin").read_bytes()
    (folder / "short.bin").write_bytes(data[:-9])
    with pytest.raises(tfvsdk.ModelFileError, match="ends early"):
        read_eos_shape_model(folder / "short.bin")
    (folder / "v4.bin").write_bytes(struct.pack("<I", 4) + data[4:])
    with pytest.raises(tfvsdk.ModelFileError, match="version 4"):
        read_eos_shape_model(folder / "v4.bin")
    (folder / "long.bin").write_bytes((folder / "blend.bin").read_bytes() + b"\0")
    with pytest.raises(tfvsdk.ModelFileError, match="1 bytes left"):
        read_eos_blendshapes(folder / "long.bin")


def test_the_cached_sfm_converts_to_the_sdk_model(sfm_path):
    """With eos' SFM files in the model cache (tfv models add sfm …), the conversion reproduces the SDK's
    converted test model array for array."""
    if models.find("sfm") is None:
        pytest.skip(f"eos' SFM files are not in the model cache {models.home()}")
    converted = tfvsdk.create("model", "sfm")
    reference = tfvsdk.morphable.load_npz(sfm_path)
    for key in ("mean", "id_basis", "exp_basis", "triangles", "uv", "landmark_indices", "contour_right", "contour_left", "symmetry"):
        a, b = getattr(converted, key), getattr(reference, key)
        assert a.shape == b.shape and np.allclose(a.numpy(), b.numpy(), atol=1e-5), key
