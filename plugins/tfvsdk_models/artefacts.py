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


EOS_COMMIT = "ce984207a51c2edd2e7568a64fec9b98ef61aeed"
EOS_URL = f"https://github.com/patrikhuber/eos/raw/{EOS_COMMIT}/share"
SFM_FILES = {
    "shape": ("sfm_shape_3448.bin", "43750338ae533e7fb981e924b6f67ebde3d292f15ec4fc886ae5af14308ad980", 2784392),
    "blendshapes": ("expression_blendshapes_3448.bin", "a77c81712fc5e8b08a1be4cd2824d51514e5bde6578109ae5240dfb3489efd43", 248400),
    "mappings": ("ibug_to_sfm.txt", "810810c457184526c7d54305ecbc5da764e2431b5e66025d921a7d424aebfac9", 3166),
    "contours": ("sfm_model_contours.json", "c9e69bfa995ab19ac6b27abb07729eb0520a00bb192be12426ca6bce76f3fded", 679),
    "symmetry": ("sfm_reference_symmetry.txt", "d26e02dbb2cf72bfa88bc6bf6f175bf261bae7aff00509cc0ff277675f2fff47", 3447),
}


def _check_shape_model(path: Path) -> None:
    from tfvsdk.morphable.eos_files import read_eos_shape_model

    read_eos_shape_model(path)


def _check_blendshapes(path: Path) -> None:
    from tfvsdk.morphable.eos_files import read_eos_blendshapes

    read_eos_blendshapes(path)


_CHECKS = {"shape": _check_shape_model, "blendshapes": _check_blendshapes}

SFM = Artefact(
    name="sfm",
    files=tuple(ArtefactFile(f, f"{EOS_URL}/{f}", sha, size, _CHECKS.get(role)) for role, (f, sha, size) in SFM_FILES.items()),
    licence="Surrey Face Model licence (free for non-commercial use)",
    licence_url=f"https://github.com/patrikhuber/eos/blob/{EOS_COMMIT}/README.md#license--contributions",
    commercial_use=False,
    accept_licence=True,
    needed_by=("model sfm (converted from eos' files at load)",),
    description="the Surrey Face Model, 3,448 vertices, 63 identity components + 6 expression blendshapes (eos share/)",
    source="patrikhuber/eos",
)
