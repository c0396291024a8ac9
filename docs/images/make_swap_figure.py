"""docs/images/swap_fidelity.png and the measures shown in docs/editing.md: ``python docs/images/make_swap_figure.py``.

Uses the sources and measures of ``tests/editing/test_swap_fidelity.py`` (needs the ``faces`` extra).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

import tfvsdk
from tfvsdk import io

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "editing"))

import test_swap_fidelity as fidelity  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths, model = fidelity.make_swap(Path(tmp))
        detector = tfvsdk.create("detector", "dlib")
        faces = detector, tfvsdk.create("identity_embedder", "dlib", detector=detector)
        read = {role: fidelity.read_faces(paths[role], faces) for role in ("identity", "target", "output")}
        frames = {role: fidelity.frames_of(paths[role]) for role in paths}
        rec = tfvsdk.create("reconstructor", "landmarks")
        fits = {role: rec.fit(io.to_tensor(f), clip=len(f) > 1) for role, f in frames.items()}
    picks = range(0, fidelity.FRAMES, 3)
    blank = np.full_like(frames["identity"][0], 255)
    sheet = np.concatenate(
        [
            np.concatenate([frames["identity"][0]] + [frames["target"][i] for i in picks], 1),
            np.concatenate([blank] + [frames["output"][i] for i in picks], 1),
        ],
        0,
    )
    iio.imwrite(HERE / "swap_fidelity.png", sheet[::2, ::2])

    def degrees(a: tfvsdk.FaceFit, b: tfvsdk.FaceFit) -> float:
        return float(torch.rad2deg(torch.linalg.matrix_norm(a.camera.rotation - b.camera.rotation) / 2**0.5).median())

    jaw = model.exp_names.index("jaw_open")
    out, idn, tgt = fits["output"], fits["identity"], fits["target"]
    rows = [
        ("face descriptor distance (dlib, mean)", np.linalg.norm(read["output"][0] - read["identity"][0], axis=1).mean(),
         np.linalg.norm(read["output"][0] - read["target"][0], axis=1).mean()),
        ("head rotation difference (°, median)", degrees(out, idn), degrees(out, tgt)),
        ("fitted jaw_open difference (mean)", float((out.alpha_exp[:, jaw] - idn.alpha_exp[0, jaw]).abs().mean()),
         float((out.alpha_exp[:, jaw] - tgt.alpha_exp[:, jaw]).abs().mean())),
    ]
    print("| output compared with | identity | target |\n|---|---|---|")
    for name, a, b in rows:
        print(f"| {name} | {a:.2f} | {b:.2f} |")
    opening, target_opening = read["output"][1], read["target"][1]
    one_left_out = max(np.corrcoef(np.delete(opening, k), np.delete(target_opening, k))[0, 1] for k in range(len(opening)))
    print(f"mouth opening correlation with the target: {np.corrcoef(opening, target_opening)[0, 1]:.2f} "
          f"({one_left_out:.2f} leaving out the frame that lowers it most)")
    print(f"fitted jaw_open correlation with the target: {np.corrcoef(out.alpha_exp[:, jaw], tgt.alpha_exp[:, jaw])[0, 1]:.2f}")


if __name__ == "__main__":
    main()
