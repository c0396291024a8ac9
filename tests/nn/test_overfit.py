"""The small preset can learn: E + G fit a handful of synthetic samples (L_rec falls ≥ 5×) in a few seconds."""

from __future__ import annotations

import pytest
import torch

from tfvsdk.losses import reconstruction_loss
from tfvsdk.nn import Embedder, Generator, GeneratorConfig


def synthetic_faces(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Frames with a shaded elliptic "face" on a gradient background, a mis-tinted rendering of each face
    (R, zero outside the mask) and the face masks: ``(rendered, frames, masks)``."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    rendered, frames, masks = [], [], []
    for _ in range(n):
        background = 0.2 + 0.6 * torch.rand(3, 1, 1, generator=g) + 0.3 * torch.rand(3, 1, 1, generator=g) * xx
        cx, cy = (torch.rand(2, generator=g) - 0.5) * 0.4
        mask = (((xx - cx) / 0.45) ** 2 + ((yy - cy) / 0.6) ** 2 <= 1).float()
        face = (0.3 + 0.5 * torch.rand(3, 1, 1, generator=g)) * (0.8 + 0.2 * (yy - cy))
        tint = 0.6 + 0.4 * torch.rand(3, 1, 1, generator=g)
        frames.append((background * (1 - mask) + face * mask).clamp(0, 1))
        rendered.append((face * tint).clamp(0, 1) * mask)
        masks.append(mask[None])
    return torch.stack(rendered), torch.stack(frames), torch.stack(masks)


@pytest.fixture
def one_thread():
    """Small convolutions gain little from a second thread and stall when the shared CPU is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_small_preset_overfits_a_few_samples(one_thread):
    torch.manual_seed(0)
    config = GeneratorConfig.preset("small")
    embedder, generator = Embedder(config.base_channels, config.n_down, config.embed_channels), Generator(config)
    rendered, frames, masks = synthetic_faces(4, 32)
    hint = frames * (1 - masks)
    is_video = torch.ones(4, dtype=torch.bool)
    optimiser = torch.optim.Adam([*embedder.parameters(), *generator.parameters()], lr=2e-3)
    losses: list[float] = []
    while len(losses) < 150 and not (losses and losses[-1] * 5 <= losses[0]):
        output = generator(rendered, embedder(frames, hint), masks, hint)
        loss = reconstruction_loss(output, frames, is_video)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] * 5 <= losses[0], f"L_rec fell from {losses[0]:.4f} only to {losses[-1]:.4f} in 150 steps"
