"""The on-disk dataset layout: fit files round-trip, manifests validate, readers check sizes."""

from __future__ import annotations

import json

import pytest
import torch

from tfvsdk.data import ImageFolder, VideoFolder, layout
from tfvsdk.errors import InputError

from dataset_helpers import make_dataset, random_fits


def test_fit_file_round_trip(tmp_path):
    fit = random_fits(4, 32)
    layout.save_fits(tmp_path / "f.npz", fit)
    back = layout.load_fits(tmp_path / "f.npz")
    assert back.image_size == (32, 32)
    for a, b in [(fit.alpha_id, back.alpha_id), (fit.alpha_exp, back.alpha_exp), (fit.camera.rotation, back.camera.rotation),
                 (fit.camera.translation, back.camera.translation), (fit.landmarks, back.landmarks)]:
        assert torch.equal(a, b)
    assert back.found_mask.all()


def test_corrupt_fit_file_is_an_input_error(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="bad.npz"):
        layout.load_fits(tmp_path / "bad.npz")
    with pytest.raises(InputError, match="not found"):
        layout.load_fits(tmp_path / "missing.npz")


def test_readers_read_what_the_manifest_lists(tiny_dataset):
    images, videos = ImageFolder(tiny_dataset), VideoFolder(tiny_dataset)
    assert len(images) == 12 and len(images.identities) == 6
    assert images.image(3).shape == (3, 8, 8) and images.image(3).dtype == torch.float32
    assert images.fit(3).batch_size == 1
    assert len(videos) == 3 and videos.num_frames(0) == 5
    assert videos.fits(1).batch_size == 5
    assert torch.equal(videos.fit(1, 2).alpha_exp, videos.fits(1).alpha_exp[2:3])


def test_manifest_errors_say_what_to_do(tmp_path):
    with pytest.raises(InputError, match="tfv prepare"):
        ImageFolder(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(InputError, match="not a tfvsdk dataset"):
        ImageFolder(tmp_path)
    with pytest.raises(InputError, match="name"):
        layout.ImageEntry("a/b", "x")


def test_wrong_image_size_is_reported(tmp_path):
    root = make_dataset(tmp_path, identities=3, per_identity=1, clips=1, frames=2, size=8)
    layout.write_image(layout.image_path(root, "id000", "000"), torch.rand(3, 9, 8))
    with pytest.raises(InputError, match="000.png: expected a 8x8"):
        ImageFolder(root).image(0)


def test_a_fit_file_asking_for_more_memory_than_it_holds_is_refused_before_reading(tmp_path):
    import io
    import zipfile

    import numpy as np

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**10,)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("alpha_id.npy", header.getvalue())  # announces 80 GB, holds none of it
    with pytest.raises(InputError, match="alpha_id"):
        layout.load_fits(tmp_path / "huge.npz")
    layout.save_fits(tmp_path / "f.npz", random_fits(4, 32))
    with pytest.raises(InputError, match="more than"):
        layout.load_fits(tmp_path / "f.npz", max_bytes=64)
