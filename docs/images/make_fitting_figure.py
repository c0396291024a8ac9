"""Make docs/images/fitting.png: the ``3ddfa`` reconstructor on rendered faces of the built-in model.

Usage: python docs/images/make_fitting_figure.py [output.png]

Three faces of the built-in model (yaw −30°, 0°, 35°) are rendered with grey shading; their landmarks come
from the ``dlib`` detector when the ``faces`` extra is installed, else from the test synthesis (jaw points on
the projected outline). Each panel shows the fitted mesh's wireframe, the model's landmark vertices (red)
and the landmarks (green); the bottom row draws the jaw band's outline edges (orange) that the jaw
landmarks are matched to.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

import tfvsdk
from tfvsdk import io

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fitting"))
from fitting_helpers import render_face, synthetic_landmarks  # noqa: E402
from tfvsdk_3ddfa.outline import outline_edges  # noqa: E402
from tfvsdk_3ddfa.overlay import draw_fit  # noqa: E402


def main(out: Path, model: tfvsdk.MorphableModel) -> None:
    torch.set_num_threads(1)
    yaws = torch.tensor([-30.0, 0.0, 35.0])
    n = len(yaws)
    width = float(model.mean[:, 0].max() - model.mean[:, 0].min())
    g = torch.Generator().manual_seed(2)
    truth = tfvsdk.FaceFit(
        0.7 * torch.randn(n, model.n_id, generator=g),
        0.25 * torch.randn(n, model.n_exp, generator=g).abs(),
        tfvsdk.Camera.from_euler(
            torch.deg2rad(yaws), torch.deg2rad(torch.tensor([5.0, -5.0, 8.0])), torch.deg2rad(torch.tensor([4.0, 0.0, -6.0])),
            scale=torch.full((n,), 150 / width), translation=torch.tensor([128.0, 136.0]).expand(n, 2),
        ),
        (256, 256),
    )
    images, _ = render_face(model, truth)
    rec = tfvsdk.create("reconstructor", "landmarks", model=model)
    if importlib.util.find_spec("dlib") is not None:
        fit = rec.fit(images)
        source = "dlib landmarks"
    else:
        fit = rec.fit_landmarks(tfvsdk.Detection(synthetic_landmarks(model, truth, noise=0.5).float(), torch.ones(n, dtype=torch.bool), (256, 256)))
        source = "synthetic landmarks"
    frames = io.to_uint8(images)
    top = [draw_fit(frames[i], model, fit[i]) for i in range(n)]

    problem = rec._problem(torch.device("cpu"))
    outline = problem.outline
    bottom = []
    for i in range(n):
        image = Image.fromarray(frames[i])
        draw = ImageDraw.Draw(image)
        with torch.no_grad():
            shape = model.shape(fit.alpha_id[i : i + 1], fit.alpha_exp[i : i + 1])
            screen = fit.camera[i].project(shape)[0, :, :2].numpy()
            edges = outline_edges(outline, shape[:, outline.support], fit.camera.rotation[i : i + 1])[0]
        support = outline.support.numpy()
        for (a, b), on in zip(outline.edges.numpy(), edges.numpy()):
            if on:
                draw.line([tuple(screen[support[a]]), tuple(screen[support[b]])], fill=(255, 150, 0), width=2)
        for x, y in fit.landmarks[i, :17].numpy():
            if np.isfinite(x):
                draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=(60, 255, 90))
        bottom.append(np.asarray(image))
    picture = np.concatenate([np.concatenate(top, 1), np.concatenate(bottom, 1)], 0)
    Image.fromarray(picture).save(out, optimize=True)
    print(f"{out}: {source}; yaw fitted {[round(float(v), 1) for v in torch.rad2deg(fit.camera.euler()[:, 0])]} (rendered {yaws.tolist()})")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("fitting.png")
    main(target, tfvsdk.morphable.load_builtin())
