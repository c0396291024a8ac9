"""A restricted unpickler for the numpy-only pickles that 3DDFA_V2 and the BFM ship.

Python's pickle runs arbitrary code while loading. :func:`load_numpy_pickle` only admits the handful of
globals that numpy arrays, dtypes and scalars are rebuilt from (plus builtin containers, which need no
global); any other global — ``os.system``, ``builtins.eval``, a class of some package — is refused
*before* it is looked up, so nothing from the file runs.

A pickle can also ask numpy for an array of any shape in a few bytes (``ndarray((2**50,), 'u1')``, an array
of a huge sub-array dtype). The admitted numpy callables are wrapped so that every array or dtype they would
create is sized first; together they may take at most the file's size plus :data:`ALLOCATION_SLACK` bytes —
an honest pickle's arrays are rebuilt from data stored in the file itself (``ndarray.__setstate__`` checks
that the stored bytes match the shape).
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ModelFileError

ALLOCATION_SLACK = 1 << 20
"""Bytes of numpy arrays a pickle may create beyond its own size (1 MiB)."""

_ALLOWED = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
    ("codecs", "encode"),
}


def _numpy_dtype_class(module: str, name: str) -> type | None:
    """numpy ≥ 1.25 pickles dtypes as ``numpy.dtypes.Float32DType`` and so on."""
    if module == "numpy.dtypes" and name.endswith("DType"):
        cls = getattr(np.dtypes, name, None)
        if isinstance(cls, type) and issubclass(cls, np.dtype):
            return cls
    return None


def _shape_size(shape: Any) -> int:
    dims = shape if isinstance(shape, (tuple, list)) else (shape,)
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"expected a shape of integers, got {shape!r}")
    return math.prod(dims)


def _ndarray_arguments(shape: Any = (), dtype: Any = float, *_: Any, **__: Any) -> tuple[Any, Any]:
    """The shape and dtype of a call ``ndarray(shape, dtype, buffer, ...)``."""
    return shape, dtype


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: str, budget: int) -> None:
        super().__init__(file, encoding="latin1")
        self.source = source
        self.budget = budget
        self._ndarray = self._sized(np.ndarray, "ndarray")

    def _spend(self, nbytes: int, what: str) -> None:
        if nbytes > self.budget:
            raise ModelFileError(
                f"{self.source}: refused to load: the pickle asks for {what} of {nbytes} bytes, more than a file "
                f"of {os.path.getsize(self.source)} bytes can hold"
            )
        self.budget -= nbytes

    def _sized(self, build: Callable[..., Any], kind: str) -> Callable[..., Any]:
        """``build`` (a numpy callable), refusing arrays and dtypes larger than the remaining budget."""

        def checked(*args: Any, **kwargs: Any) -> Any:
            if kind == "dtype":
                dtype = build(*args, **kwargs)
                self._spend(dtype.itemsize, "a dtype")
                return dtype
            if kind == "ndarray":
                shape, dtype = _ndarray_arguments(*args, **kwargs)
            else:  # _reconstruct(subtype, shape, dtype): the subtype is the stand-in this unpickler gave for ndarray
                shape, dtype = args[1], args[2]
                args = (np.ndarray if args[0] is self._ndarray else args[0], *args[1:])
            self._spend(_shape_size(shape) * np.dtype(dtype).itemsize, "an array")
            return build(*args, **kwargs)

        return checked

    def find_class(self, module: str, name: str) -> Any:
        canonical = module.replace("numpy.core", "numpy._core", 1) if module.startswith("numpy.core") else module
        dtype_class = _numpy_dtype_class(canonical, name)
        if dtype_class is not None:
            return self._sized(dtype_class, "dtype")
        if (canonical, name) not in _ALLOWED:
            raise ModelFileError(
                f"{self.source}: refused to load: the pickle references {module}.{name}; "
                "only numpy arrays and plain containers are allowed"
            )
        if name == "ndarray":
            return self._ndarray
        found = super().find_class(canonical, name)
        kind = {"_reconstruct": "reconstruct", "dtype": "dtype"}.get(name)
        return self._sized(found, kind) if kind else found


def load_numpy_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle that may contain only numpy arrays/scalars and builtin containers.

    Args:
        path: the pickle file.

    Returns:
        The unpickled object (typically a dict of numpy arrays).

    Raises:
        ModelFileError: the file is missing, unreadable, references anything else, or asks for arrays larger
            than its size plus :data:`ALLOCATION_SLACK` (refused before they are allocated).
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            return _NumpyOnlyUnpickler(f, source, os.fstat(f.fileno()).st_size + ALLOCATION_SLACK).load()
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise ModelFileError(f"{source}: file not found") from None
    except MemoryError as exc:
        raise ModelFileError(f"{source}: refused to load: the pickle asks for more memory than is available") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, OverflowError, OSError) as exc:
        raise ModelFileError(f"{source}: not a readable numpy pickle ({exc})") from exc
