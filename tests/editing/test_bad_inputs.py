"""Bad sources give one clear error naming the file, and leave no output or temporary file behind."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

import tfvsdk
from tfvsdk import io
from tfvsdk.editor import Editor


def swap(identity, target, out_dir, landmarks=None):
    return Editor("swap").run({"identity": identity, "target": target}, out_dir / "out.mp4", landmarks=landmarks)


@pytest.fixture
def out_dir(tmp_path):
    path = tmp_path / "out"
    path.mkdir()
    yield path
    assert list(path.iterdir()) == [], "nothing may be left in the output folder after a failed edit"


def test_a_missing_file(clips, tmp_path, out_dir):
    with pytest.raises(tfvsdk.InputError, match=r"nobody\.mp4: file not found"):
        swap(tmp_path / "nobody.mp4", clips["bob"].path, out_dir)


def test_a_text_file_renamed_mp4(clips, tmp_path, out_dir):
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my notes, not a video\n" * 50)
    with pytest.raises(tfvsdk.InputError, match=r"notes\.mp4: not a readable video"):
        swap(clips["alice"].path, fake, out_dir)


def test_a_truncated_video(clips, tmp_path, out_dir):
    whole = clips["bob"].path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(tfvsdk.InputError, match=r"cut\.mp4"):
        swap(clips["alice"].path, cut, out_dir, landmarks={"identity": clips["alice"].landmarks})


def test_a_zero_length_video(clips, tmp_path, out_dir):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(tfvsdk.InputError, match=r"empty\.mp4: file is empty"):
        swap(clips["alice"].path, empty, out_dir)
    no_frames = tmp_path / "no_frames.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(clips["bob"].path), "-frames:v", "0",
         "-c:v", "libx264", str(no_frames)],
        check=True,
    )
    with pytest.raises(tfvsdk.InputError, match=r"no_frames\.mp4: not a readable video"):
        swap(clips["alice"].path, no_frames, out_dir)


def test_an_image_with_no_face(clips, tmp_path, out_dir):
    wall = tmp_path / "wall.png"
    io.write_image(wall, np.full((96, 96, 3), 128, np.uint8))
    nowhere = {"identity": np.full((1, 68, 2), np.nan, np.float32), "target": clips["bob"].landmarks}
    with pytest.raises(tfvsdk.NoFaceError, match=r"wall\.png: no face found"):
        swap(wall, clips["bob"].path, out_dir, landmarks=nowhere)


def test_an_image_with_no_face_seen_by_the_detector(clips, tmp_path, out_dir):
    pytest.importorskip("dlib")
    wall = tmp_path / "wall.png"
    io.write_image(wall, np.full((96, 96, 3), 128, np.uint8))
    with pytest.raises(tfvsdk.NoFaceError, match=r"wall\.png: no face found"):
        swap(wall, clips["bob"].path, out_dir, landmarks={"target": clips["bob"].landmarks})


def test_wrong_roles_and_landmark_shapes(clips, out_dir):
    with pytest.raises(tfvsdk.InputError, match=r"the task needs \['identity', 'target'\]"):
        Editor("swap").run({"source": clips["alice"].path, "target": clips["bob"].path}, out_dir / "out.mp4")
    with pytest.raises(tfvsdk.InputError, match=r"landmarks\['target'\]: expected \(frames, L, 2\)"):
        swap(clips["alice"].path, clips["bob"].path, out_dir, landmarks={"target": np.zeros((10, 68))})


def test_landmarks_for_another_number_of_frames(clips, out_dir):
    sources = (clips["alice"].path, clips["bob"].path)
    for rows in (9, 11):
        landmarks = {"identity": clips["alice"].landmarks, "target": np.resize(clips["bob"].landmarks, (rows, 68, 2))}
        with pytest.raises(tfvsdk.InputError, match=rf"bob\.mp4: {rows} landmark rows given for a video of"):
            swap(*sources, out_dir, landmarks=landmarks)


def test_an_unknown_plugin_name(clips):
    with pytest.raises(tfvsdk.PluginError, match=r"unknown blender 'poisson'\. Available: bsn, classical"):
        Editor("swap", blender="poisson")


@pytest.mark.parametrize("setting", [{"chunk_size": 0}, {"smoothing": -1.0}, {"texture_size": 4}, {"texture_views": 0},
                                     {"texture_views": True}, {"length": "longest"}])
def test_a_bad_editor_setting_is_named(setting):
    (name, value), = setting.items()
    with pytest.raises(tfvsdk.InputError, match=rf"^{name}: expected"):
        Editor("swap", **setting)


def test_a_network_blender_by_name_without_weights_is_refused():
    with pytest.raises(tfvsdk.InputError, match=r"blender 'bsn' is a network and no trained weights were given"):
        Editor("swap", blender="bsn")
    Editor("swap", blender=tfvsdk.create("blender", "bsn"))  # an instance is used as given


class HalfSize(tfvsdk.Blender):
    """A broken blender: it returns the frames at half their size."""

    def _blend(self, rendered, appearance, hint, mask):
        return appearance[..., ::2, ::2]


def test_a_blender_breaking_its_contract_is_named_instead_of_failing_deep_in_the_editor(clips, out_dir):
    editor = Editor("swap", blender=HalfSize())
    landmarks = {"identity": clips["alice"].landmarks, "target": clips["bob"].landmarks}
    with pytest.raises(tfvsdk.PluginError, match=r"HalfSize broke its contract: blend\(\) returned shape \(\d+, 3, 48, 48\), expected"):
        editor.run({"identity": clips["alice"].path, "target": clips["bob"].path}, out_dir / "out.mp4", landmarks=landmarks)
