"""The folder format of a trained component: ``config.json`` + ``model.safetensors`` (as diffusers saves).

``config.json`` holds ``{"format": "tfvsdk-pretrained", "format_version": 1, "class": "module:Class",
"config": {...}}``: the keyword settings that rebuild the architecture (``Class(**config)``, through the
registered factory when loaded by name) and the format version. ``model.safetensors`` holds the weights;
loading never executes code from either file (JSON and safetensors only; ``class`` is informational and is
never imported).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import safetensors
import safetensors.torch
import torch

from . import publish
from .errors import ModelFileError

FORMAT = "tfvsdk-pretrained"
FORMAT_VERSION = 1
"""The version this tfvsdk writes; it reads versions up to this one."""
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
T = TypeVar("T")
SIZE_SLACK = 2
"""A network may describe up to this many times its file's values (+ 2**20) before it is refused unbuilt: wrong
shapes are then named by :func:`fit_state`, while a file asking for orders of magnitude more is refused."""


def save(directory: str | os.PathLike, *, cls: type, config: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> Path:
    """Write a pretrained folder (created if needed; the two files are replaced atomically, weights first).

    Args:
        directory: the folder.
        cls: the component's class (recorded as ``module:qualname``, never imported on loading).
        config: JSON-serialisable keyword settings that rebuild the architecture.
        tensors: the state dict to store.

    Raises:
        TypeError: ``config`` is not JSON-serialisable.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "config": dict(config),
    }
    text = json.dumps(document, indent=1, sort_keys=True)
    cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    publish.write_file(folder / WEIGHTS_FILE, lambda tmp: safetensors.torch.save_file(cpu, tmp, metadata=metadata))
    publish.write_bytes(folder / CONFIG_FILE, (text + "\n").encode())
    return folder


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """The ``config`` settings of a pretrained folder.

    Raises:
        ModelFileError: no folder or config file, a file that is not such a document, or a format version
            newer than this tfvsdk reads.
    """
    folder = Path(directory)
    path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise ModelFileError(f"{folder}: not a folder written by save_pretrained() (expected {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path}: missing; {folder} is not a folder written by save_pretrained()") from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("config"), dict):
        raise ModelFileError(f"{path}: not a {FORMAT} config (expected keys format, format_version, config)")
    version = document.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(f"{path}: format_version {version!r}; this tfvsdk reads versions 1 to {FORMAT_VERSION} (upgrade tfvsdk)")
    return document["config"]


def read_weights(directory: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a pretrained folder (safetensors: no code runs).

    Raises:
        ModelFileError: a missing or unreadable weights file.
    """
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise ModelFileError(f"{path}: missing weights file")
    try:
        return safetensors.torch.load_file(str(path))
    except Exception as exc:
        raise ModelFileError(f"{path}: not a readable safetensors weights file ({exc})") from exc


def stored_values(path: str | os.PathLike) -> tuple[int, int]:
    """(number of tensors, number of values) a safetensors file holds, read from its header alone.

    Raises:
        ModelFileError: a missing or unreadable file.
    """
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            shapes = [f.get_slice(name).get_shape() for name in f.keys()]
    except Exception as exc:
        raise ModelFileError(f"{path}: not a readable safetensors weights file ({exc})") from exc
    return len(shapes), sum(math.prod(shape) for shape in shapes)


def build_within(directory: str | os.PathLike, build: Callable[[], T]) -> T:
    """``build()`` a component for a pretrained folder, refusing settings that describe a network larger than
    the folder's weights before any memory is allocated.

    ``build`` runs first on torch's ``meta`` device (shapes only); if its state dict holds more values than
    ``model.safetensors``, the settings cannot be the ones the weights were saved with (a damaged or hostile
    ``config.json``, e.g. ``base_channels=512`` in a 200-byte file) and nothing is built. A component whose
    construction does not work on the meta device is built without this check.

    Raises:
        ModelFileError: the settings ask for more values than the weights file holds.
    """
    _, values = stored_values(Path(directory) / WEIGHTS_FILE)
    try:
        with torch.device("meta"):
            probe = build()
        needed = sum(t.numel() for t in probe.state_dict().values()) if isinstance(probe, torch.nn.Module) else 0
    except ModelFileError:
        raise
    except Exception:  # construction that needs real tensors: nothing to compare before building
        needed = 0
    if needed > SIZE_SLACK * values + 2**20:
        raise ModelFileError(
            f"{directory}: {CONFIG_FILE} describes a network of {needed:,} values ({needed * 4 / 2**20:.0f} MiB); "
            f"{WEIGHTS_FILE} holds {values:,}"
        )
    return build()


def fit_state(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], source: str, *, optional_prefix: str = "") -> None:
    """Load ``tensors`` into ``module``: every name and shape must match, except that tensors under
    ``optional_prefix`` (e.g. ``"discriminator."``) are loaded only when both sides have them.

    Raises:
        ModelFileError: missing or unexpected tensors or a shape mismatch, named (up to five of each).
    """
    own = module.state_dict()
    optional = bool(optional_prefix) and not (
        any(k.startswith(optional_prefix) for k in own) and any(k.startswith(optional_prefix) for k in tensors)
    )

    def kept(names: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in names.items() if not (optional and k.startswith(optional_prefix))}

    relevant, expected = kept(tensors), kept(own)
    missing = sorted(set(expected) - set(relevant))
    unexpected = sorted(set(relevant) - set(expected))
    wrong = [f"{k} {tuple(relevant[k].shape)} (expected {tuple(v.shape)})" for k, v in expected.items() if k in relevant and relevant[k].shape != v.shape]
    problems = [
        f"{label}: {', '.join(items[:5])}{' …' if len(items) > 5 else ''}"
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        if items
    ]
    if problems:
        raise ModelFileError(f"{source}: weights do not fit {type(module).__name__}; " + "; ".join(problems))
    module.load_state_dict(relevant, strict=False)
