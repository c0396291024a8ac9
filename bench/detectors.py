"""Face detectors on turned and small heads: ``python bench/detectors.py``.

Synthetic heads of the built-in model (random identities and lights, the synthesizer's renderer) at
256², turned by a yaw of 0–90°, at two sizes (face height 55 % and 22 % of the frame). For each detector,
recall per yaw (a head counts as found when a detected box's centre lies inside the head's true bounding
box) and the time per 256² image including the 68 landmarks of each face found (median over all images;
the detectors and the thread counts alternate image by image, so the machine's load affects all alike).
dlib runs its own single-threaded code; torch's thread count only touches the image conversion.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

import tfvsdk
from tfvsdk.data.synth import SynthConfig, Synthesizer, backgrounds

YAWS = (0, 15, 30, 45, 60, 75, 90)
ZOOMS = (0.55, 0.22)


def head(synth: Synthesizer, person: int, yaw: float, zoom: float) -> tuple[torch.Tensor, np.ndarray]:
    """(1, 3, S, S) image of one turned head and its true box (left, top, right, bottom) in pixels."""
    g = torch.Generator().manual_seed(person)
    alpha_id, tone = synth._identity(g, 1)
    angles = torch.tensor([[math.radians(yaw), 0.0, 0.0]])
    fit = synth._fit(alpha_id, torch.zeros(1, synth.model.n_exp), synth.cameras(angles, torch.tensor([zoom]), torch.zeros(1, 2)))
    image = synth.render(fit, tone, synth._light(g, 1), backgrounds(1, synth.config.size, g))
    points = tfvsdk.morphable.vertices(synth.model, fit)[0, :, :2].numpy()
    return image, np.concatenate([points.min(0), points.max(0)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2)
    args = parser.parse_args()
    threads = (1, 2)
    synth = Synthesizer(SynthConfig(size=256, seed=0))
    detectors = {
        "dlib (HOG, upsample 1)": tfvsdk.create("detector", "dlib"),
        "dlib-cnn (MMOD, upsample 0)": tfvsdk.create("detector", "dlib-cnn"),
        "dlib-cnn (MMOD, upsample 1)": tfvsdk.create("detector", "dlib-cnn", upsample=1),
    }
    found = {name: np.zeros((len(ZOOMS), len(YAWS))) for name in detectors}
    seconds: dict[tuple[str, int], list[float]] = {(name, n): [] for name in detectors for n in threads}
    for z, zoom in enumerate(ZOOMS):
        for y, yaw in enumerate(YAWS):
            for person in range(args.people):
                image, box = head(synth, person, yaw, zoom)
                for name, detector in detectors.items():
                    for n in threads:
                        torch.set_num_threads(n)
                        start = time.perf_counter()
                        faces = detector.detect_all(image)[0]
                        seconds[name, n].append(time.perf_counter() - start)
                    centres = ((faces.boxes[:, :2] + faces.boxes[:, 2:]) / 2).numpy()
                    inside = ((centres >= box[:2]) & (centres <= box[2:])).all(1)
                    found[name][z, y] += bool(inside.any())
    print(f"recall of {args.people} heads per cell, 256² frames\n")
    print("| detector | face height | " + " | ".join(f"yaw {y}°" for y in YAWS) + " | ms / image, 1 thread | 2 threads |")
    print("|---|---|" + "---|" * len(YAWS) + "---|---|")
    for name in detectors:
        for z, zoom in enumerate(ZOOMS):
            cells = " | ".join(f"{found[name][z, y] / args.people:.2f}" for y in range(len(YAWS)))
            times = " | ".join(f"{1000 * np.median(seconds[name, n]):.0f}" for n in threads)
            print(f"| {name} | {round(zoom * 256)} px | {cells} | {times} |")


if __name__ == "__main__":
    main()
