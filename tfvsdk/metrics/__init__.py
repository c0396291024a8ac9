"""The paper's evaluation metrics (§4, Tables 1–3) on tensors: one module per metric family.

* :mod:`.temporal` — E_tmp, the warping error of ref. [37], per frame pair, with 3-D flow (eq. 9–14) or
  TV-L1 optical flow (the ``flow`` extra).
* :mod:`.similarity` — SSIM of ref. [32] (Gaussian 11 × 11 window, σ = 1.5).
* :mod:`.identity` — E_id, cosine distance of face-recognition vectors (any registered identity embedder).
* :mod:`.pose` — E_pose and E_exp from refits: rotation angle, Euler-angle errors, expression and landmark
  distances; :func:`pose_confidence` flags frames whose fitted pose is not determined by the image.
* :mod:`.photometric` — photometric error (masked MAE in 0–255, the face MAE with a face mask) and PSNR.

Every function takes batch-first tensors and returns one value per image (or frame pair), so a video's
per-frame curve and its mean come from the same call.
"""

from __future__ import annotations

from .identity import identity_distance, reference_embedding
from .photometric import photometric_error, psnr
from .pose import euler_errors, expression_distance, landmark_distance, pose_angle_error, pose_confidence, rotation_angle
from .similarity import gaussian_window, ssim, ssim_map
from .temporal import fit_flows, temporal_error, tvl1_flows, warping_errors

__all__ = [
    "euler_errors",
    "expression_distance",
    "fit_flows",
    "gaussian_window",
    "identity_distance",
    "landmark_distance",
    "photometric_error",
    "pose_angle_error",
    "pose_confidence",
    "psnr",
    "reference_embedding",
    "rotation_angle",
    "ssim",
    "ssim_map",
    "temporal_error",
    "tvl1_flows",
    "warping_errors",
]
