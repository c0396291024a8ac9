"""Aligning sources of different lengths and frame rates to the output's frames.

The output follows the composer's timeline source (its frame rate and length). Output frame k is shown at
time k / fps_out; a video source with frame rate f supplies its frame ⌊k · f / fps_out⌋ (nearest earlier
frame), an image supplies its only frame for every k. Length policies:

* ``"shortest"`` — stop at the end of the shortest video source;
* ``"loop"`` — run for the timeline source's length; shorter videos start again from their first frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import InputError
from .io import iter_frames

LENGTH_POLICIES = ("shortest", "loop")


def source_index(k: np.ndarray, fps_out: float, fps_src: float | None, n_src: int, loop: bool) -> np.ndarray:
    """Index of the source frame shown at output frames ``k`` (images: always 0).

    Args:
        k: output frame indices.
        fps_out: output frame rate.
        fps_src: the source's frame rate (None for an image).
        n_src: the source's number of frames.
        loop: wrap around past the source's end (otherwise indices past the end are clamped).
    """
    if fps_src is None:
        return np.zeros_like(k)
    idx = np.floor(k * (fps_src / fps_out) + 1e-6).astype(np.int64)
    return idx % n_src if loop else np.minimum(idx, n_src - 1)


def output_length(policy: str, fps_out: float, timeline: str, sources: dict[str, tuple[float | None, int]]) -> int:
    """Number of output frames under ``policy`` for ``sources`` = {role: (fps or None, n_frames)}."""
    if policy not in LENGTH_POLICIES:
        raise InputError(f"length policy: expected one of {LENGTH_POLICIES}, got {policy!r}")

    def covered(fps: float | None, n: int) -> float:
        return math.inf if fps is None else math.floor(n * fps_out / fps + 1e-6)

    if policy == "loop":
        fps, n = sources[timeline]
        return 1 if fps is None else n
    length = min(covered(fps, n) for fps, n in sources.values())
    return 1 if math.isinf(length) else int(length)


class FrameCursor:
    """Streams the frames of one source at arbitrary non-decreasing (or wrapping) indices.

    Only the current frame is held; a request for an earlier index (a loop) reopens the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._iter: Iterator[np.ndarray] | None = None
        self._index = -1
        self._frame: np.ndarray | None = None

    def get(self, index: int) -> np.ndarray:
        if self._iter is None or index < self._index:
            self._iter = iter_frames(self.path, check_complete=False)
            self._index, self._frame = -1, None
        while self._index < index:
            try:
                self._frame = next(self._iter)
            except StopIteration:
                raise InputError(f"{self.path}: frame {index} requested but the file has only {self._index + 1}") from None
            self._index += 1
        return self._frame
