"""The Editor runs every task on video files: outputs, timing policies, missing faces, audio, a fourth task."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

import tfvsdk
from tfvsdk import io
from tfvsdk.editor import Editor
from tfvsdk.demo import TASKS


def frames_of(path) -> np.ndarray:
    return np.stack(list(io.iter_frames(path)))


def run(task, clips, tmp_path, roles=None, **editor_config):
    roles = roles or TASKS[task]
    out = tmp_path / f"{task}.mp4"
    summary = Editor(task, **editor_config).run(
        {role: clips[name].path for role, name in roles.items()},
        out,
        landmarks={role: clips[name].landmarks for role, name in roles.items()},
    )
    return summary, out


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_writes_a_video_that_edits_the_face_and_keeps_the_rest(task, clips, tmp_path):
    summary, out = run(task, clips, tmp_path)
    timeline = TASKS[task][tfvsdk.create("composer", task).timeline_role]
    appearance = {"swap": "bob", "reenact": "alice", "remix": "bob"}[task]

    assert (summary.output, summary.frames, summary.fps, summary.missing) == (out, 10, 10.0, ())
    info = io.probe(out)
    assert (info.n_frames, info.size, info.fps) == (10, (96, 96), io.probe(clips[timeline].path).fps)
    edited, background = frames_of(out).astype(float), frames_of(clips[appearance].path).astype(float)
    corners = np.s_[:, :12, :12]
    # a reenactment poses the face as the driver's, and the head around it follows (tfvsdk.head_motion): at 96²
    # that reaches the corners, which move by a few pixels over a smooth background
    bound = 6.0 if task == "reenact" else 2.0
    assert np.abs(edited[corners] - background[corners]).mean() < bound, "outside the face the appearance frame is kept"
    assert np.abs(edited - background).max() > 60, "the face is edited"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name], "no temporary file left behind"


class ExpressionOnly(tfvsdk.TaskComposer):
    """A fourth task defined outside the SDK: the target keeps its face and pose; only the expression changes."""

    roles = ("target", "expression")
    timeline_role = "target"

    def compose(self, fits):
        target = fits["target"]
        return tfvsdk.Composition(
            alpha_id=target.alpha_id,
            alpha_exp=fits["expression"].alpha_exp,
            camera=target.camera,
            image_size=target.image_size,
            texture_role="target",
            appearance_role="target",
            hint_role="target",
        )


def test_a_fourth_task_runs_through_the_same_editor(clips, tmp_path):
    editor = Editor(ExpressionOnly())
    out = tmp_path / "expression.mp4"
    summary = editor.run(
        {"target": clips["bob"].path, "expression": clips["carol"].path},
        out,
        landmarks={"target": clips["bob"].landmarks, "expression": clips["carol"].landmarks},
    )
    assert summary.frames == 10 and out.exists()
    edited, target = frames_of(out).astype(float), frames_of(clips["bob"].path).astype(float)
    assert np.abs(edited - target).max() > 30


def test_a_fourth_task_registered_by_a_plugin_gets_a_command(clips, tmp_path, fresh_plugins):
    from click.testing import CliRunner

    from tfvsdk.cli import _add_plugin_commands, cli

    class Plugin:
        @tfvsdk.hookimpl
        def register_composers(self, register):
            register("expression", ExpressionOnly, description="the expression of another video")

    fresh_plugins.register(Plugin(), name="expression-plugin")
    _add_plugin_commands()
    for role, name in (("target", "bob"), ("expression", "carol")):
        np.save(tmp_path / f"{role}.npy", clips[name].landmarks)
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(cli, [
        "expression", "--target", str(clips["bob"].path), "--expression", str(clips["carol"].path),
        "-o", str(out), "--landmarks", f"target={tmp_path / 'target.npy'}",
        "--landmarks", f"expression={tmp_path / 'expression.npy'}",
    ])
    assert result.exit_code == 0, result.output
    assert "10 frames at 10 fps" in result.output and "no face missing" in result.output
    assert io.probe(out).n_frames == 10


def test_a_video_identity_is_fused_so_its_own_passing_shadows_do_not_flicker_in_the_swap(clips, tmp_path):
    """An identity clip whose face is shaded 15 % darker on every other frame (a shadow that passes the skin
    test): its texels are fused by confidence, each keeping its first best view, so the swapped face does
    not alternate with the identity's light (against the swap of the unshaded clip, frame to frame)."""
    def box(points: np.ndarray) -> tuple[slice, slice]:
        (x0, y0), (x1, y1) = points.min(0).astype(int), points.max(0).astype(int)
        return slice(y0, y1), slice(x0, x1)

    frames, landmarks = frames_of(clips["alice"].path).astype(np.float32), clips["alice"].landmarks
    shaded = frames.copy()
    for k in range(1, len(frames), 2):
        shaded[k][box(landmarks[k])] *= 0.85
    with io.VideoWriter(tmp_path / "shaded.mp4", 10.0) as writer:
        for frame in shaded.round().astype(np.uint8):
            writer.write(frame)
    outputs = {}
    for name, identity in (("plain", clips["alice"].path), ("shaded", tmp_path / "shaded.mp4")):
        summary = Editor("swap").run({"identity": identity, "target": clips["bob"].path}, tmp_path / f"swap_{name}.mp4",
                                     landmarks={"identity": landmarks, "target": clips["bob"].landmarks})
        outputs[name] = frames_of(summary.output).astype(float)
    shade = np.mean([(frames[k] - shaded[k])[box(landmarks[k])].mean() for k in range(1, len(frames), 2)])
    darker = [(outputs["shaded"][k] - outputs["plain"][k])[box(clips["bob"].landmarks[k])].mean() for k in range(len(frames))]
    assert np.abs(np.diff(darker)).mean() < 0.1 * shade, "the swap's face does not alternate with the identity's shade"


