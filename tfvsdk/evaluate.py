"""Scoring edited videos with the paper's metrics (Tables 1–3): the library behind ``tfv eval``.

An :class:`Evaluator` reads one output video and the sources it was made from and computes, per frame and
as a summary, every metric of :mod:`tfvsdk.metrics` that its inputs allow:

* E_tmp (always): warping error of consecutive output frames, with the 3-D flow of the output's own refit,
  smoothed over ``flow_smoothing`` frames so that the flow follows the head's motion and not the jitter
  being measured (``flow="3d"``, face pixels only), or TV-L1 optical flow of the target (the motion source;
  of the output when no target is given) over the whole frame (``flow="tvl1"``, the paper's Table 3).
* E_id (with ``identity``): cosine distance of each output frame's identity vector from the identity
  source's.
* E_pose, E_exp (with ``target``, or ``pose`` / ``expression`` when they differ, as in a remix): refits of
  the output and of those sources by the same reconstructor; pose as
  the geodesic angle and per-angle errors (degrees), expression as the landmark distance (pixels, the
  paper's) and the coefficient distance.
* pose confidence (always): the reconstructor's per-frame pose spread; frames above ``max_pose_spread``
  degrees are listed as unreliable.
* colour outliers (with ``target`` or ``identity``): the share of the output's refitted face whose colour
  neither the target frame (its face and the pixels the output's face covers) nor the identity's face (in
  ``reference_frames`` of its frames, refitted) shows (:func:`tfvsdk.metrics.colour_outliers`; not the paper's).
* stray edges (with ``identity``): the share of the output's refitted face, unwrapped into the model's
  texture space, holding edges that neither the identity (in ``reference_frames`` of its frames, refitted;
  seen well, or on the face's other side) nor the target frame (where the identity gives no texel) shows
  (:func:`tfvsdk.metrics.edit_stray_edges`; not the paper's).
* SSIM, PSNR, photometric error (with ``reference``, a ground truth such as the driver of self-driving
  reenactment).
* FID and KID between the output's frames and the identity source's (with ``inception_weights``; the
  paper's FID is between Y^t and X_i^t).

Source frame k is matched to output frame k through the frame rates (:func:`tfvsdk.timeline.source_index`),
as the editor does; a still source is compared with every frame. A metric that cannot be computed is None
in the summary and its reason is in ``summary["unavailable"]`` — never silently left out.
"""

from __future__ import annotations

import logging
import math
import os
import time
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from . import io, metrics, plugins
from .checks import check_device
from .errors import InputError, ModelFileError, NoFaceError, PluginError
from .morphable import vertices
from .records import Detection, FaceFit
from .smoothing import smooth_fit
from .timeline import source_index

logger = logging.getLogger(__name__)

FLOWS = ("3d", "tvl1")
COLUMNS = ("e_tmp", "e_id", "e_pose", "yaw_error", "pitch_error", "roll_error", "e_exp", "e_exp_coefficients",
           "pose_spread", "ssim", "psnr", "photometric_error", "colour_outliers", "stray_edges")
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}


