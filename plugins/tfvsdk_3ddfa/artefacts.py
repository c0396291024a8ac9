"""The files of 3DDFA_V2 (github.com/cleardusk/3DDFA_V2, MIT) that the ``3ddfa-v2`` reconstructor uses."""

from __future__ import annotations

from pathlib import Path

from tfvsdk.models import Artefact, ArtefactFile

from .mobilenet import load_checkpoint
from .params import ParamStats

COMMIT = "1b6c67601abffc1e9f248b291708aef0e43b55ae"
BASE_URL = f"https://github.com/cleardusk/3DDFA_V2/raw/{COMMIT}"
LICENCE_URL = f"https://github.com/cleardusk/3DDFA_V2/blob/{COMMIT}/LICENSE"
WEIGHTS = "mb05_120x120.pth"
STATS = "param_mean_std_62d_120x120.pkl"


def _check_checkpoint(path: Path) -> None:
    load_checkpoint(path)


REGRESSOR = Artefact(
    name="3ddfa-v2",
    files=(
        ArtefactFile(
            WEIGHTS,
            f"{BASE_URL}/weights/{WEIGHTS}",
            "f93ed7f1c4c0382b16d7c18480a5f67473c1917a47475a9823924f38aeb27280",
            3752462,
            _check_checkpoint,
        ),
        ArtefactFile(
            STATS,
            f"{BASE_URL}/configs/{STATS}",
            "090d7150f77cb66c29ddae21e4508fbde59123dcd1dea7facc24a7ed06d1c795",
            713,
            ParamStats.load,
        ),
    ),
    licence="MIT",
    licence_url=LICENCE_URL,
    commercial_use=True,
    needed_by=("reconstructor 3ddfa-v2", "tfv fit --init 3ddfa-v2"),
    description="3DDFA_V2's MobileNet-V1 (width 0.5) 62-parameter regressor and its parameter statistics",
    source="cleardusk/3DDFA_V2",
)

REGRESSOR_MB1 = Artefact(
    name="3ddfa-v2-mb1",
    files=(
        ArtefactFile("mb1_120x120.pth", f"{BASE_URL}/weights/mb1_120x120.pth", None, None, _check_checkpoint),
        REGRESSOR.file(STATS),
    ),
    licence="MIT",
    licence_url=LICENCE_URL,
    commercial_use=True,
    needed_by=("reconstructor 3ddfa-v2 (weights='3ddfa-v2-mb1')",),
    description="3DDFA_V2's MobileNet-V1 (width 1.0) regressor; no published hash: the first verified import records it",
    source="cleardusk/3DDFA_V2",
)
