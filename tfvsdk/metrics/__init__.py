"""The paper's evaluation metrics (§4, Tables 1–3) on tensors: one module per metric family.

* :mod:`.temporal` — E_tmp, the warping error of ref. [37], per frame pair, with 3-D flow (eq. 9–14) or
  TV-L1 optical flow (the ``flow`` extra).
* :mod:`.similarity` — SSIM of ref. [32] (Gaussian 11 × 11 window, σ = 1.5).
* :mod:`.photometric` — photometric error (masked MAE in 0–255, the face MAE with a face mask) and PSNR.

Every function takes batch-first tensors and returns one value per image (or frame pair), so a video's
per-frame curve and its mean come from the same call.
"""

from __future__ import annotations

from .photometric import photometric_error, psnr
from .similarity import gaussian_window, ssim, ssim_map
from .temporal import fit_flows, temporal_error, tvl1_flows, warping_errors

__all__ = [
    "fit_flows",
    "gaussian_window",
    "photometric_error",
    "psnr",
    "ssim",
    "ssim_map",
    "temporal_error",
    "tvl1_flows",
    "warping_errors",
]
