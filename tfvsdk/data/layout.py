"""The on-disk layout of a training dataset, shared by ``tfv prepare``, ``tfv synth`` and the readers.

A dataset is a folder::

    ROOT/
      manifest.json
      images/<identity>/<name>.png      one aligned face crop, size = manifest image_size
      images/<identity>/<name>.npz      its cached fit (batch 1)
      videos/<clip>/<frame>.png         consecutive frames of one clip, frame names sort in time order
      videos/<clip>/fits.npz            the fits of all frames of the clip (batch = number of frames)

Identities of the image part are folder names: images in the same ``<identity>`` folder show the same
person (an unlabelled collection like FFHQ has one image per identity folder). A clip shows one person; its
identity label is in the manifest.

**Fit files** (``.npz``, read with ``allow_pickle=False``) hold one row per image/frame:

=============  ==================  =========================================================
key            shape, dtype        meaning
=============  ==================  =========================================================
alpha_id       (B, K_id) float32   identity coefficients α_id (eq. 1)
alpha_exp      (B, K_exp) float32  expression coefficients α_exp
scale          (B,) float32        camera scale s, pixels per model unit
rotation       (B, 3, 3) float32   camera rotation R (see :mod:`tfvsdk.camera`)
translation    (B, 2) float32      camera translation t, pixels
landmarks      (B, 68, 2) float32  2-D landmarks (pixels) the fit was made from, NaN if none
found          (B,) bool           False where no face was found
image_size     (2,) int64          (height, width) of the images the fit refers to
=============  ==================  =========================================================

**manifest.json**::

    {"format": "tfvsdk-dataset", "version": 1,
     "image_size": [H, W],
     "model": {"name": "default", "n_id": K_id, "n_exp": K_exp},
     "source": "synth" | "prepare",
     "images": [{"identity": "id00000", "name": "000"}, ...],
     "videos": [{"clip": "clip00000", "identity": "vid00000", "frames": ["00000", "00001", ...]}, ...],
     "skipped": [{"path": "...", "reason": "..."}, ...]}

Identity, name, clip and frame names are single path components (no ``/``, not starting with ``.``).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import imageio.v3 as iio
import numpy as np
import torch

from ..camera import Camera
from .. import publish
from ..errors import InputError, ModelFileError
from ..io import read_rgb
from ..morphable.safe_npz import load_npz_arrays
from ..records import FaceFit

FORMAT = "tfvsdk-dataset"
VERSION = 1
MANIFEST = "manifest.json"
CLIP_FITS = "fits.npz"
MAX_FIT_BYTES = 1 << 30
"""Default bound of a fit file's arrays in memory (1 GiB; a fit with landmarks takes ~0.6 KiB per frame)."""
_FIT_KEYS = ("alpha_id", "alpha_exp", "scale", "rotation", "translation", "image_size")


def check_component(kind: str, value: str) -> str:
    """Return ``value`` if it is a valid single path component (identity, name, clip or frame), else raise."""
    if not isinstance(value, str) or not value or "/" in value or "\\" in value or value.startswith("."):
        raise InputError(f"{kind} name {value!r}: expected a non-empty file name without '/' or a leading '.'")
    return value


def image_path(root: Path, identity: str, name: str) -> Path:
    """``ROOT/images/<identity>/<name>.png``."""
    return Path(root) / "images" / identity / f"{name}.png"


def image_fit_path(root: Path, identity: str, name: str) -> Path:
    """``ROOT/images/<identity>/<name>.npz``."""
    return Path(root) / "images" / identity / f"{name}.npz"


def frame_path(root: Path, clip: str, frame: str) -> Path:
    """``ROOT/videos/<clip>/<frame>.png``."""
    return Path(root) / "videos" / clip / f"{frame}.png"


def clip_fits_path(root: Path, clip: str) -> Path:
    """``ROOT/videos/<clip>/fits.npz``."""
    return Path(root) / "videos" / clip / CLIP_FITS


