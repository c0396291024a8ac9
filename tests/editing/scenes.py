"""Scenes with several faces for the face-choice tests: synthetic heads of the built-in model (and the
astronaut's photo), rendered with their true masks."""

from __future__ import annotations

from pathlib import Path

import torch

from tfvsdk import io
from tfvsdk.data.synth import SynthConfig, Synthesizer, backgrounds

ASTRONAUT = Path(__file__).resolve().parents[1] / "assets" / "astronaut_face.png"


def heads(size: int, paths: list[list[tuple[float, float]]], *, zoom: float = 0.4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames of synthetic heads moving along ``paths`` (one list of (x, y) centre offsets per head, in
    pixels from the frame centre, one entry per frame), later heads in front of earlier ones.

    Returns:
        (T, 3, size, size) frames in [0, 1] and (H, T, 1, size, size) visible masks of each head.
    """
    synth = Synthesizer(SynthConfig(size=size, seed=seed))
    frames = len(paths[0])
    g = torch.Generator().manual_seed(seed)
    image = backgrounds(1, size, g).expand(frames, -1, -1, -1)
    masks = []
    for number, path in enumerate(paths):
        gh = torch.Generator().manual_seed(1000 * seed + number + 1)
        alpha_id, tone = synth._identity(gh, 1)
        light = synth._light(gh, 1)
        angles = torch.zeros(frames, 3)
        angles[:, 0] = 0.15 * (1 if number % 2 else -1)
        shift = torch.tensor(path, dtype=torch.float32)
        fit = synth._fit(alpha_id.expand(frames, -1), torch.zeros(frames, synth.model.n_exp), synth.cameras(angles, torch.full((frames,), zoom), shift))
        plain = torch.zeros_like(image)
        marked = synth.render(fit, torch.ones(frames, 3) * 1e-6, torch.tensor([[0.0, 0.0, 1.0, 1.0]]).expand(frames, -1), plain + 1)
        mask = (marked.mean(1, keepdim=True) < 0.5).float()
        image = synth.render(fit, tone.expand(frames, -1), light.expand(frames, -1), image)
        masks = [m * (1 - mask) for m in masks] + [mask]
    return image, torch.stack(masks)


def write_clip(path: Path, frames: torch.Tensor, fps: float = 10.0) -> Path:
    with io.VideoWriter(path, fps) as writer:
        for frame in io.to_uint8(frames):
            writer.write(frame)
    return path


def astronaut(size: int) -> torch.Tensor:
    """(3, size, size) the astronaut's face crop (NASA, public domain), resized."""
    image = io.to_tensor([io.read_rgb(ASTRONAUT)])
    return torch.nn.functional.interpolate(image, size=(size, size), mode="area")[0]
