"""The paper's evaluation metrics (§4, Tables 1–3) on tensors: one module per metric family.

* :mod:`.temporal` — E_tmp, the warping error of ref. [37], per frame pair, with 3-D flow (eq. 9–14) or
  TV-L1 optical flow (the ``flow`` extra).
* :mod:`.similarity` — SSIM of ref. [32] (Gaussian 11 × 11 window, σ = 1.5).
* :mod:`.identity` — E_id, cosine distance of face-recognition vectors (any registered identity embedder);
  a black-and-white identity is compared in greyscale.
* :mod:`.pose` — E_pose and E_exp from refits: rotation angle, Euler-angle errors, expression and landmark
  distances; :func:`pose_confidence` flags frames whose fitted pose is not determined by the image.
* :mod:`.distribution` — FID (Fréchet distance) and KID between feature sets; :mod:`.inception` — FID's
  Inception-v3 features from the user's weights file (SHA-256 checked, never downloaded); :mod:`.folders` —
  FID and KID over folders of frames (images and videos).
* :mod:`.photometric` — photometric error (masked MAE in 0–255, the face MAE with a face mask), PSNR and
  the detail ratio (an output's gradient energy over the reference's: < 1 blurrier).
* :mod:`.colour` — colour outliers (not the paper's): the share of an edited face whose colour none of its
  sources (the frame it was pasted into, the identity photo) shows — blotches that E_id and E_tmp miss.
* :mod:`.edges` — stray edges (not the paper's): the share of an edited face's texture holding edges that
  none of its sources shows where it is seen well — streaks, seams and blotches of the texture completion.

Every function takes batch-first tensors and returns one value per image (or frame pair), so a video's
per-frame curve and its mean come from the same call.
"""

from __future__ import annotations

from .colour import colour_outlier_map, colour_outliers, log_chromaticity
from .distribution import feature_statistics, frechet_distance, kernel_distance
from .edges import edit_stray_edges, stray_edge_map, stray_edges
from .folders import folder_distances, folder_features, frame_files
from .identity import has_colour, identity_distance, luminance, reference_embedding
from .inception import FID_INCEPTION_SHA256, InceptionFeatures, load_inception
from .photometric import detail_ratio, photometric_error, psnr
from .pose import euler_errors, expression_distance, landmark_distance, pose_angle_error, pose_confidence, rotation_angle
from .similarity import gaussian_window, ssim, ssim_map
from .temporal import fit_flows, temporal_error, tvl1_flows, warping_errors

__all__ = [
    "FID_INCEPTION_SHA256",
    "InceptionFeatures",
    "colour_outlier_map",
    "colour_outliers",
    "detail_ratio",
    "edit_stray_edges",
    "euler_errors",
    "expression_distance",
    "feature_statistics",
    "fit_flows",
    "folder_distances",
    "folder_features",
    "frame_files",
    "frechet_distance",
    "gaussian_window",
    "has_colour",
    "identity_distance",
    "kernel_distance",
    "landmark_distance",
    "load_inception",
    "log_chromaticity",
    "luminance",
    "photometric_error",
    "pose_angle_error",
    "pose_confidence",
    "psnr",
    "reference_embedding",
    "rotation_angle",
    "ssim",
    "ssim_map",
    "stray_edge_map",
    "stray_edges",
    "temporal_error",
    "tvl1_flows",
    "warping_errors",
]