def write_atomic(path: Path, data: bytes, *, overwrite: bool = True) -> None:
    """Publish ``data`` as ``path`` (creating its folders) with :func:`tfvsdk.publish.write_bytes`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    publish.write_bytes(path, data, overwrite=overwrite)


def write_image(path: Path, image: torch.Tensor | np.ndarray) -> None:
    """Write one image as an 8-bit PNG (atomically).

    Args:
        path: destination ``.png``.
        image: (3, H, W) float tensor in [0, 1], or (H, W, 3) uint8 array.
    """
    if isinstance(image, torch.Tensor):
        image = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    write_atomic(Path(path), iio.imwrite("<bytes>", np.ascontiguousarray(image), extension=".png"))


def read_image(path: Path) -> torch.Tensor:
    """Read an image file as a (3, H, W) float32 tensor in [0, 1] (grey is repeated, alpha dropped).

    Raises:
        InputError: the file is missing or not a readable image.
    """
    array = read_rgb(path)
    scale = 65535.0 if array.dtype == np.uint16 else 255.0
    return torch.from_numpy(array).permute(2, 0, 1).float() / scale


def fit_arrays(fit: FaceFit) -> dict[str, np.ndarray]:
    """The arrays of a fit file (see the module docstring) for a :class:`FaceFit` of batch B."""
    b = fit.batch_size
    landmarks = fit.landmarks if fit.landmarks is not None else torch.full((b, 68, 2), float("nan"))

    def arr(x: torch.Tensor, dtype: type = np.float32) -> np.ndarray:
        return x.detach().cpu().numpy().astype(dtype)

    return {
        "alpha_id": arr(fit.alpha_id),
        "alpha_exp": arr(fit.alpha_exp),
        "scale": arr(fit.camera.scale),
        "rotation": arr(fit.camera.rotation),
        "translation": arr(fit.camera.translation),
        "landmarks": arr(landmarks),
        "found": arr(fit.found_mask, np.bool_),
        "image_size": np.asarray(fit.image_size, np.int64),
    }


def save_fits(path: Path, fit: FaceFit, *, overwrite: bool = True) -> None:
    """Write a fit file (atomically) for a :class:`FaceFit` of batch B (1 for an image, F for a clip)."""
    buffer = io.BytesIO()
    np.savez(buffer, **fit_arrays(fit))
    write_atomic(Path(path), buffer.getvalue(), overwrite=overwrite)


def fit_from_arrays(arrays: Mapping[str, np.ndarray], source: str = "fit") -> FaceFit:
    """Build a :class:`FaceFit` from the arrays of a fit file.

    Raises:
        InputError: a key is missing or an array has the wrong shape (the message names ``source``).
    """
    missing = [k for k in _FIT_KEYS if k not in arrays]
    if missing:
        raise InputError(f"{source}: missing arrays {missing}")
    t = {k: torch.from_numpy(np.asarray(arrays[k], np.float32)) for k in _FIT_KEYS[:5]}
    landmarks = torch.from_numpy(np.asarray(arrays["landmarks"], np.float32)) if "landmarks" in arrays else None
    found = torch.from_numpy(np.asarray(arrays["found"], np.bool_)) if "found" in arrays else None
    size = tuple(int(v) for v in np.asarray(arrays["image_size"]).reshape(-1))
    try:
        return FaceFit(
            alpha_id=t["alpha_id"],
            alpha_exp=t["alpha_exp"],
            camera=Camera(t["scale"], t["rotation"], t["translation"]),
            image_size=size,
            landmarks=landmarks,
            found=found,
        )
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from exc


def load_fits(path: Path, *, max_bytes: int = MAX_FIT_BYTES) -> FaceFit:
    """Read a fit file written by :func:`save_fits`, its arrays' memory bounded before any is read
    (:func:`~tfvsdk.morphable.safe_npz.load_npz_arrays`).

    Raises:
        InputError: the file is missing, unreadable, inconsistent, or its arrays would take more than
            ``max_bytes``.
    """
    if not Path(path).is_file():
        raise InputError(f"{path}: fit file not found")
    try:
        arrays = load_npz_arrays(path, max_bytes=max_bytes)
    except ModelFileError as exc:
        raise InputError(f"not a readable fit file: {exc}") from exc
    return fit_from_arrays(arrays, str(path))


@attrs.frozen
class ImageEntry:
    """One image of the image part: ``images/<identity>/<name>.png``."""

    identity: str = attrs.field(validator=lambda _, a, v: check_component(a.name, v))
    name: str = attrs.field(validator=lambda _, a, v: check_component(a.name, v))


@attrs.frozen
class ClipEntry:
    """One clip of the video part: ``videos/<clip>/<frame>.png`` for each frame, in time order."""

    clip: str = attrs.field(validator=lambda _, a, v: check_component(a.name, v))
    identity: str = attrs.field(validator=lambda _, a, v: check_component(a.name, v))
    frames: tuple[str, ...] = attrs.field(converter=tuple)

    @frames.validator
    def _check_frames(self, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
        for frame in value:
            check_component("frame", frame)


@attrs.frozen
class Manifest:
    """The contents of ``manifest.json`` (see the module docstring).

    Attributes:
        image_size: (height, width) of every image and frame, pixels.
        model: the morphable model the fits refer to: ``{"name", "n_id", "n_exp"}``.
        images: the image part.
        videos: the video part.
        source: what wrote the dataset (``"synth"`` or ``"prepare"``).
        skipped: input files that were skipped, each ``{"path", "reason"}``.
    """

    image_size: tuple[int, int] = attrs.field(converter=lambda v: tuple(int(x) for x in v))
    model: dict[str, Any]
    images: tuple[ImageEntry, ...] = attrs.field(converter=tuple, default=())
    videos: tuple[ClipEntry, ...] = attrs.field(converter=tuple, default=())
    source: str = "prepare"
    skipped: tuple[dict[str, str], ...] = attrs.field(converter=tuple, default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "image_size": list(self.image_size),
            "model": dict(self.model),
            "source": self.source,
            "images": [{"identity": e.identity, "name": e.name} for e in self.images],
            "videos": [{"clip": c.clip, "identity": c.identity, "frames": list(c.frames)} for c in self.videos],
            "skipped": [dict(s) for s in self.skipped],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = MANIFEST) -> Manifest:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise InputError(f"{source}: not a tfvsdk dataset manifest (expected \"format\": \"{FORMAT}\")")
        if data.get("version") != VERSION:
            raise InputError(f"{source}: manifest version {data.get('version')!r}, this tfvsdk reads {VERSION}")
        try:
            return cls(
                image_size=data["image_size"],
                model=dict(data["model"]),
                images=[ImageEntry(e["identity"], e["name"]) for e in data.get("images", [])],
                videos=[ClipEntry(c["clip"], c["identity"], c["frames"]) for c in data.get("videos", [])],
                source=str(data.get("source", "prepare")),
                skipped=[dict(s) for s in data.get("skipped", [])],
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"{source}: malformed manifest ({exc!r})") from exc


def read_manifest(root: str | os.PathLike) -> Manifest:
    """Read ``ROOT/manifest.json``.

    Raises:
        InputError: no manifest (the message says how to make one) or a malformed one.
    """
    path = Path(root) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(
            f"{path}: not found; make a dataset with `tfv prepare SRC {root}` or `tfv synth --out {root}`"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable manifest ({exc})") from exc
    return Manifest.from_json(data, str(path))


def write_manifest(root: str | os.PathLike, manifest: Manifest) -> None:
    """Write ``ROOT/manifest.json`` atomically."""
    write_atomic(Path(root) / MANIFEST, json.dumps(manifest.to_json(), indent=1).encode())


def model_info(model: Any) -> dict[str, Any]:
    """The manifest's ``model`` entry for a :class:`~tfvsdk.morphable.MorphableModel`."""
    return {"name": model.name, "n_id": int(model.n_id), "n_exp": int(model.n_exp)}


def frame_names(count: int) -> Sequence[str]:
    """Zero-padded frame names ``00000, 00001, …`` that sort in time order."""
    return [f"{i:05d}" for i in range(count)]
