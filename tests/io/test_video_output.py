"""What a written video holds, its permissions, and what a full disk or a racing file does to it."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import threading
import uuid

import numpy as np
import pytest

from tfvsdk import InputError, OutputError, io


def frames(n, h=48, w=64):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def write(path, n=20, **kwargs):
    with io.VideoWriter(path, fps=10, **kwargs) as writer:
        for frame in frames(n):
            writer.write(frame)
    return path


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_one_audio_track_gives_one_video_and_one_audio_stream(tmp_path, with_audio):
    assert io.read_container(with_audio).streams == ("video", "audio")
    out = write(tmp_path / "out.mp4", audio_from=with_audio)
    assert io.read_container(out) == io.ContainerInfo(("video", "audio"), 20)
    silent = write(tmp_path / "silent.mp4")
    assert io.read_container(silent).streams == ("video",)
    assert out.stat().st_size < 1.6 * silent.stat().st_size + 40_000  # one AAC track added, not a second picture


def test_audio_shorter_than_the_picture_keeps_every_frame(tmp_path, with_audio):
    out = write(tmp_path / "long.mp4", n=35, audio_from=with_audio)  # 3.5 s of picture, 2 s of sound
    assert io.read_container(out).video_frames == 35


def test_videos_and_images_get_the_umask_mode_even_when_replacing(tmp_path, umask_022):
    video = write(tmp_path / "out.mp4")
    image = io.write_image(tmp_path / "still.png", frames(1)[0])
    assert stat.S_IMODE(video.stat().st_mode) == 0o644 and stat.S_IMODE(image.stat().st_mode) == 0o644
    os.chmod(video, 0o600)
    write(video, overwrite=True)
    assert stat.S_IMODE(video.stat().st_mode) == 0o644


def test_a_file_that_appears_while_writing_is_not_replaced(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(OutputError, match="appeared at the output path"):
        with io.VideoWriter(out, fps=10, overwrite=False) as writer:
            for k, frame in enumerate(frames(10)):
                writer.write(frame)
                if k == 5:
                    out.write_bytes(b"someone else's file")
    assert out.read_bytes() == b"someone else's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


@contextlib.contextmanager
def small_tmpfs(folder, size="40k"):
    """A tmpfs of ``size`` mounted at ``folder`` (skips the test where mounting is not allowed)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", f"tfv-test-{uuid.uuid4().hex[:6]}", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip() or mounted.returncode})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_is_an_error_and_keeps_the_previous_file(tmp_path):
    with small_tmpfs(tmp_path / "small") as folder:
        previous = folder / "out.mp4"
        previous.write_bytes(b"previous good file")
        with pytest.raises(OutputError, match=r"out\.mp4: .*No space left on device"):
            write(previous, n=60, overwrite=True)
        assert previous.read_bytes() == b"previous good file"
        assert sorted(p.name for p in folder.iterdir()) == ["out.mp4"]


def test_an_unsupported_output_format_is_refused_before_writing(tmp_path):
    for name in ("out", "out.webm", "out.png"):
        with pytest.raises(InputError, match=name):
            io.check_output(tmp_path / name, kind="video")
    with pytest.raises(InputError, match="unsupported video format"):
        io.VideoWriter(tmp_path / "out.avi", fps=10)


def test_an_interrupt_while_the_encoder_starts_stops_it_and_leaves_nothing(tmp_path, monkeypatch):
    """SIGINT as ffmpeg is being started: the writer still holds the encoder when the interrupt arrives, so
    it is stopped and the partial file deleted (before, a started but unheld encoder outlived the interrupt
    and could write the partial file after its deletion)."""
    started = []
    popen = subprocess.Popen

    def interrupted_popen(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        os.kill(os.getpid(), signal.SIGINT)
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", interrupted_popen)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job inherits SIGINT ignored
    busy = threading.Event()
    other = threading.Thread(target=busy.wait)  # as in a full test run: the signal may reach another thread
    other.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            with io.VideoWriter(tmp_path / "out.mp4", fps=10) as writer:
                writer.write(np.zeros((16, 16, 3), np.uint8))
    finally:
        busy.set()
        other.join()
        signal.signal(signal.SIGINT, previous)
    assert started[0].poll() is not None, "the encoder was stopped"
    assert list(tmp_path.iterdir()) == []
