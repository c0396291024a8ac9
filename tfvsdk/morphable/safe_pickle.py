"""A restricted unpickler for the numpy-only pickles that 3DDFA_V2 and the BFM ship.

Python's pickle runs arbitrary code while loading. :func:`load_numpy_pickle` only admits the handful of
globals that numpy arrays, dtypes and scalars are rebuilt from (plus builtin containers, which need no
global); any other global — ``os.system``, ``builtins.eval``, a class of some package — is refused
*before* it is looked up, so nothing from the file runs.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np

from ..errors import ModelFileError

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


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: str) -> None:
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        canonical = module.replace("numpy.core", "numpy._core", 1) if module.startswith("numpy.core") else module
        dtype_class = _numpy_dtype_class(canonical, name)
        if dtype_class is not None:
            return dtype_class
        if (canonical, name) not in _ALLOWED:
            raise ModelFileError(
                f"{self.source}: refused to load: the pickle references {module}.{name}; "
                "only numpy arrays and plain containers are allowed"
            )
        return super().find_class(canonical, name)


def load_numpy_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle that may contain only numpy arrays/scalars and builtin containers.

    Args:
        path: the pickle file.

    Returns:
        The unpickled object (typically a dict of numpy arrays).

    Raises:
        ModelFileError: the file is missing, unreadable, or references anything else.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            return _NumpyOnlyUnpickler(f, source).load()
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise ModelFileError(f"{source}: file not found") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, OSError) as exc:
        raise ModelFileError(f"{source}: not a readable numpy pickle ({exc})") from exc
