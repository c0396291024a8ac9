"""Morphable-model files the model manager knows: the Basel Face Model as 3DDFA_V2 ships it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfvsdk.errors import ModelFileError
from tfvsdk.models import Artefact, ArtefactFile
from tfvsdk.morphable import load_numpy_pickle

TDDFA_COMMIT = "1b6c67601abffc1e9f248b291708aef0e43b55ae"
TDDFA_URL = f"https://github.com/cleardusk/3DDFA_V2/raw/{TDDFA_COMMIT}/configs"
BFM_FILE = "bfm_noneck_v3.pkl"
TRIANGLES_FILE = "tri.pkl"


def _check_bfm(path: Path) -> None:
    data = load_numpy_pickle(path)
    missing = {"u", "w_shp", "w_exp", "keypoints"} - set(data if isinstance(data, dict) else ())
    if missing:
        raise ModelFileError(f"{path}: not 3DDFA_V2's BFM pickle (missing {sorted(missing)})")


def _check_triangles(path: Path) -> None:
    tri = np.asarray(load_numpy_pickle(path))
    if tri.ndim != 2 or 3 not in tri.shape:
        raise ModelFileError(f"{path}: expected a (3, T) or (T, 3) triangle array, got shape {tri.shape}")


BFM = Artefact(
    name="bfm",
    files=(
        ArtefactFile(BFM_FILE, f"{TDDFA_URL}/{BFM_FILE}", None, None, _check_bfm),
        ArtefactFile(
            TRIANGLES_FILE,
            f"{TDDFA_URL}/{TRIANGLES_FILE}",
            "0562a594d8369f7d1c86306522ff76fd3a2c81cf90ba9443893c1191ad0abbb8",
            913040,
            _check_triangles,
        ),
    ),
    licence="Basel Face Model licence (BFM 2009; 3DDFA_V2: 'only for academic use')",
    licence_url="https://faces.dmi.unibas.ch/bfm/?nav=1-0&id=basel_face_model",
    commercial_use=False,
    accept_licence=True,
    needed_by=("model bfm", "reconstructor 3ddfa-v2 (dense shape; without it: pose initialiser only)"),
    description="the Basel Face Model 2009 without neck, 38,365 vertices, 40 shape + 10 expression components (3DDFA_V2)",
    source="cleardusk/3DDFA_V2",
)
