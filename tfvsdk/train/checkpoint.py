"""Checkpoints that are never half-written, and the random-number state that makes resuming exact.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts, written with ``torch.save`` through
:func:`tfvsdk.publish.write_file` (a partial file in the same folder, fsynced, renamed over the destination,
the folder fsynced). A crash at any moment leaves either the previous checkpoint or the new one, never a
mixture. Loading uses
``torch.load(weights_only=True)``, which builds tensors and plain containers and never runs code from the
file; every state is stored in those types (RNG states as tensors and lists) for that reason.
"""

from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import publish
from ..errors import ModelFileError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Version of the training-checkpoint layout (the keys of :meth:`tfvsdk.train.Trainer.state_dict`)."""
LAST = "last.pt"
_STEP_FILE = re.compile(r"^step-(\d{8})\.pt$")


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (:func:`tfvsdk.publish.write_file`), creating its folder.

    Args:
        path: destination file.
        state: tensors, numbers, strings, bools, None, and lists/tuples/dicts of them.

    Raises:
        OutputError: the file could not be written (e.g. the disk is full); ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            torch.save(state, f)

    publish.write_file(path, write)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` (no code from the file runs).

    Raises:
        ModelFileError: missing, truncated or corrupt file, or one holding anything but tensors and
            plain containers.
    """
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: checkpoint not found") from None
    except Exception as exc:
        raise ModelFileError(f"{path}: not a readable checkpoint ({exc})") from exc
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: expected a dict, got {type(state).__name__}")
    return state


class CheckpointDir:
    """A folder of checkpoints: ``last.pt`` plus the ``keep`` most recent ``step-XXXXXXXX.pt``.

    Args:
        folder: where the checkpoints live (created on the first save).
        keep: step checkpoints kept besides ``last.pt`` (0 keeps only ``last.pt``).
    """

    def __init__(self, folder: str | os.PathLike, keep: int = 2) -> None:
        self.folder = Path(folder)
        self.keep = keep

    @property
    def last(self) -> Path:
        """Path of the most recent checkpoint (may not exist yet)."""
        return self.folder / LAST

    def steps(self) -> list[Path]:
        """The step checkpoints, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if _STEP_FILE.match(p.name))

    def save(self, step: int, state: dict[str, Any]) -> Path:
        """Write ``state`` as ``last.pt`` (atomically), link it as ``step-<step>.pt`` and prune old steps.

        Step checkpoints of steps *after* ``step`` belong to an earlier run in the same folder (a new run
        started with ``--no-resume``): they are removed, so the ``keep`` kept are this run's latest.
        """
        stale = [p for p in self.steps() if int(_STEP_FILE.match(p.name).group(1)) > step]
        for old in stale:
            old.unlink()
        if stale:
            logger.warning("removed %d checkpoint(s) of an earlier run after step %d in %s", len(stale), step, self.folder)
        save_checkpoint(self.last, state)
        if self.keep > 0:
            publish.link_file(self.last, self.folder / f"step-{step:08d}.pt")
            for old in self.steps()[: -self.keep]:
                old.unlink()
        logger.info("checkpoint at step %d: %s", step, self.last)
        return self.last


def rng_state() -> dict[str, Any]:
    """The states of torch's (CPU and CUDA), numpy's global and Python's ``random`` generators.

    Stored as tensors and lists so that :func:`load_checkpoint` can read them with ``weights_only=True``.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators saved by :func:`rng_state` (CUDA states only when CUDA is available)."""
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))
