"""``tfv prepare``: detect, crop/align and fit image and video collections into the training layout.

For every input the step detects 68 landmarks (a :class:`~tfvsdk.interfaces.LandmarkDetector`), crops a
square around them and resamples it to ``size × size``, fits the crop with a
:class:`~tfvsdk.interfaces.Reconstructor` (given the landmarks, so it does not detect again) and writes the
crop and its fit in the layout of :mod:`tfvsdk.data.layout`. Training then does no fitting.

**Crop**: a square of side ``crop_scale`` × the larger side of the landmarks' bounding box, centred on the
box's centre moved by ``crop_shift`` × the side (negative = up, to include the forehead). A clip uses one
crop for all of its frames — the median centre and the 90th-percentile side over the frames — so the crop
does not jitter and the head's own motion is what the fits and the 3D flow describe.

**Inputs**: images — any nesting of ``.png/.jpg/.jpeg/.bmp/.webp/.tif`` files; videos — video files (one
clip each) or folders whose files are all images (one clip each, frames in name order).

**Identities**: ``identity="file"`` makes every image its own identity (an unlabelled collection such as
FFHQ); ``identity="folder"`` uses the input's first folder level below ``src`` (e.g. the speaker of
VoxCeleb2's ``id00012/abc/00001.mp4``, or a per-person folder of images).

**Failures never stop the run**: an unreadable or corrupt file, an image without a face, or a clip without
two consecutive frames with a face is listed in the manifest's ``skipped`` (path and reason) and logged.
Frames without a face split a clip into segments of consecutive frames (``<clip>-s<k>``; segments shorter
than 2 frames are dropped). Preparing into a folder that already holds a dataset adds to it and skips
inputs prepared before, so an interrupted preparation continues where it stopped.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import io
from ..checks import check_number
from ..errors import InputError, TfvError
from ..interfaces import LandmarkDetector, Reconstructor
from ..records import Detection, FaceFit
from . import layout

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


def crop_box(landmarks: torch.Tensor, crop_scale: float = 1.8, crop_shift: float = -0.08) -> torch.Tensor:
    """Square crop boxes around landmarks.

    Args:
        landmarks: (B, L, 2) pixel positions; NaN entries are ignored.
        crop_scale: side of the square / larger side of the landmarks' bounding box.
        crop_shift: vertical offset of the centre as a fraction of the side (negative = up).

    Returns:
        (B, 3) boxes (centre x, centre y, side) in pixels.
    """
    valid = torch.isfinite(landmarks).all(-1, keepdim=True)
    low = torch.where(valid, landmarks, torch.full_like(landmarks, float("inf"))).amin(1)
    high = torch.where(valid, landmarks, torch.full_like(landmarks, float("-inf"))).amax(1)
    side = crop_scale * (high - low).amax(-1)
    centre = (low + high) / 2
    return torch.stack([centre[:, 0], centre[:, 1] + crop_shift * side, side], -1)


def crop(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Resample square boxes of images to ``size × size`` (bilinear, border pixels repeated outside).

    Images are first averaged down by the integer factor ⌊side / size⌋ when it is ≥ 2 (no aliasing).

    Args:
        images: (B, 3, H, W) in [0, 1].
        boxes: (B, 3) centre x, centre y, side in pixels (pixel centres at +0.5).
        size: output side.

    Returns:
        (B, 3, size, size).
    """
    factor = int(max(1.0, float(boxes[:, 2].min()) / size))
    if factor >= 2:
        images = F.avg_pool2d(images, factor, ceil_mode=True)
        boxes = boxes / factor
    h, w = images.shape[-2:]
    steps = (torch.arange(size, dtype=images.dtype, device=images.device) + 0.5) / size - 0.5
    x = boxes[:, 0, None] + steps[None] * boxes[:, 2, None]
    y = boxes[:, 1, None] + steps[None] * boxes[:, 2, None]
    grid = torch.stack(
        [(2 * x / w - 1)[:, None, :].expand(-1, size, -1), (2 * y / h - 1)[:, :, None].expand(-1, -1, size)], -1
    )
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def to_crop(landmarks: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Landmarks (B, L, 2) in image pixels → pixels of the ``size × size`` crops of ``boxes`` (B, 3)."""
    origin = boxes[:, None, :2] - boxes[:, None, 2:] / 2
    return (landmarks - origin) * (size / boxes[:, None, 2:])


def _flat(parts: tuple[str, ...]) -> str:
    return layout.check_component("derived", "-".join(parts).replace(" ", "_"))


class Preparer:
    """Prepares images and clips into a dataset folder (see the module docstring).

    Args:
        out: the dataset folder (created; added to when it already holds a dataset).
        detector: finds 68 landmarks.
        reconstructor: fits the crops.
        size: side of the crops, pixels.
        identity: ``"file"`` or ``"folder"`` (see the module docstring).
        crop_scale: see :func:`crop_box`.
        crop_shift: see :func:`crop_box`.
        batch_size: crops fitted per call of the reconstructor.
        max_frames: at most this many frames per clip (0 = all).

    Raises:
        InputError: a setting out of range (``size``, ``batch_size`` ≥ 1; ``crop_scale`` > 0; ``max_frames``
            ≥ 0; ``crop_shift`` finite), or ``out`` holds a dataset of another crop size or model.
    """

    def __init__(
        self,
        out: str | os.PathLike,
        detector: LandmarkDetector,
        reconstructor: Reconstructor,
        *,
        size: int = 128,
        identity: str = "file",
        crop_scale: float = 1.8,
        crop_shift: float = -0.08,
        batch_size: int = 32,
        max_frames: int = 0,
    ) -> None:
        if identity not in ("file", "folder"):
            raise InputError(f"identity: expected 'file' or 'folder', got {identity!r}")
        check_number("size", size, integer=True)
        check_number("crop_scale", crop_scale)
        if not isinstance(crop_shift, (int, float)) or isinstance(crop_shift, bool) or not math.isfinite(crop_shift):
            raise InputError(f"crop_shift: expected a finite number, got {crop_shift!r}")
        check_number("batch_size", batch_size, integer=True)
        check_number("max_frames", max_frames, allow_zero=True, integer=True)
        self.out = Path(out)
        self.detector = detector
        self.reconstructor = reconstructor
        self.size = size
        self.identity = identity
        self.crop_scale, self.crop_shift = crop_scale, crop_shift
        self.batch_size = batch_size
        self.max_frames = max_frames
        model = layout.model_info(reconstructor.model)
        if (self.out / layout.MANIFEST).exists():
            self.manifest = layout.read_manifest(self.out)
            if self.manifest.image_size != (size, size) or self.manifest.model != model:
                raise InputError(
                    f"{self.out}: holds a dataset of {self.manifest.image_size} crops fitted with {self.manifest.model}; "
                    f"this preparation makes {(size, size)} crops fitted with {model} — use another folder"
                )
        else:
            self.manifest = layout.Manifest((size, size), model, source="prepare")
        self.skipped: list[dict[str, str]] = list(self.manifest.skipped)

    def _skip(self, path: Path, reason: str) -> None:
        logger.warning("skipped %s: %s", path, reason)
        self.skipped.append({"path": str(path), "reason": reason})

    def _save(self) -> None:
        self.manifest = layout.Manifest(
            self.manifest.image_size, self.manifest.model, self.manifest.images, self.manifest.videos, "prepare", self.skipped
        )
        layout.write_manifest(self.out, self.manifest)

    def _label(self, path: Path, src: Path, own: str) -> str:
        rel = path.relative_to(src).parts
        return _flat(rel[:1]) if self.identity == "folder" and len(rel) > 1 else own

    def _detect(self, image: torch.Tensor, *, video: bool) -> Detection:
        return self.detector.detect(image, video=video)

    # -- images -------------------------------------------------------------------------------------------------

    def images(self, src: str | os.PathLike, *, progress: bool = False) -> layout.Manifest:
        """Prepare every image file under ``src``; returns the updated manifest."""
        from tqdm.auto import tqdm

        src = Path(src)
        files = sorted(p for p in src.rglob("*") if p.is_file() and io.is_image_path(p))
        done = {(e.identity, e.name) for e in self.manifest.images}
        entries = list(self.manifest.images)
        pending: list[tuple[Path, layout.ImageEntry, torch.Tensor, torch.Tensor]] = []

        def flush() -> None:
            if not pending:
                return
            crops = torch.stack([c for _, _, c, _ in pending])
            marks = torch.stack([m for _, _, _, m in pending])
            detection = Detection(marks, torch.ones(len(pending), dtype=torch.bool), (self.size, self.size))
            fits = self.reconstructor.fit(crops, detection=detection)
            for k, (path, entry, image, _) in enumerate(pending):
                if not bool(fits.found_mask[k]):
                    self._skip(path, "the reconstructor found no face")
                    continue
                layout.write_image(layout.image_path(self.out, entry.identity, entry.name), image)
                layout.save_fits(layout.image_fit_path(self.out, entry.identity, entry.name), fits[k])
                entries.append(entry)
            pending.clear()
            self.manifest = layout.Manifest(self.manifest.image_size, self.manifest.model, entries, self.manifest.videos)
            self._save()

        for path in tqdm(files, disable=not progress, unit="image"):
            stem = _flat(path.relative_to(src).with_suffix("").parts)
            entry = layout.ImageEntry(self._label(path, src, stem), stem if self.identity == "folder" else "000")
            if (entry.identity, entry.name) in done:
                continue
            try:
                image = io.to_tensor(next(io.iter_frames(path)))
                detection = self._detect(image, video=False)
            except TfvError as exc:
                self._skip(path, str(exc))
                continue
            if not bool(detection.found[0]):
                self._skip(path, "no face found")
                continue
            box = crop_box(detection.landmarks, self.crop_scale, self.crop_shift)
            pending.append((path, entry, crop(image, box, self.size)[0], to_crop(detection.landmarks, box, self.size)[0]))
            if len(pending) >= self.batch_size:
                flush()
        flush()
        self._save()
        return self.manifest

    # -- videos -------------------------------------------------------------------------------------------------

    def _clip_sources(self, src: Path) -> Iterator[tuple[Path, list[Path] | None]]:
        for path in sorted(src.rglob("*")):
            if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
                yield path, None
            elif path.is_dir():
                files = sorted(p for p in path.iterdir() if p.is_file())
                if files and all(io.is_image_path(p) for p in files):
                    yield path, files

    def _frames(self, path: Path, files: list[Path] | None) -> Iterator[torch.Tensor]:
        frames = (next(io.iter_frames(f)) for f in files) if files is not None else io.iter_frames(path)
        for count, frame in enumerate(frames):
            if self.max_frames and count >= self.max_frames:
                return
            yield io.to_tensor(frame)

    def videos(self, src: str | os.PathLike, *, progress: bool = False) -> layout.Manifest:
        """Prepare every clip under ``src`` (video files and folders of frames); returns the updated manifest."""
        from tqdm.auto import tqdm

        src = Path(src)
        prepared = {c.clip.split("-s")[0] for c in self.manifest.videos}
        clips = list(self.manifest.videos)
        for path, files in tqdm(list(self._clip_sources(src)), disable=not progress, unit="clip"):
            name = _flat(path.relative_to(src).with_suffix("").parts)
            if name in prepared:
                continue
            try:
                new = self._clip(path, files, name, self._label(path, src, name))
            except TfvError as exc:
                self._skip(path, str(exc))
                continue
            clips.extend(new)
            self.manifest = layout.Manifest(self.manifest.image_size, self.manifest.model, self.manifest.images, clips)
            self._save()
        self._save()
        return self.manifest

    def _clip(self, path: Path, files: list[Path] | None, name: str, identity: str) -> list[layout.ClipEntry]:
        self.detector.reset()
        marks, found = [], []
        for frame in self._frames(path, files):
            detection = self._detect(frame, video=True)
            marks.append(detection.landmarks[0])
            found.append(bool(detection.found[0]))
        found_t = torch.tensor(found)
        segments = _segments(found_t)
        if not segments:
            raise InputError(f"{path}: no two consecutive frames with a face")
        landmarks = torch.stack(marks)
        boxes = crop_box(landmarks[found_t], self.crop_scale, self.crop_shift)
        box = torch.cat([boxes[:, :2].median(0).values, boxes[:, 2].quantile(0.9)[None]])[None]
        crop_marks = to_crop(landmarks, box.expand(len(landmarks), -1), self.size)
        entries = []
        wanted = {i: k for k, (start, stop) in enumerate(segments) for i in range(start, stop)}
        crops: dict[int, list[torch.Tensor]] = {k: [] for k in range(len(segments))}
        for index, frame in enumerate(self._frames(path, files)):
            if index in wanted:
                crops[wanted[index]].append(crop(frame, box, self.size)[0])
        for k, (start, stop) in enumerate(segments):
            clip = name if len(segments) == 1 else f"{name}-s{k}"
            frames = torch.stack(crops[k])
            fit = self._fit_clip(frames, crop_marks[start:stop])
            names = layout.frame_names(len(frames))
            for frame_name, frame in zip(names, frames):
                layout.write_image(layout.frame_path(self.out, clip, frame_name), frame)
            layout.save_fits(layout.clip_fits_path(self.out, clip), fit)
            entries.append(layout.ClipEntry(clip, identity, names))
        return entries

    def _fit_clip(self, frames: torch.Tensor, landmarks: torch.Tensor) -> FaceFit:
        found = torch.ones(len(frames), dtype=torch.bool)
        chunks = (
            (frames[i : i + self.batch_size], Detection(landmarks[i : i + self.batch_size], found[i : i + self.batch_size], (self.size, self.size)))
            for i in range(0, len(frames), self.batch_size)
        )
        return self.reconstructor.fit_video(chunks)


def _segments(found: torch.Tensor, min_length: int = 2) -> list[tuple[int, int]]:
    """[start, stop) ranges of consecutive True entries at least ``min_length`` long."""
    runs, start = [], None
    for i, f in enumerate([*found.tolist(), False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            if i - start >= min_length:
                runs.append((start, i))
            start = None
    return runs


def prepare(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    kind: str,
    detector: LandmarkDetector,
    reconstructor: Reconstructor,
    progress: bool = False,
    **options: object,
) -> layout.Manifest:
    """Prepare ``src`` into ``out``: ``kind="images"`` or ``"videos"``; ``options`` go to :class:`Preparer`.

    Returns:
        The dataset's manifest (with every skipped input and why).
    """
    if kind not in ("images", "videos"):
        raise InputError(f"kind: expected 'images' or 'videos', got {kind!r}")
    if not Path(src).is_dir():
        raise InputError(f"{src}: not a folder")
    preparer = Preparer(out, detector, reconstructor, **options)
    manifest = preparer.images(src, progress=progress) if kind == "images" else preparer.videos(src, progress=progress)
    logger.info("%s: %d images, %d clips, %d skipped", out, len(manifest.images), len(manifest.videos), len(manifest.skipped))
    return manifest
