"""Shape and value checks that raise :class:`~tfvsdk.errors.InputError` (never ``assert``).

Shapes are given as tuples whose entries are ints (exact size), ``None`` (any size) or strings (a named
size that must agree across the checks sharing one ``sizes`` dict), e.g. ``("B", "N", 3)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .errors import InputError

Dim = int | str | None


def _describe(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join("*" if d is None else str(d) for d in shape) + ")"


def check_shape(
    name: str,
    x: torch.Tensor | np.ndarray,
    shape: Sequence[Dim],
    sizes: dict[str, int] | None = None,
) -> None:
    """Raise InputError unless ``x`` has the given shape.

    Args:
        name: what ``x`` is, used in the message (e.g. ``"alpha_id"``).
        x: a tensor or array.
        shape: expected shape; ints are exact, ``None`` matches any size, strings are named sizes.
        sizes: named sizes already bound; new names are bound in place.
    """
    sizes = {} if sizes is None else sizes
    actual = tuple(x.shape)
    expected = _describe(shape)
    if len(actual) != len(shape):
        raise InputError(f"{name}: expected shape {expected}, got {actual}")
    for dim, size in zip(shape, actual):
        if isinstance(dim, int) and dim != size:
            raise InputError(f"{name}: expected shape {expected}, got {actual}")
        if isinstance(dim, str):
            bound = sizes.setdefault(dim, size)
            if bound != size:
                raise InputError(
                    f"{name}: expected shape {expected} with {dim}={bound}, got {actual}"
                )


def check_finite(name: str, x: torch.Tensor | np.ndarray) -> None:
    """Raise InputError if ``x`` holds NaN or infinite values.

    CPU float32/float64 tensors are tested through a zero-copy numpy view: on frame-sized tensors numpy's
    test is ~12× cheaper than ``torch.isfinite(x).all()`` (0.7 vs 8.5 ms for 16 × 256² × 3 on this machine).
    """
    if isinstance(x, torch.Tensor) and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        x = x.detach().numpy()
    finite = torch.isfinite(x).all() if isinstance(x, torch.Tensor) else np.isfinite(x).all()
    if not bool(finite):
        raise InputError(f"{name}: contains NaN or infinite values")


def check_tensor(
    name: str,
    x: object,
    shape: Sequence[Dim],
    sizes: dict[str, int] | None = None,
    *,
    floating: bool = True,
    finite: bool = True,
) -> None:
    """Check that ``x`` is a torch tensor of the given shape (and floating point and finite by default)."""
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise InputError(f"{name}: expected a floating-point tensor, got {x.dtype}")
    check_shape(name, x, shape, sizes)
    if finite and floating:
        check_finite(name, x)


def check_range(name: str, x: torch.Tensor, low: float, high: float) -> None:
    """Raise InputError unless every value of ``x`` lies in ``[low, high]``."""
    if x.numel() and (x.min() < low or x.max() > high):
        raise InputError(
            f"{name}: values must lie in [{low}, {high}], got [{x.min().item():.4g}, {x.max().item():.4g}]"
        )


def check_device(name: str, device: str | torch.device) -> torch.device:
    """The torch device ``device``, after checking that a tensor can be placed on it.

    Raises:
        InputError: not a device name (``"cpu"``, ``"cuda:0"``, ...), or one this torch build or machine does
            not have (e.g. ``"cuda"`` on a CPU-only build); the message names ``name``.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"{name}: {device!r} is not a torch device; expected e.g. 'cpu' or 'cuda:0'") from exc
    try:
        torch.empty(1, device=dev)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{name}: device {str(dev)!r} is not available here ({reason}); use 'cpu'") from exc
    return dev


MAX_COUNT = 2**31 - 1
"""Upper bound of every integer setting (steps, batch sizes, workers, seeds...)."""


def check_number(name: str, value: object, *, allow_zero: bool = False, integer: bool = False) -> float:
    """``value`` as a float (or int with ``integer=True``) if it is a finite number > 0 (≥ 0 with
    ``allow_zero``; integers at most :data:`MAX_COUNT`), else InputError naming ``name``."""
    is_number = isinstance(value, int) if integer else isinstance(value, (int, float, np.integer, np.floating))
    kind = "an integer" if integer else "a value"
    bound = f"{'≥' if allow_zero else '>'} 0"
    if isinstance(value, bool) or not is_number or value < 0 or (value == 0 and not allow_zero):  # type: ignore[operator]
        raise InputError(f"{name}: expected {kind} {bound}, got {value!r}")
    if isinstance(value, (int, np.integer)) and value > MAX_COUNT:
        raise InputError(f"{name}: expected {kind} {bound} and ≤ {MAX_COUNT}, got {value!r}")
    if not np.isfinite(float(value)):  # type: ignore[arg-type]
        raise InputError(f"{name}: expected {kind} {bound} and finite, got {value!r}")
    return int(value) if integer else float(value)  # type: ignore[arg-type]


def _validator(allow_zero: bool, integer: bool):  # noqa: ANN202 - an attrs validator
    def validate(instance: object, attribute: object, value: object) -> None:
        check_number(f"{type(instance).__name__}.{attribute.name}", value, allow_zero=allow_zero, integer=integer)  # type: ignore[attr-defined]

    return validate


positive = _validator(allow_zero=False, integer=False)
"""attrs validator: a finite number > 0."""
non_negative = _validator(allow_zero=True, integer=False)
"""attrs validator: a finite number ≥ 0."""
positive_int = _validator(allow_zero=False, integer=True)
"""attrs validator: an integer ≥ 1."""
non_negative_int = _validator(allow_zero=True, integer=True)
"""attrs validator: an integer ≥ 0."""


def at_most(high: int):  # noqa: ANN201 - an attrs validator
    """attrs validator: a value ≤ ``high`` (combine with :data:`positive_int` etc.)."""

    def validate(instance: object, attribute: object, value: object) -> None:
        if value > high:  # type: ignore[operator]
            raise InputError(f"{type(instance).__name__}.{attribute.name}: expected a value ≤ {high}, got {value!r}")  # type: ignore[attr-defined]

    return validate
