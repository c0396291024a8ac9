"""The ``3ddfa-v2`` reconstructor: 3DDFA_V2's regressor (Guo et al. 2020) as the paper's 3DDFA step (§3.2).

Per image: the registered landmark detector's 68 points give 3DDFA_V2's crop box, the MobileNet regresses
the 62 parameters (:class:`~.regressor.PoseRegressor`), and

* on the BFM as 3DDFA_V2 ships it, they *are* the fit: 40 identity and 10 expression coefficients and the
  camera (:func:`~.params.from_3ddfa_params`; the regressed [sR] is not exactly a scaled rotation, and the
  error of the SDK's single-scale camera is :func:`~.params.camera_conversion_error`);
* on any other model the regressed rotation starts the landmark fitter (:class:`~.reconstructor.TDDFAReconstructor`
  with ``init`` set to the regressor), which then fits the model to the landmarks.

A clip (``clip=True``, :meth:`fit_video`) shares one identity: on the BFM the mean of the frames' regressed
α_id; frames without a face take pose and expression interpolated from their neighbours.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import torch

import tfvsdk
from tfvsdk import Detection, FaceFit, InputError, LandmarkDetector, MorphableModel, Reconstructor

from .artefacts import REGRESSOR
from .reconstructor import TDDFAReconstructor, _interpolate_missing, tracked
from .regressor import PoseRegressor

logger = logging.getLogger(__name__)

BFM_COEFFICIENTS = (40, 10)


def is_3ddfa_bfm(model: MorphableModel) -> bool:
    """The model is 3DDFA_V2's BFM (the ``bfm`` loader's, 40 identity and 10 expression components)."""
    return model.name == "bfm" and (model.id_basis.shape[1], model.exp_basis.shape[1]) == BFM_COEFFICIENTS


class TDDFAV2Reconstructor(Reconstructor):
    """3DDFA_V2's 62-parameter regressor: the fit itself on the BFM, the pose initialiser on other models.

    Args:
        model: a :class:`~tfvsdk.MorphableModel`, a model name, or None: the BFM when the ``bfm`` artefact
            is in the model cache, else the built-in ``default`` model. A model named ``"bfm"`` is taken to
            be loaded with its bases whitened by the 62-vector's std (as this class loads it), unless
            ``whitened`` is False.
        model_path: the file of a model given by name (e.g. ``bfm_noneck_v3.pkl`` for ``"bfm"``; default:
            the model cache's copy).
        detector: landmark detector name or instance (the crop box comes from its 68 points).
        weights: model-manager artefact (``"3ddfa-v2"``, ``"3ddfa-v2-mb1"``) or checkpoint path.
        stats: path of ``param_mean_std_62d_120x120.pkl`` (default: the artefact's).
        batch_size: crops per network run.
        whitened: the BFM's bases are multiplied by the std of the 62-vector (see :mod:`.params`).
        **fitter: options of the landmark fitter used on models other than the BFM (``iterations``,
            ``smoothness``, …, see :class:`~.reconstructor.TDDFAReconstructor`).

    Raises:
        ModelFileError: the regressor's files are not in the model cache (``tfv models fetch 3ddfa-v2``).
    """

    def __init__(
        self,
        *,
        model: str | MorphableModel | None = None,
        model_path: str | None = None,
        detector: str | LandmarkDetector = "dlib",
        weights: str = REGRESSOR.name,
        stats: str | None = None,
        batch_size: int = 32,
        whitened: bool = True,
        **fitter: Any,
    ) -> None:
        self.regressor = PoseRegressor(weights, stats, batch_size=batch_size)
        self.whitened = bool(whitened)
        self._model = self._load_model(model, {} if model_path is None else {"path": model_path})
        self._detector_spec = detector
        self._detector: LandmarkDetector | None = detector if isinstance(detector, LandmarkDetector) else None
        self.fitter: TDDFAReconstructor | None = None
        if is_3ddfa_bfm(self._model):
            if fitter:
                raise InputError(f"{sorted(fitter)}: landmark-fitter options do not apply to the BFM, which the regressor fits itself")
        else:
            self.fitter = TDDFAReconstructor(model=self._model, detector=detector, init=self.regressor, **fitter)

    def _load_model(self, model: str | MorphableModel | None, config: dict[str, Any]) -> MorphableModel:
        if isinstance(model, MorphableModel):
            return model
        if model is None:
            from tfvsdk import models

            model = "bfm" if models.find("bfm") is not None else "default"
            logger.info("3ddfa-v2: using model %r", model)
        if model == "bfm" and self.whitened:
            stats = self.regressor.stats
            return tfvsdk.create("model", "bfm", id_std=stats.id_std.numpy(), exp_std=stats.exp_std.numpy(), **config)
        if not isinstance(model, str):
            raise InputError(f"model: expected a model name or a MorphableModel, got {type(model).__name__}")
        return tfvsdk.create("model", model, **config)

    @property
    def model(self) -> MorphableModel:
        return self._model

    @property
    def detector(self) -> LandmarkDetector:
        """The landmark detector, created on first use."""
        if self.fitter is not None:
            return self.fitter.detector
        if self._detector is None:
            self._detector = tfvsdk.create("detector", self._detector_spec)
        return self._detector

    def _fit(self, images: torch.Tensor, *, clip: bool, detection: Detection | None) -> FaceFit:
        """Fit checked images (landmarks detected unless ``detection`` is given)."""
        if self.fitter is not None:
            return self.fitter.fit(images, clip=clip, detection=detection)
        if detection is None:
            if clip:
                self.detector.reset()
            detection = self.detector.detect(images, video=clip)
        fit = self.regressor.fit(images, detection, whitened=self.whitened)
        return self._as_model(_one_identity(fit) if clip else fit)

    def _fit_video(self, chunks: Iterator[tuple[torch.Tensor, Detection | None]]) -> FaceFit:
        """Fit checked chunks of a clip (landmarks tracked across chunks), with one identity."""
        if self.fitter is not None:
            return self.fitter.fit_video(chunks)
        fits = []
        for images, detection in tracked(lambda: self.detector, chunks):
            fits.append(self.regressor.fit(images, detection, whitened=self.whitened))
        if not fits:
            raise InputError("fit_video: the clip has no frames")
        return self._as_model(_one_identity(FaceFit.cat(fits)))

    def _as_model(self, fit: FaceFit) -> FaceFit:
        """The regressor's float64 fit in the model's dtype (coefficients and camera), as the contract asks."""
        dtype = self._model.id_basis.dtype
        cam = fit.camera
        camera = tfvsdk.Camera(cam.scale.to(dtype), cam.rotation.to(dtype), cam.translation.to(dtype))
        return FaceFit(fit.alpha_id.to(dtype), fit.alpha_exp.to(dtype), camera, fit.image_size, landmarks=fit.landmarks, found=fit.found)


def _one_identity(fit: FaceFit) -> FaceFit:
    """One α_id (the mean over frames with a face) for a clip; frames without a face interpolated."""
    found = fit.found_mask
    if not bool(found.any()):
        return fit
    alpha_id = fit.alpha_id[found].mean(0, keepdim=True).expand_as(fit.alpha_id)
    cam = fit.camera
    rotation, log_scale, translation, alpha_exp = _interpolate_missing(
        found, cam.rotation, cam.scale.log(), cam.translation, fit.alpha_exp
    )
    return FaceFit(alpha_id, alpha_exp, tfvsdk.Camera(log_scale.exp(), rotation, translation), fit.image_size,
                   landmarks=fit.landmarks, found=fit.found)