def test_a_video_identity_gives_a_target_that_holds_still_a_still_face(clips, tmp_path):
    """The identity clip's texture is fused over the whole clip before the first output frame, so it is the
    same in every frame: a target that holds still (one frame repeated) gets the same face in every output
    frame, although the identity turns and changes expression from frame to frame."""
    still = frames_of(clips["bob"].path)[:1].repeat(10, 0)
    with io.VideoWriter(tmp_path / "still.mp4", 10.0) as writer:
        for frame in still:
            writer.write(frame)
    summary = Editor("swap", chunk_size=4).run(
        {"identity": clips["alice"].path, "target": tmp_path / "still.mp4"}, tmp_path / "swap.mp4",
        landmarks={"identity": clips["alice"].landmarks, "target": clips["bob"].landmarks[:1].repeat(10, 0)})
    out = frames_of(summary.output).astype(float)
    (x0, y0), (x1, y1) = clips["bob"].landmarks[0].min(0).astype(int), clips["bob"].landmarks[0].max(0).astype(int)
    face = out[:, y0:y1, x0:x1]
    assert np.abs(face - still[:, y0:y1, x0:x1]).max() > 50, "the face is swapped"
    assert np.abs(face - face[:1]).max() <= 2


def test_a_long_identity_clip_is_textured_from_texture_views_evenly_spaced_frames(clips, tmp_path):
    """``texture_views`` caps the frames fused into a video identity's texture, spread evenly over the clip
    from its first frame to its last: with 2 views only frames 0 and 9 of a 10-frame clip count, so tinting
    every frame in between changes nothing, while fusing every frame takes tinted texels in. (The clips are
    written losslessly, crf 0, so that frames 0 and 9 decode the same in both.)"""
    frames, landmarks = frames_of(clips["alice"].path), clips["alice"].landmarks
    tinted = frames.astype(np.float32)
    tinted[1:-1] *= np.array([0.6, 1.0, 0.6], np.float32)
    for name, clip in (("plain", frames), ("tinted", tinted.round().astype(np.uint8))):
        with io.VideoWriter(tmp_path / f"{name}.mp4", 10.0, crf=0) as writer:
            for frame in clip:
                writer.write(frame)

    def swap(name: str, views: int | None) -> np.ndarray:
        out = tmp_path / f"swap_{name}_{views}.mp4"
        Editor("swap", texture_views=views).run({"identity": tmp_path / f"{name}.mp4", "target": clips["bob"].path}, out,
                                                landmarks={"identity": landmarks, "target": clips["bob"].landmarks})
        return frames_of(out).astype(float)

    assert np.abs(swap("plain", 2) - swap("tinted", 2)).max() == 0
    assert np.abs(swap("plain", None) - swap("tinted", None)).max() > 20


def test_frames_without_a_face_are_copied_through_and_listed(clips, tmp_path):
    landmarks = clips["bob"].landmarks.copy()
    landmarks[[2, 7]] = np.nan
    out = tmp_path / "swap.mp4"
    summary = Editor("swap").run(
        {"identity": clips["alice"].path, "target": clips["bob"].path},
        out,
        landmarks={"identity": clips["alice"].landmarks, "target": landmarks},
    )
    assert summary.missing == (2, 7)
    assert "faces missing in 2 frames" in summary.line()
    edited, target = frames_of(out).astype(float), frames_of(clips["bob"].path).astype(float)
    assert np.abs(edited[[2, 7]] - target[[2, 7]]).mean() < 3.0, "copied through (up to re-encoding)"
    assert np.abs(edited[3] - target[3]).max() > 60


