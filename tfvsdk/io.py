"""Reading and writing images and videos, streamed, through imageio and imageio-ffmpeg.

Frames are uint8 (H, W, 3) RGB arrays at this boundary; :func:`to_tensor` / :func:`to_uint8` convert to and
from the SDK's (B, 3, H, W) float images in [0, 1]. Videos are decoded one frame at a time (memory does not
grow with length) and written through :mod:`tfvsdk.publish`: to a partial file that is checked (the encoder's exit
status, the frame count read back) and only then published, so a failed or interrupted run never leaves a
half-written output under the final name.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import torch
from PIL import Image, ImageOps

from . import publish
from .errors import InputError, OutputError

logger = logging.getLogger(__name__)


class _UprightFrameNotice(logging.Filter):
    """Drops imageio-ffmpeg's warning that ffmpeg's output frame size differs from the stream's: for a video
    with a rotation tag (a phone's portrait clip) ffmpeg turns the frames upright, as intended here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is different from the source frame size" not in record.getMessage()


logging.getLogger("imageio_ffmpeg").addFilter(_UprightFrameNotice())

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
_DEEP_GREY_MODES = {"I;16", "I;16B", "I;16L"}
"""Pillow modes of 16-bit grey images, read as uint16 (the rest is converted to 8-bit RGB)."""


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
    """An image file as an (H, W, 3) array, upright (its EXIF orientation applied, as a phone's portrait
    photo is stored sideways), in RGB: grey is repeated, alpha dropped, palette and CMYK converted. 16-bit
    grey gives uint16, everything else uint8 (Pillow's conversion: 32-bit integer and float images are
    clipped to 0–255).

    Raises:
        InputError: the file is missing, unreadable, or not an image.
    """
    try:
        with Image.open(path) as opened:
            upright = ImageOps.exif_transpose(opened)
            image = np.array(upright if upright.mode in _DEEP_GREY_MODES else upright.convert("RGB"))  # a writable copy
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except Exception as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from exc
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image


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
    """Describe an image or video, checking that it decodes (an image entirely, a video's first frame).

    Raises:
        InputError: the file is missing, empty, or not a readable image/video.
    """
    p = _existing_file(path)
    if is_image_path(p):
        h, w = _read_image(p).shape[:2]
        return SourceInfo(p, (h, w), None, 1)
    reader, info = _open_video(p)
    try:
        first = next(reader, None)
    except (OSError, RuntimeError) as exc:
        raise InputError(f"{p}: not a readable video (its first frame does not decode: {exc})") from exc
    finally:
        reader.close()
    if first is None:
        raise InputError(f"{p}: the video has no decodable frames")
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


VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv"}


def check_output(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    inputs: tuple[str | os.PathLike, ...] = (),
    kind: str | None = None,
) -> Path:
    """Validate an output path before any work starts.

    Args:
        path: the file to be written.
        overwrite: whether an existing file may be replaced.
        inputs: files that must not be the output.
        kind: ``"video"`` or ``"image"``: the suffix must name a format of that kind (``.mp4``, ``.mov``,
            ``.mkv``, ``.m4v``; or an image suffix); None accepts any suffix.

    The partial files that killed runs left in the folder are deleted here, once per process and folder
    (:func:`tfvsdk.publish.clean_leftovers_once`, a warning for each).

    Raises:
        InputError: the output exists (and ``overwrite`` is False), is one of the inputs, has a suffix that is
            not a writable format of ``kind``, or its folder is missing or not writable.
    """
    out = Path(path)
    if any(Path(i).resolve() == out.resolve() for i in inputs):
        raise InputError(f"{out}: the output would overwrite an input")
    if kind == "video" and out.suffix.lower() not in VIDEO_SUFFIXES:
        hint = "the output of a video edit must be a video" if is_image_path(out) else "unsupported video format"
        raise InputError(f"{out}: {hint}; expected a name ending in {', '.join(sorted(VIDEO_SUFFIXES))}")
    if kind == "image" and not is_image_path(out):
        raise InputError(f"{out}: expected an image name ending in {', '.join(sorted(IMAGE_SUFFIXES))}")
    if out.is_dir():
        raise InputError(f"{out}: is a folder; expected a file name")
    if out.exists() and not overwrite:
        raise InputError(f"{out}: already exists (pass overwrite=True / --overwrite to replace it)")
    folder = out.parent
    if not folder.is_dir():
        raise InputError(f"{folder}: output folder does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{folder}: output folder is not writable")
    publish.clean_leftovers_once(folder)
    return out


def write_image(path: str | os.PathLike, image: np.ndarray, *, overwrite: bool = True) -> Path:
    """Write a uint8 (H, W, 3) image atomically (:func:`tfvsdk.publish.write_file`).

    Raises:
        OutputError: it could not be written, or (``overwrite=False``) a file exists at ``path``.
    """
    final = Path(path)
    return publish.write_file(final, lambda tmp: iio.imwrite(tmp, image, extension=final.suffix), overwrite=overwrite)


@attrs.frozen
class ContainerInfo:
    """What a written container holds, read back with ffmpeg (without decoding).

    Attributes:
        streams: the kind of each stream in order (``"video"``, ``"audio"``, ...).
        video_frames: number of packets (frames) of the first video stream.
    """

    streams: tuple[str, ...]
    video_frames: int


_STREAM_LINE = re.compile(r"^\s*Stream #0:\d+.*?: (\w+):")


def read_container(path: str | os.PathLike) -> ContainerInfo:
    """List the streams of a video file and count the frames of its first video stream.

    Raises:
        InputError: ffmpeg cannot read the file.
    """
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", os.fspath(path),
           "-map", "0:v:0", "-c", "copy", "-f", "null", "-"]
    run = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = run.stderr.decode(errors="replace").replace("\r", "\n").splitlines()
    if run.returncode != 0:
        raise InputError(f"{path}: not a readable video ({_last_line(log)})")
    inputs = log[: next((i for i, line in enumerate(log) if line.startswith("Stream mapping")), len(log))]
    streams = tuple(m[1].lower() for m in map(_STREAM_LINE.match, inputs) if m)
    frames = [int(m[1]) for m in (re.match(r"^frame=\s*(\d+)", line) for line in log) if m]
    return ContainerInfo(streams, frames[-1] if frames else 0)