def _flow(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in FLOWS:
        raise InputError(f"flow: expected one of {FLOWS}, got {value!r}")


def _non_negative(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise InputError(f"{attribute.name}: expected >= 0, got {value}")


def _positive(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if not value >= 1:
        raise InputError(f"{attribute.name}: expected >= 1, got {value}")


def _device(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    check_device(attribute.name, value)


@attrs.frozen
class EvalConfig:
    """How :class:`Evaluator` scores (every ``tfv eval`` option maps to a field).

    Attributes:
        reconstructor: reconstructor refitting the output and the target (``tfv plugins --kind reconstructor``).
        renderer: renderer of the 3-D flow.
        identity_embedder: identity embedder of E_id.
        flow: ``"3d"`` or ``"tvl1"`` (the ``flow`` extra), the flow of E_tmp.
        flow_smoothing: σ in frames of the smoothing of the output's refit for the 3-D flow.
        inception_weights: FID's Inception weights file (``pt_inception-2015-12-05-6726825d.pth``), or None.
        max_pose_spread: frames whose pose spread exceeds this (degrees) are flagged unreliable.
        identity_frames: output frames whose identity vector is computed, spread evenly over the video (0 =
            all); dlib's network costs ~0.1 s of CPU per face, the dominant cost of an evaluation.
        reference_frames: frames of an identity video averaged into its reference vector (0 = all).
        chunk_size: frames processed at once.
        device: torch device.
    """

    reconstructor: str = "landmarks"
    renderer: str = "raster"
    identity_embedder: str = "dlib"
    flow: str = attrs.field(default="3d", validator=_flow)
    flow_smoothing: float = attrs.field(default=2.0, validator=_non_negative)
    inception_weights: str | None = None
    max_pose_spread: float = attrs.field(default=3.0, validator=_non_negative)
    identity_frames: int = attrs.field(default=8, validator=_non_negative)
    reference_frames: int = attrs.field(default=4, validator=_non_negative)
    chunk_size: int = attrs.field(default=16, validator=_positive)
    device: str = attrs.field(default="cpu", validator=_device)


@attrs.frozen
class Evaluation:
    """The scores of one output video.

    Attributes:
        summary: JSON-ready dict: the metric means (None where unavailable), ``unavailable`` {metric: reason},
            the inputs, frame counts, ``e_id_greyscale`` (True: the identity source has no colour, so E_id
            compared both sides in greyscale), ``seconds`` and ``stage_seconds`` (wall-clock time per stage).
        frames: per-frame columns, each a (T,) float array (NaN where undefined): ``e_tmp`` (of the pair
            ending at the frame), ``e_id``, ``e_pose``, ``yaw_error``, ``pitch_error``, ``roll_error``,
            ``e_exp``, ``e_exp_coefficients``, ``pose_spread``, ``ssim``, ``psnr``, ``photometric_error``,
            ``colour_outliers``, ``stray_edges``.
    """

    summary: dict[str, Any]
    frames: dict[str, np.ndarray]


@attrs.frozen
class Video:
    """A decoded image or video: uint8 (T, H, W, 3) frames and its frame rate (None for an image)."""

    path: Path
    frames: np.ndarray
    fps: float | None

    @classmethod
    def read(cls, path: str | os.PathLike) -> Video:
        info = io.probe(path)
        return cls(info.path, np.stack(list(io.iter_frames(info.path))), info.fps)

    def aligned(self, fps_out: float, count: int) -> np.ndarray:
        """(count,) indices of this source's frames matching output frames 0 … count − 1."""
        return source_index(np.arange(count), fps_out, self.fps, len(self.frames), loop=False)


def _face_masks(fit: FaceFit, model: Any, renderer: Any) -> torch.Tensor:
    """(B, 1, H, W) the rendered masks of ``fit``'s faces."""
    return renderer.render(vertices(model, fit), model.triangles, fit.image_size).mask


def _side_by_side(images: torch.Tensor) -> torch.Tensor:
    """(1, C, H, B·W): the (B, C, H, W) images next to each other, one reference of all their colours."""
    return torch.cat(list(images), -1)[None]


def _tensor(frames: np.ndarray, device: str) -> torch.Tensor:
    return io.to_tensor(np.ascontiguousarray(frames), device)


def _chunks(count: int, size: int, overlap: int = 0) -> Iterator[slice]:
    start = 0
    while start < count - overlap:
        yield slice(start, min(start + size + overlap, count))
        start += size


def spread_frames(count: int, most: int) -> np.ndarray:
    """Indices of at most ``most`` frames (0 = all) spread evenly over ``count``, first and last included."""
    if most <= 0 or most >= count:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, most).round().astype(np.int64))


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None


class _Clock:
    """Wall-clock seconds of consecutive stages."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now


def _bar(total: int, name: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="frame", desc=name, leave=False, disable=not enabled)


class Evaluator:
    """Scores output videos (see the module docstring); components are built once and reused across videos.

    Args:
        config: what to use.

    Example:
        >>> result = Evaluator().evaluate("swap.mp4", identity="alice.mp4", target="bob.mp4")  # doctest: +SKIP
        >>> result.summary["e_tmp"], result.summary["e_id"]  # doctest: +SKIP
    """

    def __init__(self, config: EvalConfig | None = None) -> None:
        self.config = config or EvalConfig()
        self._components: dict[str, Any] = {}

    def _component(self, kind: str, name: str) -> Any:
        if kind not in self._components:
            self._components[kind] = plugins.create(kind, name)
        return self._components[kind]

    def prepare(self, kinds: Iterable[str] = ("reconstructor", "renderer", "identity_embedder"), *, inception: bool = False) -> None:
        """Build the components of ``kinds`` (and FID's network when ``inception``) now, so that a misspelt
        name or a wrong weights file fails before any video is read rather than as an unavailable metric.

        Args:
            kinds: among ``"reconstructor"``, ``"renderer"``, ``"identity_embedder"``.
            inception: load :attr:`EvalConfig.inception_weights` (its SHA-256 is checked).

        Raises:
            InputError: a kind not listed above.
            PluginError: an unknown component name, or a factory that fails.
            ModelFileError: the Inception weights file is missing, is not the published file, or does not load.
        """
        names = {"reconstructor": self.config.reconstructor, "renderer": self.config.renderer,
                 "identity_embedder": self.config.identity_embedder}
        for kind in kinds:
            if kind not in names:
                raise InputError(f"kinds: expected some of {sorted(names)}, got {kind!r}")
            self._component(kind, names[kind])
        if inception:
            if self.config.inception_weights is None:
                raise ModelFileError("no Inception weights file configured (EvalConfig.inception_weights)")
            self._inception()

    @property
    def reconstructor(self) -> Any:
        return self._component("reconstructor", self.config.reconstructor)

    def _inception(self) -> Any:
        if "inception" not in self._components:
            self._components["inception"] = metrics.load_inception(self.config.inception_weights).to(self.config.device)
        return self._components["inception"]

    # -- stages ----------------------------------------------------------------------------------------

    def _fit(self, video: Video, progress: bool) -> FaceFit:
        rec = self.reconstructor
        device, size = self.config.device, self.config.chunk_size
        with plugins.reporting(rec, f"fitting {video.path}"):
            if video.fps is None:
                return rec.fit(_tensor(video.frames, device))
            bar = _bar(len(video.frames), f"fitting {video.path.name}", progress)
            try:
                def chunks() -> Iterator[tuple[torch.Tensor, None]]:
                    for part in _chunks(len(video.frames), size):
                        yield _tensor(video.frames[part], device), None
                        bar.update(part.stop - part.start)

                return rec.fit_video(chunks())
            finally:
                bar.close()

    def _temporal(self, output: Video, fit: FaceFit | None, target: Video | None, progress: bool) -> tuple[np.ndarray, float]:
        """Per-frame E_tmp (frame 0 NaN) and the pooled E_tmp."""
        c = self.config
        t = len(output.frames)
        errors, counts = np.full(t, np.nan), np.zeros(t)
        if c.flow == "3d":
            if fit is None:
                raise PluginError("the 3-D flow needs a refit of the output")
            model = self.reconstructor.model.to(c.device)
            flow_fit = smooth_fit(fit, c.flow_smoothing)
            renderer = self._component("renderer", c.renderer)
        else:
            source = target if target is not None and target.fps is not None else output
            motion = source.frames[source.aligned(output.fps, t)]
        bar = _bar(t - 1, f"E_tmp ({c.flow} flow)", progress)
        try:
            for part in _chunks(t, c.chunk_size, overlap=1):
                frames = _tensor(output.frames[part], c.device)
                with torch.no_grad():
                    if c.flow == "3d":
                        flows, masks = metrics.fit_flows(flow_fit[part], model, renderer)
                    else:
                        flows, masks = metrics.tvl1_flows(_tensor(motion[part], c.device))
                    values = metrics.warping_errors(frames, flows, masks)
                errors[part.start + 1 : part.stop] = values.double().cpu().numpy()
                counts[part.start + 1 : part.stop] = masks.flatten(1).sum(1).double().cpu().numpy()
                bar.update(part.stop - part.start - 1)
        finally:
            bar.close()
        valid = counts > 0
        errors[1:][~valid[1:]] = np.nan
        pooled = math.sqrt(float((errors[valid] ** 2 * counts[valid]).sum() / counts[valid].sum())) if valid.any() else math.nan
        return errors, pooled

    def _embed(self, video: Video, frames: np.ndarray, detection: Detection | None, progress: bool, *, greyscale: bool = False) -> torch.Tensor:
        """(len(frames), D) identity vectors of the video's ``frames`` (landmarks from ``detection`` if given,
        whose rows are those frames), of their :func:`~tfvsdk.metrics.identity.luminance` with ``greyscale``."""
        embedder = self._component("identity_embedder", self.config.identity_embedder)
        out = []
        bar = _bar(len(frames), f"identity of {video.path.name}", progress)
        try:
            with plugins.reporting(embedder, f"embedding {video.path}"):
                for part in _chunks(len(frames), self.config.chunk_size):
                    rows = None if detection is None else Detection(detection.landmarks[part], detection.found[part], detection.image_size)
                    images = _tensor(video.frames[frames[part]], self.config.device)
                    if greyscale:
                        images = metrics.luminance(images)
                    out.append(embedder.embed(images, detection=rows, video=False))
                    bar.update(part.stop - part.start)
        finally:
            bar.close()
        return torch.cat(out).cpu()

    def _features(self, video: Video) -> torch.Tensor:
        network = self._inception()
        with torch.no_grad():
            return torch.cat([network(_tensor(video.frames[part], self.config.device)) for part in _chunks(len(video.frames), self.config.chunk_size)]).cpu()

    # -- the whole evaluation --------------------------------------------------------------------------

    def evaluate(
        self,
        output: str | os.PathLike,
        *,
        identity: str | os.PathLike | None = None,
        target: str | os.PathLike | None = None,
        reference: str | os.PathLike | None = None,
        pose: str | os.PathLike | None = None,
        expression: str | os.PathLike | None = None,
        progress: bool = False,
    ) -> Evaluation:
        """Score one output video against the sources given (see the module docstring).

        Args:
            output: the edited video.
            identity: the identity source X_i (image or video): E_id, FID/KID.
            target: the pose and expression source (the swap's target, the reenactment's driver): E_pose,
                E_exp, and the TV-L1 flow of E_tmp.
            reference: a ground truth of the output (self-driving reenactment): SSIM, PSNR, photometric error.
            pose: the pose source when it is not ``target`` (the remix task's): E_pose.
            expression: the expression source when it is not ``target``: E_exp.
            progress: show progress bars (stderr).

        Raises:
            InputError: unreadable inputs, a still image as output, or a reference of another frame size.
        """
        started = time.perf_counter()
        clock = _Clock()
        out = Video.read(output)
        if out.fps is None or len(out.frames) < 2:
            raise InputError(f"{out.path}: expected a video of at least 2 frames to evaluate")
        named = {"identity": identity, "target": target, "reference": reference, "pose": pose or target, "expression": expression or target}
        decoded: dict[Path, Video] = {}
        for p in {Path(p) for p in named.values() if p is not None}:
            decoded[p] = Video.read(p)
        sources = {role: decoded[Path(p)] for role, p in named.items() if p is not None}
        if "reference" in sources and sources["reference"].frames.shape[1:3] != out.frames.shape[1:3]:
            ref = sources["reference"]
            raise InputError(f"{ref.path}: frames of {ref.frames.shape[1:3]}, the output's are {out.frames.shape[1:3]}")
        job = _Job(out, sources)
        job.summary.update({
            "output": str(out.path), "frames": job.count, "fps": out.fps, "size": list(job.size),
            **{role: str(sources[role].path) if role in sources else None for role in named},
            "e_tmp_flow": self.config.flow,
        })
        clock.lap("read")
        for stage in (self._refit_stage, self._temporal_stage, self._identity_stage, self._pose_expression_stage,
                      self._colour_stage, self._edges_stage, self._confidence_stage, self._reference_stage, self._fid_stage):
            stage(job, progress)
            clock.lap(stage.__name__.removeprefix("_").removesuffix("_stage"))
        job.summary["unavailable"] = job.unavailable
        job.summary["seconds"] = round(time.perf_counter() - started, 3)
        job.summary["stage_seconds"] = clock.seconds
        return Evaluation(job.summary, job.columns)

    def _refit_stage(self, job: _Job, progress: bool) -> None:
        try:
            job.fit = self._fit(job.output, progress)
            job.summary["faces_found"] = int(job.fit.found_mask.sum())
        except (PluginError, NoFaceError) as exc:
            job.summary["faces_found"] = None
            job.unavailable["refit"] = str(exc)

    def _temporal_stage(self, job: _Job, progress: bool) -> None:
        job.summary["e_tmp"] = None
        try:
            job.columns["e_tmp"], pooled = self._temporal(job.output, job.fit if job.found else None, job.sources.get("target"), progress)
        except PluginError as exc:
            job.unavailable["e_tmp"] = f"{exc} (try --flow tvl1)" if self.config.flow == "3d" else str(exc)
            return
        if math.isnan(pooled):
            job.unavailable["e_tmp"] = "no pixel with a valid flow (no face found?)"
        else:
            job.summary["e_tmp"] = pooled

    def _identity_stage(self, job: _Job, progress: bool) -> None:
        c, fit = self.config, job.fit
        job.summary["e_id"] = None
        if "identity" not in job.sources:
            job.unavailable["e_id"] = "no identity source given (--identity)"
            return
        try:
            identity = job.sources["identity"]
            references = spread_frames(len(identity.frames), c.reference_frames)
            grey = not metrics.has_colour(_tensor(identity.frames[references], c.device))
            job.summary["e_id_greyscale"] = grey
            reference = metrics.reference_embedding(self._embed(identity, references, None, progress, greyscale=grey))
            picks = spread_frames(job.count, c.identity_frames)
            detection = None
            if job.found and fit.landmarks is not None:
                detection = Detection(fit.landmarks[picks], fit.found_mask[picks], job.size)
            vectors = self._embed(job.output, picks, detection, progress, greyscale=grey)
        except (PluginError, NoFaceError) as exc:
            job.unavailable["e_id"] = str(exc)
            return
        job.columns["e_id"][picks] = metrics.identity_distance(vectors, reference).double().numpy()
        job.summary["e_id"] = _mean(job.columns["e_id"])
        job.summary["e_id_frames"] = len(picks)
        if job.summary["e_id"] is None:
            job.unavailable["e_id"] = f"{job.output.path}: no face recognised in any frame"

    def _pose_expression_stage(self, job: _Job, progress: bool) -> None:
        for key in ("e_pose", "e_pose_euler", "e_exp", "e_exp_coefficients"):
            job.summary[key] = None
        fitted = job.source_fits
        fit, columns, summary = job.fit, job.columns, job.summary
        for metric, role in (("e_pose", "pose"), ("e_exp", "expression")):
            if role not in job.sources:
                job.unavailable[metric] = f"no {role} source given (--target or --{role})"
                continue
            if not job.found:
                job.unavailable[metric] = f"the output could not be refitted: {job.unavailable.get('refit', 'no face found')}"
                continue
            video = job.sources[role]
            try:
                if video.path not in fitted:
                    fitted[video.path] = self._fit(video, progress)
            except (PluginError, NoFaceError) as exc:
                job.unavailable[metric] = str(exc)
                continue
            other = fitted[video.path]
            if video.fps is not None:
                other = other[torch.as_tensor(video.aligned(job.output.fps, job.count))]
            if metric == "e_pose":
                columns["e_pose"] = metrics.pose_angle_error(fit, other).numpy()
                euler = metrics.euler_errors(fit, other).numpy()
                columns["yaw_error"], columns["pitch_error"], columns["roll_error"] = euler.T
                summary["e_pose"] = _mean(columns["e_pose"])
                summary["e_pose_euler"] = [_mean(a) for a in euler.T]
            else:
                columns["e_exp_coefficients"] = metrics.expression_distance(fit, other).numpy()
                if fit.landmarks is not None and other.landmarks is not None:
                    columns["e_exp"] = metrics.landmark_distance(fit.landmarks, other.landmarks).numpy()
                summary["e_exp"] = _mean(columns["e_exp"])
                summary["e_exp_coefficients"] = _mean(columns["e_exp_coefficients"])

    def _colour_stage(self, job: _Job, progress: bool) -> None:
        """Colour outliers: the output's refitted face against the target's frames (its face and the pixels the
        output's face covers) and the identity's face in ``reference_frames`` of its frames, refitted."""
        c, fit = self.config, job.fit
        has_source = "target" in job.sources or "identity" in job.sources
        if not _can_score(job, "colour_outliers", None if has_source else "no source to compare colours with (--target or --identity)"):
            return
        model = self.reconstructor.model.to(c.device)
        renderer = self._component("renderer", c.renderer)
        references = []
        try:
            if "identity" in job.sources:
                stills, stills_fit = self._identity_stills(job)
                references.append((_side_by_side(_tensor(stills, c.device)), _side_by_side(_face_masks(stills_fit, model, renderer))))
        except (PluginError, NoFaceError) as exc:
            job.unavailable["colour_outliers"] = str(exc)
            return
        target = job.sources.get("target")
        target_fit = job.source_fits.get(target.path) if target is not None else None
        for part in _chunks(job.count, c.chunk_size):
            with torch.no_grad():
                region = _face_masks(fit[part], model, renderer)
                chunk_references = list(references)
                if target is not None:
                    rows = job.source_rows(target, part)
                    covered = region
                    if target_fit is not None:
                        covered = torch.maximum(region, _face_masks(target_fit[torch.as_tensor(rows)], model, renderer))
                    chunk_references.append((_tensor(target.frames[rows], c.device), covered))
                try:
                    values = metrics.colour_outliers(_tensor(job.output.frames[part], c.device), region, chunk_references)
                except InputError as exc:  # a reference frame with no face pixel: the fits put the face off-screen
                    job.unavailable["colour_outliers"] = str(exc)
                    return
            job.columns["colour_outliers"][part] = np.where(fit.found_mask[part].cpu().numpy(), values.double().cpu().numpy(), np.nan)
        job.summary["colour_outliers"] = _mean(job.columns["colour_outliers"])

    def _identity_stills(self, job: _Job) -> tuple[np.ndarray, FaceFit]:
        """(R, H, W, 3) frames of the identity source that show a face (``reference_frames`` of them, spread
        over a video) and their fits, fitted once per evaluation.

        Raises:
            NoFaceError: no face in any of them.
        """
        if job.stills is None:
            video = job.sources["identity"]
            stills = Video(video.path, video.frames[spread_frames(len(video.frames), self.config.reference_frames)], None)
            fit = self._fit(stills, False)
            found = fit.found_mask.cpu()
            if not bool(found.any()):
                raise NoFaceError(f"{video.path}: no face found in the {len(found)} frames compared")
            job.stills = (stills.frames[found.numpy()], fit[found])
        return job.stills

    def _edges_stage(self, job: _Job, progress: bool) -> None:
        """Stray edges: the output's refitted face against the identity's refitted frames and, where those give
        no texel, the target frame (:func:`tfvsdk.metrics.edit_stray_edges`)."""
        c, fit = self.config, job.fit
        if not _can_score(job, "stray_edges", None if "identity" in job.sources else "no identity source given (--identity)"):
            return
        model = self.reconstructor.model.to(c.device)
        target = job.sources.get("target")
        try:
            stills, stills_fit = self._identity_stills(job)
            if target is not None and target.path not in job.source_fits:
                job.source_fits[target.path] = self._fit(target, progress)
        except (PluginError, NoFaceError) as exc:
            job.unavailable["stray_edges"] = str(exc)
            return
        identity = _tensor(stills, c.device)
        identity_vertices = vertices(model, stills_fit)
        for part in _chunks(job.count, c.chunk_size):
            found = fit.found_mask[part].cpu().numpy()
            target_args = ()
            if target is not None:
                rows = job.source_rows(target, part)
                target_fit = job.source_fits[target.path][torch.as_tensor(rows)]
                found = found & target_fit.found_mask.cpu().numpy()
                target_args = (_tensor(target.frames[rows], c.device), vertices(model, target_fit))
            with torch.no_grad():
                values = metrics.edit_stray_edges(model, _tensor(job.output.frames[part], c.device), vertices(model, fit[part]),
                                                  identity, identity_vertices, *target_args)
            job.columns["stray_edges"][part] = np.where(found, values.double().cpu().numpy(), np.nan)
        job.summary["stray_edges"] = _mean(job.columns["stray_edges"])

    def _confidence_stage(self, job: _Job, progress: bool) -> None:
        job.summary["pose_spread_median"] = job.summary["unreliable_pose_frames"] = None
        if not job.found:
            return
        try:
            spread, unreliable = metrics.pose_confidence(self.reconstructor, job.fit, max_degrees=self.config.max_pose_spread)
        except PluginError as exc:
            job.unavailable["pose_spread"] = str(exc)
            return
        job.columns["pose_spread"] = spread.double().numpy()
        finite = job.columns["pose_spread"][np.isfinite(job.columns["pose_spread"])]
        job.summary["pose_spread_median"] = float(np.median(finite)) if finite.size else None
        job.summary["unreliable_pose_frames"] = torch.nonzero(unreliable).flatten().tolist()

    def _reference_stage(self, job: _Job, progress: bool) -> None:
        c, names = self.config, ("ssim", "psnr", "photometric_error")
        for key in names:
            job.summary[key] = None
        if "reference" not in job.sources:
            for key in names:
                job.unavailable[key] = "no reference (ground truth) given (--reference)"
            return
        ref = job.sources["reference"]
        truth = ref.frames[ref.aligned(job.output.fps, job.count)]
        for part in _chunks(job.count, c.chunk_size):
            x, y = _tensor(job.output.frames[part], c.device), _tensor(truth[part], c.device)
            for key, metric in zip(names, (metrics.ssim, metrics.psnr, metrics.photometric_error)):
                job.columns[key][part] = metric(x, y).double().cpu().numpy()
        for key in names:
            job.summary[key] = _mean(job.columns[key])

    def _fid_stage(self, job: _Job, progress: bool) -> None:
        job.summary["fid"] = job.summary["kid"] = None
        if self.config.inception_weights is None:
            reason = "no Inception weights given (--inception-weights pt_inception-2015-12-05-6726825d.pth)"
        elif "identity" not in job.sources or len(job.sources["identity"].frames) < 2:
            reason = "FID/KID compare the output's frames with an identity video of at least 2 frames"
        else:
            try:
                a, b = self._features(job.output), self._features(job.sources["identity"])
            except ModelFileError as exc:
                reason = str(exc)
            else:
                job.summary["fid"] = metrics.frechet_distance(*metrics.feature_statistics(a), *metrics.feature_statistics(b))
                job.summary["kid"] = metrics.kernel_distance(a, b)[0]
                job.summary["fid_samples"] = [len(a), len(b)]
                return
        job.unavailable["fid"] = job.unavailable["kid"] = reason


@attrs.define
class _Job:
    """The state of one evaluation while its stages run."""

    output: Video
    sources: dict[str, Video]
    fit: FaceFit | None = None
    source_fits: dict[Path, FaceFit] = attrs.Factory(dict)
    stills: tuple[np.ndarray, FaceFit] | None = None
    summary: dict[str, Any] = attrs.Factory(dict)
    unavailable: dict[str, str] = attrs.Factory(dict)
    columns: dict[str, np.ndarray] = attrs.field()

    @columns.default
    def _columns(self) -> dict[str, np.ndarray]:
        return {name: np.full(self.count, np.nan) for name in COLUMNS}

    @property
    def count(self) -> int:
        return len(self.output.frames)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.output.frames.shape[1:3])

    @property
    def found(self) -> bool:
        return self.fit is not None and bool(self.fit.found_mask.any())

    def source_rows(self, source: Video, part: slice) -> np.ndarray:
        """The frames of ``source`` matching output frames ``part`` (frame 0 of a still, for each)."""
        if source.fps is None:
            return np.zeros(part.stop - part.start, dtype=int)
        return source.aligned(self.output.fps, self.count)[part]


def _can_score(job: _Job, metric: str, missing: str | None) -> bool:
    """Start ``metric``'s stage: its summary value None until computed; False, with the reason recorded, when
    ``missing`` names a source it lacks or the output could not be refitted."""
    job.summary[metric] = None
    if missing is None and not job.found:
        missing = f"the output could not be refitted: {job.unavailable.get('refit', 'no face found')}"
    if missing is not None:
        job.unavailable[metric] = missing
    return missing is None


@attrs.frozen
class Run:
    """One entry of a manifest: an output video (or every video in a folder) and its sources."""

    name: str
    output: Path
    identity: Path | None = None
    target: Path | None = None
    reference: Path | None = None
    pose: Path | None = None
    expression: Path | None = None

    def videos(self) -> list[tuple[str, Path]]:
        """(row name, video) for each video this entry names."""
        if self.output.is_dir():
            found = sorted(p for p in self.output.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                raise InputError(f"{self.output}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) in the folder")
            return [(f"{self.name}/{p.name}", p) for p in found]
        return [(self.name, self.output)]


def load_manifest(path: str | os.PathLike) -> list[Run]:
    """Read a ``runs.toml``: optional ``[defaults]`` and ``[[run]]`` tables with ``output`` (a video or a
    folder of videos) and optional ``name``, ``identity``, ``target``, ``reference``, ``pose``, ``expression``;
    relative paths are
    relative to the manifest's folder.

    Example (``runs.toml``)::

        [defaults]
        identity = "sources/alice.mp4"
        target = "sources/bob.mp4"

        [[run]]
        name = "smoothed"
        output = "swap.mp4"

        [[run]]
        output = "swap_unsmoothed.mp4"

    Raises:
        InputError: unreadable TOML, no ``[[run]]``, an unknown key, or a missing ``output``.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{p}: not a readable TOML manifest ({exc})") from exc
    keys = {"name", "output", "identity", "target", "reference", "pose", "expression"}
    defaults = data.get("defaults", {})
    entries = data.get("run", [])
    unknown = (set(data) - {"defaults", "run"}) | (set(defaults) - (keys - {"name", "output"})) | {k for e in entries for k in e if k not in keys}
    if unknown:
        raise InputError(f"{p}: unknown keys {sorted(unknown)}; expected [defaults] and [[run]] with {sorted(keys)}")
    if not entries:
        raise InputError(f"{p}: no [[run]] entries")
    runs = []
    for i, entry in enumerate(entries):
        merged = {**defaults, **entry}
        if "output" not in merged:
            raise InputError(f"{p}: run {i} has no 'output'")

        def resolve(key: str) -> Path | None:
            return None if merged.get(key) is None else (p.parent / merged[key])

        runs.append(Run(str(merged.get("name", Path(merged["output"]).stem)), resolve("output"),
                        **{key: resolve(key) for key in ("identity", "target", "reference", "pose", "expression")}))
    return runs
