"""FID and KID over folders of frames: which frames are read, batching, and the distances of known sets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tfvsdk import InputError, io
from tfvsdk.cli import main
from tfvsdk.metrics import feature_statistics, folder_distances, folder_features, frame_files, frechet_distance, kernel_distance


def colour_features(images: torch.Tensor) -> torch.Tensor:
    """A stand-in for Inception: per image, the mean colour and the mean of the squared values (D = 6)."""
    return torch.cat([images.mean((2, 3)), images.square().mean((2, 3))], 1)


def noise_images(rng, n, size, brightness):
    return [np.clip(rng.normal(brightness, 40, (size, size, 3)), 0, 255).astype(np.uint8) for _ in range(n)]


@pytest.fixture
def folder(tmp_path):
    """3 PNGs (two sizes; one in a subfolder), a 4-frame video, a text file and a hidden file."""
    rng = np.random.default_rng(0)
    root = tmp_path / "frames"
    (root / "sub").mkdir(parents=True)
    for name, image in zip(("a.png", "b.png", "sub/c.png"), noise_images(rng, 2, 32, 100) + noise_images(rng, 1, 48, 100)):
        io.write_image(root / name, image)
    with io.VideoWriter(root / "clip.mp4", fps=10) as writer:
        for frame in noise_images(rng, 4, 32, 100):
            writer.write(frame)
    (root / "notes.txt").write_text("not a frame")
    (root / ".hidden.png").write_bytes(b"")
    return root


def test_every_image_and_every_video_frame_is_one_sample_in_path_order(folder):
    files = frame_files(folder)
    assert [p.relative_to(folder).as_posix() for p in files] == ["a.png", "b.png", "clip.mp4", "sub/c.png"]
    frames = [frame for path in files for frame in io.iter_frames(path)]
    assert len(frames) == 7

    features = folder_features(folder, colour_features, batch_size=3)

    direct = torch.cat([colour_features(io.to_tensor([frame])) for frame in frames])
    assert features.shape == (7, 6) and torch.allclose(features, direct, atol=1e-6)
    assert torch.allclose(folder_features(folder, colour_features, batch_size=1), features, atol=1e-6)


def test_fid_and_kid_of_folders_are_those_of_their_features(folder, tmp_path):
    rng = np.random.default_rng(1)
    same, brighter = tmp_path / "same", tmp_path / "brighter"
    for root, brightness in ((same, 100), (brighter, 160)):
        root.mkdir()
        for k, image in enumerate(noise_images(rng, 8, 32, brightness)):
            io.write_image(root / f"{k}.png", image)

    near = folder_distances(folder, same, colour_features, kid_subsets=5)
    far = folder_distances(folder, brighter, colour_features, kid_subsets=5)

    a, b = folder_features(folder, colour_features), folder_features(brighter, colour_features)
    assert far["fid"] == pytest.approx(frechet_distance(*feature_statistics(a), *feature_statistics(b)))
    assert far["kid"] == pytest.approx(kernel_distance(a, b, subsets=5)[0])
    assert far["samples"] == [7, 8]
    assert folder_distances(folder, folder, colour_features)["fid"] == pytest.approx(0, abs=1e-9)
    assert near["fid"] < 0.01 < far["fid"] and near["kid"] < far["kid"]


def test_a_folder_without_frames_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(InputError, match=r"empty: no images .* or videos"):
        folder_features(tmp_path / "empty", colour_features)
    with pytest.raises(InputError, match="not a folder"):
        frame_files(tmp_path / "missing")


def test_tfv_eval_fid_folders(folder, tmp_path, capsys, monkeypatch):
    def run(*args):
        with pytest.raises(SystemExit) as exit_info:
            main(["eval", "--fid-folders", str(folder), str(folder), *args])
        return exit_info.value.code, capsys.readouterr()

    code, out = run()
    assert code == 2 and out.err.strip().splitlines()[-1] == "Error: --fid-folders needs --inception-weights pt_inception-2015-12-05-6726825d.pth"
    (tmp_path / "wrong.pth").write_bytes(b"not the weights")
    code, out = run("--inception-weights", str(tmp_path / "wrong.pth"))
    assert code == 1 and "wrong.pth: SHA-256" in out.err

    import tfvsdk.metrics

    monkeypatch.setattr(tfvsdk.metrics, "load_inception", lambda path: torch.nn.Identity().requires_grad_(False))
    monkeypatch.setattr(tfvsdk.metrics, "folder_distances", lambda a, b, network, **kw: folder_distances(a, b, colour_features, **kw))
    main(["eval", "--fid-folders", str(folder), str(folder), "--inception-weights", str(tmp_path / "wrong.pth"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["fid"] == pytest.approx(0, abs=1e-9) and data["samples"] == [7, 7]
