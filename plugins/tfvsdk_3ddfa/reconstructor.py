"""The ``landmarks`` reconstructor (formerly ``3ddfa``): fits a morphable model to 68 landmarks per image or per clip (paper §3.2).

The paper reconstructs every frame with 3DDFA into identity α_id, expression α_exp and pose C. This
reconstructor reaches the same quantities for any :class:`~tfvsdk.MorphableModel` by fitting the model to
2-D landmarks (a landmark detector's, or given ones): a MAP fit by batched Levenberg–Marquardt
(:mod:`.solver`) with jaw landmarks matched to the visible outline (:mod:`.outline`). A clip shares one
α_id across its frames and is smoothed in time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

import attrs
import numpy as np
import torch

import tfvsdk
from tfvsdk import Camera, Detection, FaceFit, InputError, LandmarkDetector, MorphableModel, Reconstructor
from tfvsdk.checks import check_number, check_tensor
from tfvsdk.morphable import LANDMARK_COUNT
from tfvsdk.threads import one_thread

from .confidence import posterior_rotation_spread
from .pose_init import initial_pose, pose_for_rotation
from .regressor import PoseRegressor
from .problem import MIN_FIXED_LANDMARKS, Correspondences, LandmarkProblem
from .solver import FitState, Matcher, Weights, fit_clip, fit_frames, so3_exp

logger = logging.getLogger(__name__)


class TDDFAReconstructor(Reconstructor):
    """Landmark-driven 3DMM fitting, per image or per clip.

    Args:
        model: a model name for ``tfvsdk.create("model", name)`` or a :class:`~tfvsdk.MorphableModel`.
        detector: a landmark detector name for ``tfvsdk.create("detector", name)`` or an instance; created
            on first use (only :meth:`fit` without landmarks needs it).
        iterations: Levenberg–Marquardt iterations per fit (the first two move the pose only).
        landmark_noise: landmark noise σ as a fraction of the face's RMS landmark radius in the image (0.02
            ≈ 1 px for a face whose landmarks span 140 px); smaller trusts landmarks more than the priors.
        id_prior: weight of the identity prior ‖α_id‖² (1 = the model's N(0, I) prior).
        exp_std: standard deviation σ_exp of the expression prior α_exp ~ N(0, σ_exp² I).
        smoothness: weight λ_t of the temporal term of clip fits (0 = none): second differences over three
            frames are penalised as (λ_t · landmark motion they cause / σ)², so steady motion is free.
        outline_band: width of the band around the jaw line searched for the visible outline (fraction of
            the model's landmark radius).
        window: most frames solved together in a clip; longer clips take α_id from ``window`` frames spread
            over the clip and then fit consecutive windows, each tied to the previous one's last two frames.
        init: the starting pose: ``"affine"`` (closed form from the landmarks, :mod:`.pose_init`) or
            ``"3ddfa-v2"`` (the rotation 3DDFA_V2's regressor gives for the image, a
            :class:`~.regressor.PoseRegressor` or its artefact name; scale and offset then from the
            landmarks). Used by :meth:`fit` and :meth:`fit_video`, which have the images.

    Example:
        >>> rec = tfvsdk.create("reconstructor", "landmarks", model=my_model)  # doctest: +SKIP
        >>> fit = rec.fit_landmarks(tfvsdk.Detection(landmarks, found, (256, 256)))  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        model: str | MorphableModel = "default",
        detector: str | LandmarkDetector = "dlib",
        iterations: int = 12,
        landmark_noise: float = 0.02,
        id_prior: float = 1.0,
        exp_std: float = 1.0,
        smoothness: float = 2.0,
        outline_band: float = 0.5,
        window: int = 256,
        init: str | PoseRegressor = "affine",
    ) -> None:
        if not isinstance(model, (str, MorphableModel)):
            raise InputError(f"model: expected a model name or a MorphableModel, got {type(model).__name__}")
        if not isinstance(detector, (str, LandmarkDetector)):
            raise InputError(f"detector: expected a detector name or a LandmarkDetector, got {type(detector).__name__}")
        if int(iterations) < 1:
            raise InputError(f"iterations: expected >= 1, got {iterations}")
        if int(window) < 2:
            raise InputError(f"window: expected >= 2 frames, got {window}")
        self._model_spec = model
        self._model: MorphableModel | None = model if isinstance(model, MorphableModel) else None
        self._detector_spec = detector
        self._detector: LandmarkDetector | None = detector if isinstance(detector, LandmarkDetector) else None
        self.iterations = int(iterations)
        self.landmark_noise = check_number("landmark_noise", landmark_noise)
        self.id_prior = check_number("id_prior", id_prior, allow_zero=True)
        self.exp_std = check_number("exp_std", exp_std)
        self.smoothness = check_number("smoothness", smoothness, allow_zero=True)
        self.outline_band = check_number("outline_band", outline_band)
        self.window = int(window)
        self.init = _pose_initialiser(init)
        self._problems: dict[torch.device, LandmarkProblem] = {}
        if self._model is not None:
            self._problem(torch.device("cpu"))

    @property
    def model(self) -> MorphableModel:
        if self._model is None:
            self._model = tfvsdk.create("model", self._model_spec)
        return self._model

    @property
    def detector(self) -> LandmarkDetector:
        """The landmark detector, created on first use."""
        if self._detector is None:
            self._detector = tfvsdk.create("detector", self._detector_spec)
        return self._detector

    def _problem(self, device: torch.device) -> LandmarkProblem:
        if device not in self._problems:
            self._problems[device] = LandmarkProblem(self.model, device=device, band=self.outline_band)
        return self._problems[device]

    # -- public API --------------------------------------------------------------------------------------

    def _fit(self, images: torch.Tensor, *, clip: bool, detection: Detection | None) -> FaceFit:
        """Fit (B, 3, H, W) images in [0, 1]: detect landmarks (unless ``detection`` is given), then fit.

        With ``clip=True`` the images are consecutive frames of one person: the detector tracks from frame to
        frame and the fit shares one identity (see :meth:`fit_landmarks`).
        """
        if detection is None:
            if clip:
                self.detector.reset()
            detection = self.detector.detect(images, video=clip)
        rotation = self.init.rotations(images, detection) if self.init is not None else None
        return self.fit_landmarks(detection, clip=clip, initial_rotation=rotation)

    def _fit_video(self, chunks: Iterator[tuple[torch.Tensor, Detection | None]]) -> FaceFit:
        """Fit a clip streamed in chunks: landmarks are detected (tracked) chunk by chunk, and the whole clip is
        then fitted at once with one identity (:meth:`fit_landmarks` with ``clip=True``)."""
        rows = _Rows()
        rotations: list[torch.Tensor] = []
        size: tuple[int, int] | None = None
        for images, detection in tracked(lambda: self.detector, chunks):
            size = detection.image_size
            rows.append(detection.landmarks, detection.found)
            if self.init is not None:
                rotations.append(self.init.rotations(images, detection))
        if size is None:
            raise InputError("fit_video: the clip has no frames")
        landmarks, found = rows.tensors()
        rotation = torch.cat(rotations) if rotations else None
        return self.fit_landmarks(Detection(landmarks, found, size), clip=True, initial_rotation=rotation)

    def fit_landmarks(self, detection: Detection, *, clip: bool = False, initial_rotation: torch.Tensor | None = None) -> FaceFit:
        """Fit the model to 68 iBUG landmarks.

        Landmarks the model has no point for, and NaN landmarks, are left out. Frames with ``found`` False get
        ``found`` False in the fit with placeholder coefficients: zeros and a default camera for single
        images; in a clip, pose and expression interpolated linearly between the nearest frames with a face
        (held constant before the first and after the last).

        Args:
            detection: (B, 68, 2) landmarks in pixels with a (B,) ``found`` flag.
            clip: the B frames are consecutive frames of one person: fit one α_id for all of them, α_exp and
                pose per frame, with the temporal smoothness term.
            initial_rotation: (B, 3, 3) starting head rotations (e.g. a regressor's); scale and offset are
                then solved for them (:func:`~.pose_init.pose_for_rotation`). Default: the affine start.

        Returns:
            The fit, in the landmarks' floating dtype (float32 unless they are float64), on their device.

        Raises:
            InputError: landmarks not of shape (B, 68, 2), infinite values, or a frame marked found with fewer
                than 6 usable landmarks.
        """
        if not isinstance(detection, Detection):
            raise InputError(f"detection: expected a tfvsdk.Detection, got {type(detection).__name__}")
        landmarks, found = detection.landmarks, detection.found
        if landmarks.shape[1:] != (LANDMARK_COUNT, 2):
            raise InputError(
                f"detection.landmarks: expected shape (B, {LANDMARK_COUNT}, 2) (iBUG-68, pixels), got {tuple(landmarks.shape)}"
            )
        if torch.isinf(landmarks).any():
            raise InputError("detection.landmarks: contains infinite values (use NaN for a missing landmark)")
        device = landmarks.device
        dtype = landmarks.dtype if landmarks.dtype in (torch.float32, torch.float64) else torch.float32
        problem = self._problem(device)
        valid = torch.isfinite(landmarks).all(-1) & found[:, None]
        usable = (valid & problem.fixed).sum(1)
        bad = torch.nonzero(found & (usable < MIN_FIXED_LANDMARKS)).flatten().tolist()
        if bad:
            raise InputError(
                f"detection: frames {bad[:10]}{'…' if len(bad) > 10 else ''} are marked found but have fewer than "
                f"{MIN_FIXED_LANDMARKS} finite landmarks that model {problem.model_name!r} has vertices for"
            )
        targets = torch.nan_to_num(landmarks.to(torch.float64))
        if initial_rotation is not None:
            check_tensor("initial_rotation", initial_rotation, (landmarks.shape[0], 3, 3))
            initial_rotation = initial_rotation.to(targets)
        with one_thread():
            state, weights = self._initialise(problem, targets, valid, found, detection.image_size, clip, initial_rotation)
            if bool(found.any()):
                state = self._solve(problem, state, targets, valid, found, weights, clip)
        return FaceFit(
            alpha_id=state.alpha_id.to(dtype),
            alpha_exp=state.alpha_exp.to(dtype),
            camera=Camera(state.scale.to(dtype), state.rotation.to(dtype), state.translation.to(dtype)),
            image_size=detection.image_size,
            landmarks=landmarks,
            found=found,
        )

    def pose_spread(self, fit: FaceFit) -> torch.Tensor:
        """(B,) expected error of each frame's fitted rotation, degrees: the posterior spread of
        :func:`~tfvsdk_3ddfa.confidence.posterior_rotation_spread` under this reconstructor's priors and
        landmark noise (σ = ``landmark_noise`` × the frame's landmark radius), with one Newton step from the
        fitted pose toward the marginal's mode (the fit is already close to it).

        Each frame is treated alone: a clip fit's shared identity and temporal term constrain the pose
        further, so for clips the spread is an upper bound.

        Raises:
            InputError: ``fit`` carries no landmarks (it was not made from landmarks).
        """
        if fit.landmarks is None or fit.landmarks.shape[1:] != (LANDMARK_COUNT, 2):
            raise InputError("fit: pose_spread needs the fit's 68 landmarks (FaceFit.landmarks)")
        targets = torch.nan_to_num(fit.landmarks.to(torch.float64))
        valid = torch.isfinite(fit.landmarks).all(-1) & fit.found_mask[:, None]
        noise = self.landmark_noise * _landmark_radius(targets, valid)
        problem = self._problem(fit.alpha_id.device)
        return posterior_rotation_spread(
            problem, fit, fit.landmarks, noise=noise, exp_std=self.exp_std, id_prior=self.id_prior, newton_steps=1
        )

    # -- internals ---------------------------------------------------------------------------------------

    def _initialise(
        self,
        problem: LandmarkProblem,
        targets: torch.Tensor,
        valid: torch.Tensor,
        found: torch.Tensor,
        image_size: tuple[int, int],
        clip: bool,
        initial_rotation: torch.Tensor | None = None,
    ) -> tuple[FitState, Weights]:
        b = targets.shape[0]
        dt, dev = targets.dtype, targets.device
        radius = _landmark_radius(targets, valid)
        typical = float(radius[found].median()) if bool(found.any()) else min(image_size) / 6
        radius = torch.where(found, radius, torch.full_like(radius, typical))

        corr = problem.fixed_correspondences(valid)
        pts = problem.points(corr)
        if initial_rotation is None:
            rotation, log_scale, translation = initial_pose(pts.mean, targets, corr.weight)
        else:
            rotation = initial_rotation
            log_scale, translation = pose_for_rotation(pts.mean, targets, corr.weight, rotation)
        default_scale = torch.full_like(log_scale, float(np.log(typical / problem.radius)))
        centre = targets.new_tensor([image_size[1] / 2, image_size[0] / 2]).expand(b, 2)
        eye = torch.eye(3, dtype=dt, device=dev).expand(b, 3, 3)
        if clip and bool(found.any()):
            rotation, log_scale, translation = _interpolate_missing(found, rotation, log_scale, translation)
        else:
            rotation = torch.where(found[:, None, None], rotation, eye)
            log_scale = torch.where(found, log_scale, default_scale)
            translation = torch.where(found[:, None], translation, centre)
        state = FitState(
            rotation,
            log_scale,
            translation,
            torch.zeros(b, problem.n_id, dtype=dt, device=dev),
            torch.zeros(b, problem.n_exp, dtype=dt, device=dev),
        )
        weights = Weights(
            sigma=self.landmark_noise * (torch.full_like(radius, typical) if clip else radius),
            prior_id=self.id_prior,
            prior_exp=1.0 / self.exp_std**2,
            smoothness=self.smoothness,
            face_radius=typical,
            exp_motion=problem.exp_motion * (typical / problem.radius),
        )
        return state, weights

    def _solve(
        self,
        problem: LandmarkProblem,
        state: FitState,
        targets: torch.Tensor,
        valid: torch.Tensor,
        found: torch.Tensor,
        weights: Weights,
        clip: bool,
    ) -> FitState:
        def matcher(rows: slice | torch.Tensor) -> Matcher:
            base = problem.fixed_correspondences(valid[rows])

            def match(s: FitState) -> Correspondences:
                return problem.match_jaw(
                    base, targets[rows], valid[rows], s.rotation, s.scale, s.translation, s.alpha_id, s.alpha_exp
                )

            return match

        if not clip:
            return fit_frames(problem.points, matcher(slice(None)), state, targets, weights, self.iterations)
        f = targets.shape[0]
        if f <= self.window:
            state = fit_clip(problem.points, matcher(slice(None)), state, targets, weights, self.iterations)
        else:
            state = self._solve_windows(problem, matcher, state, targets, found, weights)
        if bool(found.all()):
            return state
        rotation, log_scale, translation, alpha_exp = _interpolate_missing(
            found, state.rotation, state.log_scale, state.translation, state.alpha_exp
        )
        return FitState(rotation, log_scale, translation, state.alpha_id, alpha_exp)

    def _solve_windows(
        self,
        problem: LandmarkProblem,
        matcher: Callable[[torch.Tensor], Matcher],
        state: FitState,
        targets: torch.Tensor,
        found: torch.Tensor,
        weights: Weights,
    ) -> FitState:
        """A long clip: α_id from ``window`` frames spread over it, then consecutive windows with that α_id,
        each tied to the previous window's last two frames when they hold a face."""
        f = targets.shape[0]
        frames = torch.nonzero(found).flatten()
        pick = frames[torch.linspace(0, len(frames) - 1, min(self.window, len(frames))).round().long()]
        sample = _rows(state, pick)
        sample_weights = _weights_rows(weights, pick, smoothness=0.0)
        sample = fit_clip(problem.points, matcher(pick), sample, targets[pick], sample_weights, self.iterations)
        state = FitState(state.rotation, state.log_scale, state.translation, sample.alpha_id[:1].expand_as(state.alpha_id), state.alpha_exp)
        pieces, anchor = [], None
        for start in range(0, f, self.window):
            rows = torch.arange(start, min(start + self.window, f), device=targets.device)
            part = fit_clip(
                problem.points,
                matcher(rows),
                _rows(state, rows),
                targets[rows],
                _weights_rows(weights, rows),
                self.iterations,
                fixed_identity=True,
                anchor=anchor,
            )
            pieces.append(part)
            tail = torch.arange(max(len(rows) - 2, 0), len(rows), device=targets.device)
            anchor = _rows(part, tail) if bool(found[rows[tail]].all()) else None
        return FitState(*(torch.cat([getattr(p, name) for p in pieces]) for name in _FIELDS))


def tracked(
    detector: Callable[[], LandmarkDetector], chunks: Iterable[tuple[torch.Tensor, Detection | None]]
) -> Iterator[tuple[torch.Tensor, Detection]]:
    """The chunks of a clip with landmarks: given ones kept, missing ones detected by ``detector()``, which
    tracks from chunk to chunk (reset before the first chunk it sees)."""
    tracking = False
    for images, detection in chunks:
        if detection is None:
            if not tracking:
                detector().reset()
                tracking = True
            detection = detector().detect(images, video=True)
        yield images, detection


def _pose_initialiser(init: object) -> PoseRegressor | None:
    if isinstance(init, PoseRegressor):
        return init
    if init == "affine":
        return None
    if init == "3ddfa-v2":
        return PoseRegressor()
    raise InputError(f"init: expected 'affine', '3ddfa-v2' or a PoseRegressor, got {init!r}")


class _Rows:
    """Landmark rows of a clip appended chunk by chunk into buffers that double when full.

    Keeping each chunk's small tensors instead would leave one small long-lived allocation after each chunk's
    large short-lived ones (decoded frames, images); glibc's heap cannot give that space back or reuse it
    whole, and resident memory grew by ~2.4 MB per 16-frame chunk at 128² (a 100 s clip: +370 MiB).
    """

    def __init__(self) -> None:
        self.count = 0
        self.landmarks: torch.Tensor | None = None
        self.found: torch.Tensor | None = None

    def append(self, landmarks: torch.Tensor, found: torch.Tensor) -> None:
        """Add (B, L, 2) landmarks and their (B,) found flags."""
        end = self.count + landmarks.shape[0]
        if self.landmarks is None or end > self.landmarks.shape[0]:
            capacity = max(end, 2 * (0 if self.landmarks is None else self.landmarks.shape[0]), 64)
            grown = landmarks.new_empty(capacity, *landmarks.shape[1:])
            grown_found = found.new_empty(capacity)
            if self.landmarks is not None:
                grown[: self.count] = self.landmarks[: self.count]
                grown_found[: self.count] = self.found[: self.count]
            self.landmarks, self.found = grown, grown_found
        self.landmarks[self.count : end] = landmarks
        self.found[self.count : end] = found
        self.count = end

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The (N, L, 2) landmarks and (N,) found flags appended so far."""
        return self.landmarks[: self.count], self.found[: self.count]


_FIELDS = ("rotation", "log_scale", "translation", "alpha_id", "alpha_exp")


def _rows(state: FitState, rows: torch.Tensor) -> FitState:
    return FitState(*(getattr(state, name)[rows] for name in _FIELDS))


def _weights_rows(weights: Weights, rows: torch.Tensor, smoothness: float | None = None) -> Weights:
    return attrs.evolve(
        weights, sigma=weights.sigma[rows], smoothness=weights.smoothness if smoothness is None else smoothness
    )


def _landmark_radius(targets: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B,) RMS distance of the valid landmarks from their centroid, pixels."""
    centred = torch.where(valid[..., None], targets - _masked_mean(targets, valid)[:, None], 0.0)
    return (centred.square().sum(-1).sum(1) / valid.sum(1).clamp_min(1)).sqrt()


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask[..., None].to(values.dtype)
    return (values * m).sum(1) / m.sum(1).clamp_min(1)


def _interpolate_missing(
    found: torch.Tensor, rotation: torch.Tensor, log_scale: torch.Tensor, translation: torch.Tensor, *rest: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """Fill frames without a face by linear interpolation between the nearest found frames (constant beyond
    the first and last); rotations are interpolated along the geodesic, ``rest`` (B, K) linearly."""
    idx = torch.arange(found.shape[0], device=found.device)
    have = idx[found]
    right = torch.searchsorted(have, idx).clamp(max=len(have) - 1)
    left = (right - 1).clamp(min=0)
    right = torch.where(have[right] < idx, left, right)
    left = torch.where(have[left] > idx, right, left)
    i0, i1 = have[left], have[right]
    span = (i1 - i0).clamp(min=1).to(log_scale.dtype)
    w = ((idx - i0).to(log_scale.dtype) / span).clamp(0, 1)
    w = torch.where(found, torch.zeros_like(w), w)
    i0 = torch.where(found, idx, i0)
    i1 = torch.where(found, idx, i1)
    r0, r1 = rotation[i0], rotation[i1]
    relative = r1 @ r0.transpose(1, 2)
    rot = so3_exp(_so3_log(relative) * w[:, None]) @ r0
    return (
        rot,
        torch.lerp(log_scale[i0], log_scale[i1], w),
        torch.lerp(translation[i0], translation[i1], w[:, None]),
        *(torch.lerp(x[i0], x[i1], w[:, None]) for x in rest),
    )


def _so3_log(rotation: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) rotations → (B, 3) axis-angle vectors (angles below π)."""
    cos = ((torch.diagonal(rotation, dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    angle = torch.acos(cos)
    axis = torch.stack(
        [rotation[:, 2, 1] - rotation[:, 1, 2], rotation[:, 0, 2] - rotation[:, 2, 0], rotation[:, 1, 0] - rotation[:, 0, 1]], -1
    )
    sin = torch.sin(angle)
    factor = torch.where(sin.abs() < 1e-9, torch.full_like(angle, 0.5), angle / (2 * sin.clamp_min(1e-9)))
    return axis * factor[:, None]
