"""3DDFA_V2's regressor on images: crop boxes from landmarks, batched MobileNet runs, 62 parameters.

The crop follows 3DDFA_V2's ``crop_policy="landmark"`` (:func:`~.params.roi_box_from_landmarks`), the box
3DDFA_V2 itself takes from 68 landmarks when it tracks a video: the face box comes from the registered
landmark detector's 68 points. (3DDFA_V2's ``"box"`` policy is calibrated on FaceBoxes' boxes; dlib's
boxes are tighter, and on the astronaut photo the box policy applied to the landmarks' bounding box gave a
pose 0.8° further from the landmark fitter than the landmark policy.)
"""

from __future__ import annotations

import os

import torch

from tfvsdk import Camera, Detection, FaceFit, InputError
from tfvsdk.checks import check_tensor

from .artefacts import REGRESSOR, STATS
from .mobilenet import MobileNetV1, load_checkpoint, regress_params
from .params import PARAM_COUNT, ParamStats, from_3ddfa_params, roi_box_from_landmarks


class PoseRegressor:
    """3DDFA_V2's MobileNet with its parameter statistics, run on the faces a landmark detector found.

    Args:
        weights: a model-manager artefact name (``"3ddfa-v2"``, ``"3ddfa-v2-mb1"``) or the path of a
            checkpoint in 3DDFA_V2's format.
        stats: path of ``param_mean_std_62d_120x120.pkl``; default: the artefact's copy.
        batch_size: crops per network run.
        device: torch device of the network (default: CPU); inputs are moved to it.

    Raises:
        ModelFileError: the files are not in the model cache (with the ``tfv models fetch`` command) or do
            not load.
    """

    def __init__(
        self,
        weights: str | os.PathLike = REGRESSOR.name,
        stats: str | os.PathLike | None = None,
        *,
        batch_size: int = 32,
        device: str | torch.device = "cpu",
    ) -> None:
        if int(batch_size) < 1:
            raise InputError(f"batch_size: expected >= 1, got {batch_size}")
        weights_path, stats_path = _resolve(weights, stats)
        self.net: MobileNetV1 = load_checkpoint(weights_path).to(device)
        self.stats = ParamStats.load(stats_path)
        self.batch_size = int(batch_size)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def regress(self, images: torch.Tensor, detection: Detection) -> tuple[torch.Tensor, torch.Tensor]:
        """3DDFA_V2's parameters of each image's face.

        Args:
            images: (B, 3, H, W) RGB in [0, 1].
            detection: the images' 68 landmarks (SDK pixels) and found flags.

        Returns:
            ``(params, roi_box)``: (B, 62) float64 parameters and (B, 4) float64 crop boxes (3DDFA_V2's
            coordinates); NaN rows where no face was found.
        """
        check_tensor("images", images, (None, 3, None, None))
        b = images.shape[0]
        if detection.landmarks.shape[0] != b or tuple(detection.image_size) != tuple(images.shape[-2:]):
            raise InputError(
                f"detection: expected {b} rows for images of size {tuple(images.shape[-2:])}, got "
                f"{detection.landmarks.shape[0]} rows for size {detection.image_size}"
            )
        params = torch.full((b, PARAM_COUNT), float("nan"), dtype=torch.float64)
        boxes = torch.full((b, 4), float("nan"), dtype=torch.float64)
        rows = torch.nonzero(detection.found.cpu()).flatten()
        if len(rows):
            box = roi_box_from_landmarks(detection.landmarks.cpu().double()[rows])
            boxes[rows] = box
            for start in range(0, len(rows), self.batch_size):
                part = rows[start : start + self.batch_size]
                crops = images[part.to(images.device)].to(self.device, torch.float32)
                out = regress_params(self.net, crops, box[start : start + len(part)].float().to(self.device), self.stats)
                params[part] = out.double().cpu()
        return params, boxes

    def fit(self, images: torch.Tensor, detection: Detection, *, whitened: bool = True) -> FaceFit:
        """A fit of 3DDFA_V2's BFM (40 identity, 10 expression coefficients) from the regressed parameters
        (:func:`~.params.from_3ddfa_params`; see :func:`~.params.camera_conversion_error` for what the
        single-scale camera costs). Frames without a face get zeros and an identity camera, ``found`` False.
        """
        params, boxes = self.regress(images, detection)
        found = detection.found.cpu()
        safe_params = torch.where(found[:, None], params, self.stats.mean.double()[None])
        side = float(min(detection.image_size))
        safe_boxes = torch.where(found[:, None], boxes, boxes.new_tensor([0.0, 0.0, side, side]))
        fit = from_3ddfa_params(safe_params, safe_boxes, detection.image_size, self.stats, whitened=whitened)
        eye = torch.eye(3, dtype=torch.float64).expand(len(found), 3, 3)
        centre = torch.tensor([detection.image_size[1] / 2, detection.image_size[0] / 2], dtype=torch.float64)
        camera = Camera(
            torch.where(found, fit.camera.scale, fit.camera.scale.median()),
            torch.where(found[:, None, None], fit.camera.rotation, eye),
            torch.where(found[:, None], fit.camera.translation, centre),
        )
        zero = torch.zeros(())
        return FaceFit(
            torch.where(found[:, None], fit.alpha_id, zero.double()),
            torch.where(found[:, None], fit.alpha_exp, zero.double()),
            camera,
            detection.image_size,
            landmarks=detection.landmarks,
            found=detection.found,
        )

    def rotations(self, images: torch.Tensor, detection: Detection) -> torch.Tensor:
        """(B, 3, 3) float64 head rotations (the identity where no face was found), in the SDK's model axes."""
        fit = self.fit(images, detection, whitened=False)
        return fit.camera.rotation


def _resolve(weights: str | os.PathLike, stats: str | os.PathLike | None) -> tuple[os.PathLike | str, os.PathLike | str]:
    from tfvsdk import models

    if isinstance(weights, str) and os.path.sep not in weights and not weights.endswith(".pth"):
        files = models.paths(weights)
        checkpoint = next(p for name, p in files.items() if name.endswith(".pth"))
        return checkpoint, stats if stats is not None else files[STATS]
    return weights, stats if stats is not None else models.paths(REGRESSOR.name)[STATS]