def test_a_driving_face_missed_in_a_frame_is_bridged_not_copied_through(clips, tmp_path):
    """A reenactment's driver whose face the detector missed in frames 4–5: the source is still reenacted
    there, in a pose between those of frames 3 and 6, instead of flashing back to the unedited source."""
    driver = clips["carol"].landmarks.copy()
    driver[[4, 5]] = np.nan
    roles = {"source": clips["alice"].path, "driver": clips["carol"].path}
    summary = Editor("reenact").run(roles, tmp_path / "bridged.mp4", landmarks={"source": clips["alice"].landmarks, "driver": driver})
    whole = Editor("reenact").run(roles, tmp_path / "whole.mp4", landmarks={"source": clips["alice"].landmarks, "driver": clips["carol"].landmarks})
    assert summary.missing == ()
    bridged, seen = frames_of(summary.output).astype(float), frames_of(whole.output).astype(float)
    unedited = frames_of(clips["alice"].path).astype(float)
    for k in (4, 5):
        assert np.abs(bridged[k] - seen[k]).mean() < 0.5 * np.abs(unedited[k] - seen[k]).mean(), f"frame {k} is reenacted"
    assert np.abs(bridged[[0, 1, 2, 8, 9]] - seen[[0, 1, 2, 8, 9]]).mean() < 2.0, "frames away from the gap as before"


def test_the_composer_prepares_whole_sources_once_before_the_chunks(clips, tmp_path):
    """A relative reenactment needs the driver's rest expression over all its frames: the editor hands the
    composer's ``prepare`` each role's fit of the whole clip (10 frames), not a chunk (4)."""
    from tfvsdk_tasks import Reenact

    seen = []

    class Recording(Reenact):
        def _prepare(self, fits):
            seen.append({role: fit.batch_size for role, fit in fits.items()})
            return super()._prepare(fits)

    roles = {"source": clips["alice"].path, "driver": clips["carol"].path}
    landmarks = {"source": clips["alice"].landmarks, "driver": clips["carol"].landmarks}
    Editor(Recording(expression="relative"), chunk_size=4).run(roles, tmp_path / "relative.mp4", landmarks=landmarks)
    assert seen == [{"source": 10, "driver": 10}]


def test_sources_of_different_lengths_stop_at_the_shortest_or_loop(clips, tmp_path):
    short = tmp_path / "short.mp4"
    with io.VideoWriter(short, 10.0) as writer:
        for frame in frames_of(clips["alice"].path)[:4]:
            writer.write(frame)
    sources = {"identity": short, "target": clips["bob"].path}
    landmarks = {"identity": clips["alice"].landmarks[:4], "target": clips["bob"].landmarks}

    shortest = Editor("swap", length="shortest").run(sources, tmp_path / "a.mp4", landmarks=landmarks)
    looped = Editor("swap", length="loop").run(sources, tmp_path / "b.mp4", landmarks=landmarks)
    assert (shortest.frames, looped.frames) == (4, 10)
    assert io.probe(tmp_path / "b.mp4").n_frames == 10


def test_an_image_identity_and_a_target_of_another_size_and_rate(clips, tmp_path):
    face = tmp_path / "alice.png"
    io.write_image(face, frames_of(clips["alice"].path)[0])
    wide = tmp_path / "bob_wide.mp4"
    with io.VideoWriter(wide, 5.0) as writer:
        for frame in frames_of(clips["bob"].path):
            writer.write(np.pad(frame, ((0, 0), (16, 16), (0, 0)), mode="edge"))
    shifted = clips["bob"].landmarks + np.array([16.0, 0.0], dtype=np.float32)
    summary = Editor("swap").run(
        {"identity": face, "target": wide},
        tmp_path / "out.mp4",
        landmarks={"identity": clips["alice"].landmarks[:1], "target": shifted},
    )
    info = io.probe(tmp_path / "out.mp4")
    assert (summary.frames, summary.fps, info.size) == (10, 5.0, (96, 128))


def test_the_target_audio_track_is_kept(clips, tmp_path):
    with_audio = tmp_path / "bob_audio.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(clips["bob"].path), "-f", "lavfi",
         "-i", "sine=frequency=440:duration=1", "-c:v", "copy", "-c:a", "aac", "-shortest", str(with_audio)],
        check=True,
    )
    assert io.probe(with_audio).has_audio
    Editor("swap").run(
        {"identity": clips["alice"].path, "target": with_audio},
        tmp_path / "out.mp4",
        landmarks={"identity": clips["alice"].landmarks, "target": clips["bob"].landmarks},
    )
    assert io.probe(tmp_path / "out.mp4").has_audio


def test_an_existing_output_is_kept_unless_overwrite(clips, tmp_path):
    out = tmp_path / "swap.mp4"
    out.write_bytes(b"precious")
    sources = {"identity": clips["alice"].path, "target": clips["bob"].path}
    landmarks = {"identity": clips["alice"].landmarks, "target": clips["bob"].landmarks}
    with pytest.raises(tfvsdk.InputError, match="swap.mp4: already exists"):
        Editor("swap").run(sources, out, landmarks=landmarks)
    assert out.read_bytes() == b"precious"
    Editor("swap").run(sources, out, landmarks=landmarks, overwrite=True)
    assert io.probe(out).n_frames == 10
    with pytest.raises(tfvsdk.InputError, match="would overwrite an input"):
        Editor("swap").run(sources, clips["bob"].path, landmarks=landmarks, overwrite=True)
