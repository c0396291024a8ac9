"""A video with a sound track, made with the ffmpeg that imageio-ffmpeg ships."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import pytest


@pytest.fixture
def with_audio(tmp_path):
    """A 2 s, 10 fps, 128×96 test-pattern video with a 440 Hz tone."""
    path = tmp_path / "with_audio.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=128x96:rate=10",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path
