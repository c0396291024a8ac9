"""The relative-pose table of docs/editing.md: ``python docs/images/measure_relative_pose.py``.

Photos reenacted by the synthetic demo person "bob" (24 frames of 256², seed 7: he turns his head 10–27° in
yaw, −10–6° in pitch, 1–9° in roll and talks), with the driver's rotation and expression taken as fitted
(eq. 3) and relatively (``pose="relative"``, ``expression="relative"``: :mod:`tfvsdk.motion`,
:mod:`tfvsdk.expression`). Per case: D(identity) as in ``make_real_faces_figure.py``; the turn error = mean
and max over frames of the angle between the output's head turn ΔR(t) = R(t)·rest(R)ᵀ and the driver's
(both fitted, rest = :func:`tfvsdk.motion.rest_rotation`): whether the photo moves as the driver moves;
and the range over frames of the angle between the output's head rotation and the photo's own. The public
photos (astronaut, Hopper) always; the tilted woman of ``$TFV_FACES/t1.jpg`` when present (see real_faces.py).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import tfvsdk
from tfvsdk import io
from tfvsdk.demo import synth_clips
from tfvsdk.editor import Editor
from tfvsdk.metrics.pose import rotation_angle
from tfvsdk.motion import rest_rotation

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_real_faces_figure as fig  # noqa: E402
import real_faces  # noqa: E402

TRANSFERS = (("absolute", "absolute"), ("relative", "relative"))


def turns(fit: tfvsdk.FaceFit) -> torch.Tensor:
    """(B, 3, 3) each frame's head rotation relative to the fit's rest rotation."""
    return fit.camera.rotation @ rest_rotation(fit).transpose(1, 2)


def main() -> None:
    torch.set_num_threads(2)
    photos = real_faces.photos()
    stills = {name: photos[name] for name in ("astronaut", "hopper")}
    stills = {name: real_faces.similarity_clip(photo, max(real_faces.face_boxes(photo), key=lambda b: b[2]), frames=1)[0]
              for name, photo in stills.items()}
    if "t1" in photos:
        stills["tilted woman"] = real_faces.similarity_clip(photos["t1"], real_faces.face_boxes(photos["t1"])[0], frames=1)[0]
    fitter = Editor("swap")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        driver = synth_clips(tmp, size=256, frames=fig.FRAMES, fps=12.0, seed=7)["bob"].path
        driven = turns(fitter.fit_source("target", driver).fit)
        print("| photo | rotation, expression | D(identity) max | turn error mean / max | angle to the photo's pose |")
        print("|---|---|---|---|---|")
        for name, still in stills.items():
            photo = io.write_image(tmp / f"{name}.png", still)
            own = fitter.fit_source("identity", photo).fit.camera.rotation
            for pose, expression in TRANSFERS:
                output = tmp / f"{name}_{pose}.mp4"
                reenact = tfvsdk.create("composer", "reenact", pose=pose, expression=expression)
                measured = fig.measure(reenact, {"source": photo, "driver": driver}, output, photo, driver)
                fit = fitter.fit_source("target", output).fit
                error = rotation_angle(turns(fit), driven).numpy()
                away = rotation_angle(fit.camera.rotation, own.expand(fit.batch_size, -1, -1)).numpy()
                print(f"| {name} | {pose} | {measured['D_identity_max']:.3f} | {error.mean():.1f}° / {error.max():.1f}° "
                      f"| {away.min():.1f}–{away.max():.1f}° |")


if __name__ == "__main__":
    main()
