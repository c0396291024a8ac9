"""docs/images/photo_reenact.png: a photo reenacted by a synthetic driver, with the default plugins.

Usage: ``python docs/images/make_photo_figure.py PHOTO`` — the figure in the docs used scikit-image's
``astronaut.png`` (NASA, public domain; not shipped with tfvsdk). Needs the ``faces`` extra (dlib).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import tfvsdk
from tfvsdk import io
from tfvsdk.demo import synth_clips
from tfvsdk.editor import Editor

HERE = Path(__file__).resolve().parent
PICKS = (0, 6, 12, 18, 23)


def _crop_around_face(frames: np.ndarray, fit: tfvsdk.FaceFit, side: int = 160) -> np.ndarray:
    """Square crops (F, side, side, 3) centred on the face, twice the face's landmark extent."""
    points = fit.landmarks[0].numpy()
    centre = (points.min(0) + points.max(0)) / 2
    half = int(np.ptp(points, 0).max())
    x0, y0 = (centre - half).astype(int)
    crops = torch.from_numpy(frames[:, y0 : y0 + 2 * half, x0 : x0 + 2 * half].copy()).permute(0, 3, 1, 2).float()
    return F.interpolate(crops, size=(side, side), mode="area").round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def main(photo: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        driver = synth_clips(tmp, size=160, frames=24, fps=12.0, seed=5)["carol"].path
        out = Path(tmp) / "reenact.mp4"
        summary = Editor("reenact").run({"source": photo, "driver": driver}, out)
        print(summary.line())
        output = np.stack(list(io.iter_frames(out)))[list(PICKS)]
        driving = np.stack(list(io.iter_frames(driver)))[list(PICKS)]
    fit = tfvsdk.create("reconstructor", "landmarks").fit(io.to_tensor([io.read_rgb(photo)]))
    still = _crop_around_face(io.read_rgb(photo)[None], fit)[0]
    blank = np.full_like(still, 255)
    rows = [np.concatenate([blank, *driving], 1), np.concatenate([still, *_crop_around_face(output, fit)], 1)]
    io.write_image(HERE / "photo_reenact.png", np.concatenate(rows, 0))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
