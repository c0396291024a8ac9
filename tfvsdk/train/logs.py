"""Training outputs besides checkpoints: metrics as JSON lines (always), TensorBoard (when installed) and
sample grids as PNG."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from ..data.layout import write_atomic, write_image

logger = logging.getLogger(__name__)


class MetricsLog:
    """Appends one JSON object per logged step to ``metrics.jsonl`` and mirrors scalars to TensorBoard.

    Args:
        folder: the run's output folder.
        resume_step: when resuming, lines of steps after this one (written by the interrupted run after its
            last checkpoint) are dropped so the log matches the resumed run.
        tensorboard: write TensorBoard events to ``folder/tb`` when the ``tensorboard`` package is installed.
    """

    def __init__(self, folder: str | os.PathLike, resume_step: int | None = None, tensorboard: bool = True) -> None:
        self.path = Path(folder) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line).get("step", 0) <= resume_step]
            write_atomic(self.path, "".join(f"{line}\n" for line in kept).encode())
        elif resume_step is None and self.path.exists():
            self.path.unlink()
        self._file = open(self.path, "a")
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                # Events from step resume_step + 1 on were written after the checkpoint and are replaced.
                purge = None if resume_step is None else resume_step + 1
                self._tb = SummaryWriter(str(Path(folder) / "tb"), purge_step=purge)
            except ImportError:
                logger.info("tensorboard is not installed; metrics go to %s only", self.path)

    def write(self, step: int, metrics: dict[str, float]) -> None:
        """Log the scalars of ``step``."""
        self._file.write(json.dumps({"step": step, **metrics}) + "\n")
        self._file.flush()
        if self._tb is not None:
            for key, value in metrics.items():
                self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(folder: str | os.PathLike) -> list[dict[str, float]]:
    """The logged metrics of a run, one dict per logged step."""
    path = Path(folder) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def image_grid(columns: Sequence[torch.Tensor], rows: int = 4, pad: int = 2) -> torch.Tensor:
    """Tile images: one column per tensor, one row per sample.

    Args:
        columns: tensors (B, C, H, W) in [0, 1] of equal B, H, W; C = 1 is shown grey.
        rows: at most this many samples.
        pad: white pixels between tiles.

    Returns:
        (3, H', W') image in [0, 1].
    """
    n = min(rows, columns[0].shape[0])
    h, w = columns[0].shape[-2:]
    grid = torch.ones(3, n * (h + pad) + pad, len(columns) * (w + pad) + pad)
    for j, column in enumerate(columns):
        images = column[:n].detach().float().cpu().clamp(0, 1).expand(-1, 3, -1, -1)
        for i in range(n):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[:, y : y + h, x : x + w] = images[i]
    return grid


def save_grid(path: str | os.PathLike, columns: Sequence[torch.Tensor], rows: int = 4, min_tile: int = 96) -> None:
    """Write :func:`image_grid` of ``columns`` as a PNG, tiles enlarged (nearest) to at least ``min_tile`` px."""
    factor = max(1, -(-min_tile // columns[0].shape[-2]))
    if factor > 1:
        columns = [torch.nn.functional.interpolate(c.detach().float(), scale_factor=factor, mode="nearest") for c in columns]
    write_image(Path(path), image_grid(columns, rows))