def _last_line(log: list[str]) -> str:
    lines = [line.strip() for line in log if line.strip()]
    return lines[-1] if lines else "no message"


class VideoWriter:
    """Write an H.264 video (yuv420p, CRF 18) atomically, optionally copying the audio of another file.

    Frames are piped to an ffmpeg process writing a partial file beside the output
    (:class:`tfvsdk.publish.AtomicFile`). :meth:`close` publishes it only if ffmpeg exited with status 0
    and the file reads back with every frame written; otherwise it raises :class:`OutputError` (a full disk,
    an encoder failure) and ``path`` is left as it was. Leaving the ``with`` block through an exception deletes
    the partial file too. Odd frame sizes are padded by one edge row/column (yuv420p needs even sizes).

    Args:
        path: the output, ending in ``.mp4``, ``.mov``, ``.mkv`` or ``.m4v``.
        fps: frame rate.
        audio_from: a file whose first audio track (if any) is copied in (re-encoded as AAC, padded with
            silence or cut to the video's length).
        frames: the number of frames that will be written, if known: the audio is then cut or padded to
            exactly ``frames / fps`` seconds. Without it ffmpeg's ``-shortest`` ends the audio with the
            video, which overshoots by up to ~0.3 s when frames arrive slowly (the container then announces
            a few frames more than it holds).
        crf: x264's constant rate factor.
        overwrite: replace a file at ``path`` (when False, even one that appears while writing is kept).

    Example:
        >>> with VideoWriter("out.mp4", fps=25, audio_from="target.mp4") as writer:  # doctest: +SKIP
        ...     for frame in frames:
        ...         writer.write(frame)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        *,
        audio_from: str | os.PathLike | None = None,
        crf: int = 18,
        overwrite: bool = True,
        frames: int | None = None,
    ) -> None:
        if not math.isfinite(fps) or fps <= 0:
            raise InputError(f"fps: expected a positive frame rate, got {fps}")
        if frames is not None and (not isinstance(frames, int) or frames < 1):
            raise InputError(f"frames: expected a positive number of frames or None, got {frames!r}")
        self.frames = frames
        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise InputError(f"{self.path}: unsupported video format; expected a name ending in {', '.join(sorted(VIDEO_SUFFIXES))}")
        self.fps = fps
        self.audio_from = audio_from
        self.crf = crf
        self.overwrite = overwrite
        self.frames_written = 0
        self._file: publish.AtomicFile | None = None
        self._proc: subprocess.Popen | None = None
        self._log: Any = None
        self._size: tuple[int, int] | None = None

    def _command(self, h: int, w: int, tmp: Path) -> list[str]:
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-nostdin", "-v", "error",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w + w % 2}x{h + h % 2}", "-r", f"{self.fps:.12g}", "-i", "-"]
        if self.audio_from is not None:
            cmd += ["-i", os.fspath(self.audio_from), "-map", "0:v:0", "-map", "1:a:0?", "-c:a", "aac"]
            if self.frames is None:
                cmd += ["-af", "apad", "-shortest"]
            else:
                seconds = f"{self.frames / self.fps:.6f}"
                cmd += ["-af", f"apad=whole_dur={seconds},atrim=end={seconds}"]
        return cmd + ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", str(self.crf), "-movflags", "+faststart", os.fspath(tmp)]

    def _start(self, h: int, w: int) -> None:
        """Create the partial file and start ffmpeg on it. Interrupts wait until both are held (an encoder
        started but not yet held would outlive an interrupt and write the partial file after it was
        deleted)."""
        with publish.signals_deferred():
            self._file = publish.AtomicFile(self.path, overwrite=self.overwrite, verify=self._verify)
            self._size = (h, w)
            self._log = tempfile.TemporaryFile()
            try:
                self._proc = subprocess.Popen(self._command(h, w, self._file.path), stdin=subprocess.PIPE,
                                              stdout=subprocess.DEVNULL, stderr=self._log)
            except BaseException:
                self.abort()
                raise

    def _encoder_message(self) -> str:
        self._log.seek(0)
        return _last_line(self._log.read().decode(errors="replace").splitlines())

    def _verify(self, tmp: Path) -> None:
        try:
            found = read_container(tmp).video_frames
        except InputError as exc:
            raise OutputError(f"{self.path}: the written file does not read back ({exc})") from exc
        if found != self.frames_written:
            raise OutputError(f"{self.path}: the written file holds {found} frames, {self.frames_written} were written")

    def write(self, frame: np.ndarray) -> None:
        """Append a uint8 (H, W, 3) frame; every frame must have the first frame's size.

        Raises:
            InputError: a frame of the wrong type or size, or one more than ``frames``.
            OutputError: the encoder stopped (e.g. the disk is full); the partial file is deleted.
        """
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(f"frame: expected uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if self.frames is not None and self.frames_written == self.frames:
            raise InputError(f"frame: all {self.frames} frames announced for {self.path} were written already")
        h, w = frame.shape[:2]
        if self._proc is None:
            self._start(h, w)
        elif (h, w) != self._size:
            raise InputError(f"frame: expected size {self._size}, got {(h, w)}")
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except OSError as exc:
            self._proc.wait()
            message = self._encoder_message()
            self.abort()
            raise OutputError(f"{self.path}: the encoder stopped after {self.frames_written} frames ({message}); nothing was written") from exc
        self.frames_written += 1

    def close(self) -> Path:
        """Finish the file, check it and publish it as :attr:`path`.

        Raises:
            InputError: no frame was written.
            OutputError: fewer frames than ``frames`` were written, ffmpeg failed (e.g. "No space left on
                device"), the file does not hold every frame, or (without ``overwrite``) a file appeared at
                :attr:`path`; :attr:`path` is left as it was.
        """
        if self._proc is None:
            raise InputError(f"{self.path}: no frame was written")
        if self.frames is not None and self.frames_written != self.frames:
            self.abort()
            raise OutputError(f"{self.path}: {self.frames_written} of the {self.frames} frames announced were written; nothing was written")
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        status = self._proc.wait()
        if status != 0:
            message = self._encoder_message()
            self.abort()
            raise OutputError(f"{self.path}: the encoder failed with status {status} ({message}); nothing was written")
        self._proc = None
        self._log.close()
        file, self._file = self._file, None
        return file.commit()

    def abort(self) -> None:
        """Stop the encoder and delete the partial file; :attr:`path` is left as it was."""
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self._proc.kill()
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
            self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._file is not None:
            self._file.discard()
            self._file = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
