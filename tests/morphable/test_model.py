import os
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tfvsdk
from tfvsdk import InputError, ModelFileError, MorphableModel
from tfvsdk.morphable import load_bfm, load_npz, load_numpy_pickle


def random_model(n=20, k_id=4, k_exp=3, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    return MorphableModel(
        rng.normal(size=(n, 3)),
        rng.normal(size=(3 * n, k_id)),
        rng.normal(size=(3 * n, k_exp)),
        rng.integers(0, n, size=(2 * n, 3)),
        **kwargs,
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_shape_implements_equation_1_batched(batch, seed):
    model = random_model(seed=seed % 1000)
    rng = np.random.default_rng(seed)
    a_id, a_exp = rng.normal(size=(batch, 4)), rng.normal(size=(batch, 3))
    expected = np.stack(
        [
            model.mean.numpy().astype(np.float64)
            + (model.id_basis.numpy().astype(np.float64) @ a_id[b]).reshape(-1, 3)
            + (model.exp_basis.numpy().astype(np.float64) @ a_exp[b]).reshape(-1, 3)
            for b in range(batch)
        ]
    )
    got = model.shape(torch.tensor(a_id, dtype=torch.float32), torch.tensor(a_exp, dtype=torch.float32))
    assert got.shape == (batch, 20, 3)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-4)


def test_shape_rejects_coefficients_of_the_wrong_size():
    model = random_model()
    with pytest.raises(InputError, match=r"alpha_id: expected shape \(B, 4\)"):
        model.shape(torch.zeros(1, 5), torch.zeros(1, 3))
    with pytest.raises(InputError, match="alpha_exp"):
        model.shape(torch.zeros(2, 4), torch.zeros(1, 3))


def test_landmarks_skip_the_ones_the_model_lacks():
    indices = np.full(68, -1)
    indices[30], indices[8] = 3, 7
    model = random_model(landmarks=indices)
    v = model.shape(torch.zeros(1, 4), torch.zeros(1, 3))
    assert model.landmark_mask.sum() == 2
    assert torch.equal(model.landmarks(v), v[:, [7, 3]])


def test_a_model_without_landmarks_says_so():
    with pytest.raises(InputError, match="no landmark vertex indices"):
        random_model().landmark_mask


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mean": np.zeros((20, 2))}, r"mean: expected shape \(N, 3\)"),
        ({"id_basis": np.zeros((59, 4))}, r"id_basis: expected shape \(60, K\)"),
        ({"triangles": np.array([[0, 1, 20]])}, "triangles: indices must lie in"),
        ({"mean": np.full((20, 3), np.nan)}, "NaN"),
        ({"uv": np.full((20, 2), 2.0)}, "uv"),
        ({"landmarks": np.zeros(67)}, "landmarks"),
    ],
)
def test_every_array_is_validated_on_load(change, message):
    rng = np.random.default_rng(0)
    args = {
        "mean": rng.normal(size=(20, 3)),
        "id_basis": rng.normal(size=(60, 4)),
        "exp_basis": rng.normal(size=(60, 3)),
        "triangles": np.array([[0, 1, 2]]),
    }
    kwargs = {k: change.pop(k) for k in list(change) if k not in args}
    with pytest.raises(ModelFileError, match=message):
        MorphableModel(**(args | change), **kwargs)


def test_the_model_moves_with_to():
    model = random_model().to(torch.float64)
    assert model.mean.dtype == torch.float64
    assert model.triangles.dtype == torch.int64


def test_sfm_loader(sfm_path):
    model = load_npz(sfm_path)
    assert (model.n_vertices, model.n_id, model.n_exp) == (3448, 63, 6)
    assert model.exp_names[3] == "happiness"
    assert model.landmark_mask.sum() == 50
    v = model.shape(torch.zeros(1, 63), torch.zeros(1, 6))
    assert v[0, 114, 2] > v[0, :, 2].max() - 0.1  # the nose tip (vertex 114) is about the nearest vertex
    assert torch.equal(tfvsdk.create("model", "sfm", path=sfm_path).mean, model.mean)


def test_npz_loader_reports_a_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="missing.npz: file not found"):
        load_npz(tmp_path / "missing.npz")


class Hostile:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_the_restricted_unpickler_refuses_code_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"u": np.zeros(3), "payload": Hostile()}))
    with pytest.raises(ModelFileError, match=r"evil.pkl: refused to load: the pickle references (posix|os)\.system"):
        load_numpy_pickle(path)
    assert not (tmp_path / "pwned").exists()


def test_the_restricted_unpickler_reads_numpy_arrays_and_containers(tmp_path):
    data = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": [np.int64(3), (1.5, "x")], "c": np.array(["s"])}
    path = tmp_path / "ok.pkl"
    for protocol in (2, 4, 5):
        path.write_bytes(pickle.dumps(data, protocol=protocol))
        loaded = load_numpy_pickle(path)
        np.testing.assert_array_equal(loaded["a"], data["a"])
        assert loaded["b"][0] == 3 and loaded["b"][1] == (1.5, "x")


def test_bfm_loader_reads_3ddfa_layout_and_flips_the_winding(tmp_path):
    n = 30
    rng = np.random.default_rng(1)
    keypoints = np.repeat(np.arange(68) % n * 3, 3) + np.tile([0, 1, 2], 68)
    data = {
        "u": rng.normal(size=(3 * n, 1)).astype(np.float32),
        "w_shp": rng.normal(size=(3 * n, 50)).astype(np.float32),
        "w_exp": rng.normal(size=(3 * n, 12)).astype(np.float32),
        "tri": np.array([[0, 1, 2], [2, 3, 4]]).T,
        "keypoints": keypoints,
    }
    path = tmp_path / "bfm_noneck_v3.pkl"
    path.write_bytes(pickle.dumps(data))
    model = load_bfm(path, id_std=np.full(40, 2.0))
    assert (model.n_vertices, model.n_id, model.n_exp) == (n, 40, 10)
    assert model.triangles.tolist() == [[2, 1, 0], [4, 3, 2]]
    assert model.landmark_indices.tolist() == (np.arange(68) % n).tolist()
    np.testing.assert_allclose(model.mean.numpy().reshape(-1), data["u"][:, 0])
    np.testing.assert_allclose(model.id_basis.numpy(), 2.0 * data["w_shp"][:, :40])


def test_bfm_loader_names_missing_keys(tmp_path):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps({"u": np.zeros(3)}))
    with pytest.raises(ModelFileError, match=r"bad.pkl: missing keys \['w_shp', 'w_exp', 'keypoints'\]"):
        load_bfm(path)
