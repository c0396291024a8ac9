"""Reading and writing images and videos, streamed, through imageio and imageio-ffmpeg.

Frames are uint8 (H, W, 3) RGB arrays at this boundary; :func:`to_tensor` / :func:`to_uint8` convert to and
from the SDK's (B, 3, H, W) float images in [0, 1]. Videos are decoded one frame at a time (memory does not
grow with length) and written to a temporary file that is renamed when complete, so an interrupted run never
leaves a half-written output under the final name and never touches an existing file.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import torch

from .errors import InputError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@attrs.frozen
class SourceInfo:
    """What is known about an image or video before decoding it.

    Attributes:
        path: the file.
        size: (height, width) in pixels.
        fps: frames per second (None for a still image).
        n_frames: number of frames the container announces (1 for an image).
        has_audio: whether the container has an audio stream.
    """

    path: Path
    size: tuple[int, int]
    fps: float | None
    n_frames: int
    has_audio: bool = False

    @property
    def is_image(self) -> bool:
        return self.fps is None


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """An image file as an (H, W, 3) array of its own dtype (grey repeated, alpha dropped).

    Raises:
        InputError: the file is missing, unreadable, or not a grey/RGB(A) image.
    """
    try:
        image = iio.imread(path)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except Exception as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from exc
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise InputError(f"{path}: expected an RGB(A) or grey image, got an array of shape {image.shape}")
    return np.ascontiguousarray(image[..., :3])


def _read_image(path: Path) -> np.ndarray:
    image = read_rgb(path)
    if image.dtype != np.uint8:
        image = (image / np.iinfo(image.dtype).max * 255).round().astype(np.uint8) if image.dtype.kind == "u" else image.astype(np.uint8)
    return image


def _open_video(path: Path) -> tuple[Iterator[bytes], SourceInfo]:
    """An ffmpeg frame reader positioned at the first frame, and the video's description from its header."""
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as exc:
        reader.close()
        raise InputError(f"{path}: not a readable video ({str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__})") from exc
    w, h = meta["size"]
    fps = float(meta.get("fps") or 0.0)
    n = int(round(float(meta.get("duration") or 0.0) * fps))
    if fps <= 0 or n <= 0:
        reader.close()
        raise InputError(f"{path}: the video has no {'frame rate' if fps <= 0 else 'frames'}")
    return reader, SourceInfo(path, (h, w), fps, n, has_audio=bool(meta.get("audio_codec")))


def probe(path: str | os.PathLike) -> SourceInfo:
    """Describe an image or video without decoding its frames.

    Raises:
        InputError: the file is missing, empty, or not a readable image/video.
    """
    p = _existing_file(path)
    if is_image_path(p):
        h, w = _read_image(p).shape[:2]
        return SourceInfo(p, (h, w), None, 1)
    reader, info = _open_video(p)
    reader.close()
    return info


def _existing_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: file is empty")
    return p


def iter_frames(path: str | os.PathLike, *, check_complete: bool = True) -> Iterator[np.ndarray]:
    """Yield the frames of an image (one frame) or video as uint8 (H, W, 3) arrays, one at a time.

    Args:
        path: an image or video file.
        check_complete: raise when a video ends more than 3 frames (or 2 %) before the frame count its
            container announces — the symptom of a truncated file, which ffmpeg otherwise decodes silently.

    Raises:
        InputError: unreadable, empty or truncated input, or a video with no frames.
    """
    p = _existing_file(path)
    if is_image_path(p):
        yield _read_image(p)
        return
    reader, info = _open_video(p)
    h, w = info.size
    count = 0
    try:
        for raw in reader:
            yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)
            count += 1
    except RuntimeError as exc:
        raise InputError(f"{info.path}: decoding failed after {count} frames ({exc})") from exc
    finally:
        reader.close()
    if count == 0:
        raise InputError(f"{info.path}: the video has no decodable frames")
    if check_complete and count < info.n_frames - max(3, 0.02 * info.n_frames):
        raise InputError(
            f"{info.path}: truncated video: the container announces {info.n_frames} frames, only {count} decode"
        )


