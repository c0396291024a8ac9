"""Several faces: tracks survive crossings and gaps, faces leaving and entering make their own tracks, and an
edit of one chosen face leaves every pixel of the others untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tfvsdk
from tfvsdk import io
from tfvsdk.faces import choose_track, face_landmarks, track_faces


def box(x: float, y: float = 50.0, side: float = 40.0) -> np.ndarray:
    return np.array([x, y, x + side, y + side])


def test_two_faces_that_cross_keep_their_tracks_through_the_occlusion():
    frames = []
    for t in range(30):
        a, b = box(10 + 6 * t), box(190 - 6 * t, y=56)
        if 13 <= t <= 17:  # while they overlap, the detector sees only the front face
            frames.append(np.stack([a]))
        else:
            frames.append(np.stack([a, b]))
    tracks = track_faces(frames)

    assert len(tracks) == 2
    rightward = next(tr for tr in tracks if tr.boxes[0, 0] < 100)
    assert np.allclose(rightward.boxes[29], box(10 + 6 * 29))
    leftward = next(tr for tr in tracks if tr is not rightward)
    assert np.isnan(leftward.boxes[15, 0]) and np.allclose(leftward.boxes[29], box(190 - 6 * 29, y=56))


def test_a_face_that_leaves_ends_its_track_and_one_that_enters_starts_a_new_one():
    frames = [np.stack([box(20), box(150)]) if t < 10 else np.stack([box(20)]) for t in range(40)]
    frames[35:] = [np.stack([box(20), box(300)]) for _ in range(5)]
    tracks = track_faces(frames, max_gap=5)

    assert len(tracks) == 3
    assert [list(tr.frames[[0, -1]]) for tr in tracks] == [[0, 39], [0, 9], [35, 39]]


def test_a_face_is_chosen_left_to_right_in_the_first_frame_or_by_identity():
    tracks = track_faces([np.stack([box(200), box(10), box(100)])] * 3)
    assert choose_track(tracks, face=0).boxes[0, 0] == 10
    assert choose_track(tracks, face=2).boxes[0, 0] == 200
    with pytest.raises(tfvsdk.InputError, match="face 3"):
        choose_track(tracks, face=3)
    descriptors = {10.0: np.zeros(3), 100.0: np.ones(3), 200.0: 2 * np.ones(3)}
    chosen = choose_track(tracks, reference=np.full(3, 0.9), describe=lambda tr: descriptors[float(tr.boxes[0, 0])])
    assert chosen.boxes[0, 0] == 100


@pytest.fixture(scope="module")
def group_photo(tmp_path_factory):
    """A 256×512 photo: a synthetic head on the left, the astronaut (NASA, public domain) on the right."""
    pytest.importorskip("dlib")
    skimage_data = pytest.importorskip("skimage.data")
    from tfvsdk.data.synth import SynthConfig, Synthesizer

    torch.set_num_threads(1)
    synth = Synthesizer(SynthConfig(size=256))
    with torch.no_grad():
        head = io.to_uint8(synth.image(3)[0][None])[0]
    astronaut = skimage_data.astronaut()[20:276, 100:356]
    folder = tmp_path_factory.mktemp("group")
    io.write_image(folder / "group.png", np.concatenate([head, astronaut], 1))
    io.write_image(folder / "identity.png", np.ascontiguousarray(astronaut[:, ::-1]))
    return folder


@pytest.mark.parametrize("face", [0, 1])
def test_only_the_chosen_face_changes(group_photo, face):
    from tfvsdk.editor import Editor

    try:
        detector = tfvsdk.create("detector", "dlib")
    except tfvsdk.PluginError as exc:
        pytest.skip(str(exc))
    group = group_photo / "group.png"
    points = face_landmarks(str(group), detector, face=face)
    out = group_photo / f"out{face}.png"
    Editor("swap").run({"identity": group_photo / "identity.png", "target": group}, out, overwrite=True, landmarks={"target": points})
    before, after = io.read_rgb(group).astype(int), io.read_rgb(out).astype(int)
    changed = np.abs(after - before).max(-1) > 0

    chosen, other = (slice(0, 256), slice(256, 512)) if face == 0 else (slice(256, 512), slice(0, 256))
    assert changed[:, chosen].sum() > 2000
    assert not changed[:, other].any()


def test_tfv_swap_face_1_follows_the_face_that_leaves_and_leaves_the_other_alone(group_photo):
    from tfvsdk.cli import main

    try:
        tfvsdk.create("detector", "dlib")
    except tfvsdk.PluginError as exc:
        pytest.skip(str(exc))
    group = io.read_rgb(group_photo / "group.png")
    head, astronaut = group[:, :256], group[:, 256:]
    frames = []
    for t in range(10):  # the astronaut slides right and is out of the frame from frame 7 on
        canvas = np.full_like(group, 128)
        canvas[:, :256] = head
        shift = 40 * t
        if shift < 256:
            canvas[:, 256 + shift :] = astronaut[:, : 256 - shift]
        frames.append(canvas)
    target = group_photo / "clip.mp4"
    with io.VideoWriter(target, 10.0) as writer:
        for frame in frames:
            writer.write(frame)
    out = group_photo / "clip_out.mp4"
    main(["swap", "--identity", str(group_photo / "identity.png"), "--target", str(target), "--face", "1", "-o", str(out), "--overwrite"])

    before = np.stack(list(io.iter_frames(target))).astype(int)
    after = np.stack(list(io.iter_frames(out))).astype(int)
    difference = np.abs(after - before).mean(-1)
    assert difference[:, :, :256].mean() < 1.5  # the head on the left: re-encoding noise only
    assert difference[0, 40:220, 300:480].mean() > 5  # the astronaut's face, swapped
    assert difference[8:].mean() < 1.5  # after she left, nothing is edited


def test_a_reference_photo_chooses_the_face_of_that_person(group_photo):
    try:
        detector = tfvsdk.create("detector", "dlib")
    except tfvsdk.PluginError as exc:
        pytest.skip(str(exc))
    points = face_landmarks(str(group_photo / "group.png"), detector, reference=str(group_photo / "identity.png"))

    assert float(np.nanmin(points[0, :, 0])) > 256  # the astronaut, on the right half
