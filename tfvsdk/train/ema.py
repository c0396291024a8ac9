"""An exponential moving average of the generator's and embedder's weights, for evaluation and export.

GAN generators are evaluated and published with a running average of their weights rather than the last
iterate: the average smooths the oscillation that the adversarial game leaves in the weights (Karras et
al., "Progressive Growing of GANs", ICLR 2018, §A.1, decay 0.999; Yazıcı et al., "The Unusual
Effectiveness of Averaging in GAN Training", ICLR 2019). After every optimisation step of G and E

    θ̄ ← β_n θ̄ + (1 − β_n) θ,    β_n = min(β, (1 + n) / (10 + n)),

n the number of updates before this one (0 for the first) and β = ``optim.ema``. The ramp of β_n is
TensorFlow's ``ExponentialMovingAverage(num_updates=…)``: without it the average of a short run would
still be mostly the initial weights (with β = 0.999, e^−1 of it after 1000 steps). Buffers (e.g. running
statistics) are copied, not averaged. The discriminator is not averaged: it is only used for training.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch

from ..errors import InputError


def _trained_parameters(module: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """The module's parameters outside ``module.discriminator``, by name."""
    return {name: p for name, p in module.named_parameters() if not name.startswith("discriminator.")}


class WeightAverage:
    """An averaged copy of a trainable blender's G and E (everything but its ``discriminator``).

    Args:
        module: the blender being trained; the average starts as a copy of its current weights.
        decay: β in [0, 1).

    Attributes:
        module: the averaged blender (its ``discriminator`` is None), in eval mode, without gradients.
        updates: n, the number of :meth:`update` calls so far.

    Example:
        >>> net = torch.nn.Linear(2, 1)
        >>> avg = WeightAverage(net, 0.9)
        >>> avg.update(net); avg.updates
        1
    """

    def __init__(self, module: torch.nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise InputError(f"optim.ema: expected a decay in [0, 1) (0 = off), got {decay!r}")
        self.decay = decay
        d = getattr(module, "discriminator", None)
        if d is not None:
            module.discriminator = None
        try:
            self.module = copy.deepcopy(module)
        finally:
            if d is not None:
                module.discriminator = d
        self.module.requires_grad_(False).eval()
        self.updates = 0

    def current_decay(self) -> float:
        """β_n of the next update: min(β, (1 + n) / (10 + n))."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        """θ̄ ← β_n θ̄ + (1 − β_n) θ for every parameter of ``module`` outside its discriminator; buffers copied."""
        beta = self.current_decay()
        live = _trained_parameters(module)
        for name, avg in _trained_parameters(self.module).items():
            avg.lerp_(live[name].detach().to(avg.dtype), 1.0 - beta)
        live_buffers = dict(module.named_buffers())
        for name, buf in self.module.named_buffers():
            if name in live_buffers:
                buf.copy_(live_buffers[name])
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        """The averaged weights, the decay and the update count (tensors and numbers only)."""
        return {"weights": self.module.state_dict(), "decay": self.decay, "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the decay stays the configured one, so a resumed run may change it)."""
        self.module.load_state_dict(state["weights"])
        self.updates = int(state["updates"])

    @contextlib.contextmanager
    def swapped_into(self, module: torch.nn.Module) -> Iterator[torch.nn.Module]:
        """Put the averaged weights into ``module`` (its D untouched) for the ``with`` block, then restore
        its own; e.g. to save the averaged G and E with the trained D."""
        live = _trained_parameters(module)
        saved = {name: p.detach().clone() for name, p in live.items()}
        averaged = _trained_parameters(self.module)
        with torch.no_grad():
            for name, p in live.items():
                p.copy_(averaged[name])
        try:
            yield module
        finally:
            with torch.no_grad():
                for name, p in live.items():
                    p.copy_(saved[name])