def to_tensor(frames: np.ndarray | list[np.ndarray], device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (H, W, 3) frame(s) → float (B, 3, H, W) in [0, 1]."""
    array = np.stack(frames) if isinstance(frames, list) else frames
    if array.ndim == 3:
        array = array[None]
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, order="C")
    return torch.from_numpy(array).to(device).permute(0, 3, 1, 2).float().div_(255.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float (B, 3, H, W) in [0, 1] → uint8 (B, H, W, 3)."""
    return images.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _partial_path(final: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".partial{final.suffix}", dir=final.parent)
    os.close(fd)
    return Path(name)


def check_output(path: str | os.PathLike, *, overwrite: bool = False, inputs: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Validate an output path before any work starts.

    Raises:
        InputError: the output exists (and ``overwrite`` is False), is one of the inputs, or its folder is missing.
    """
    out = Path(path)
    if any(Path(i).resolve() == out.resolve() for i in inputs):
        raise InputError(f"{out}: the output would overwrite an input")
    if out.exists() and not overwrite:
        raise InputError(f"{out}: already exists (pass overwrite=True / --overwrite to replace it)")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: output folder does not exist")
    return out


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 (H, W, 3) image atomically (temporary file + rename)."""
    final = Path(path)
    tmp = _partial_path(final)
    try:
        iio.imwrite(tmp, image, extension=final.suffix)
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class VideoWriter:
    """Write an H.264 video (yuv420p, CRF 18) atomically, optionally copying the audio of another file.

    Frames go to a temporary file next to the output; :meth:`close` renames it to ``path``. Leaving the
    ``with`` block through an exception deletes the temporary file and leaves ``path`` untouched. Odd frame
    sizes are padded by one edge row/column (yuv420p needs even sizes).

    Example:
        >>> with VideoWriter("out.mp4", fps=25, audio_from="target.mp4") as writer:  # doctest: +SKIP
        ...     for frame in frames:
        ...         writer.write(frame)
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, audio_from: str | os.PathLike | None = None, crf: int = 18) -> None:
        if not math.isfinite(fps) or fps <= 0:
            raise InputError(f"fps: expected a positive frame rate, got {fps}")
        self.path = Path(path)
        self.fps = fps
        self.audio_from = audio_from
        self.crf = crf
        self.frames_written = 0
        self._tmp: Path | None = None
        self._gen = None
        self._size: tuple[int, int] | None = None

    def _start(self, h: int, w: int) -> None:
        self._tmp = _partial_path(self.path)
        self._size = (h, w)
        self._gen = imageio_ffmpeg.write_frames(
            str(self._tmp),
            (w + w % 2, h + h % 2),
            fps=self.fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=1,
            output_params=["-crf", str(self.crf), "-movflags", "+faststart"]
            + (["-map", "0:v:0", "-map", "1:a:0?", "-shortest"] if self.audio_from else []),
            audio_path=str(self.audio_from) if self.audio_from else None,
            audio_codec="aac" if self.audio_from else None,
            ffmpeg_log_level="error",
        )
        self._gen.send(None)

    def write(self, frame: np.ndarray) -> None:
        """Append a uint8 (H, W, 3) frame; every frame must have the first frame's size."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(f"frame: expected uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        if self._gen is None:
            self._start(h, w)
        elif (h, w) != self._size:
            raise InputError(f"frame: expected size {self._size}, got {(h, w)}")
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        self._gen.send(np.ascontiguousarray(frame))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and rename it to :attr:`path`."""
        if self._gen is None:
            raise InputError(f"{self.path}: no frame was written")
        self._gen.close()
        self._gen = None
        os.replace(self._tmp, self.path)
        self._tmp = None

    def abort(self) -> None:
        """Stop and delete the temporary file; :attr:`path` is left as it was."""
        if self._gen is not None:
            with contextlib.suppress(Exception):
                self._gen.close()
            self._gen = None
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
            self._tmp = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
