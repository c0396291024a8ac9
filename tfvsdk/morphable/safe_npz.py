"""Reading the arrays of an npz file with the memory they may take bounded *before* any is read.

An npz is a zip archive of ``.npy`` members; a small archive can hold members that inflate to gigabytes (a
"zip bomb"), and a member's header can announce a shape larger than its data. :func:`load_npz_arrays` reads
each member's npy header and the archive's declared sizes first, and refuses the file when an array would be
larger than its member, when it holds Python objects, or when all arrays together would exceed ``max_bytes``.
Only then are the arrays read (``allow_pickle=False``); zip members cannot inflate past their declared size.
"""

from __future__ import annotations

import math
import os
import zipfile

import numpy as np

from ..errors import ModelFileError

MAX_MODEL_BYTES = 1 << 30
"""Default bound of the arrays of a model file (1 GiB; the BFM as 3DDFA_V2 ships it needs ~0.1 GiB)."""


def _array_bytes(member: zipfile.ZipExtFile, name: str, source: str) -> int:
    try:
        version = np.lib.format.read_magic(member)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(member)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{source}: member {name!r} is not an npy array ({exc})") from exc
    if dtype.hasobject:
        raise ModelFileError(f"{source}: member {name!r} holds Python objects; only numeric arrays are allowed")
    return math.prod(shape) * dtype.itemsize


def load_npz_arrays(path: str | os.PathLike, *, max_bytes: int = MAX_MODEL_BYTES) -> dict[str, np.ndarray]:
    """All arrays of an npz file, after checking what they will take.

    Args:
        path: the ``.npz`` file.
        max_bytes: bound of the arrays' total size in memory.

    Returns:
        ``{name: array}`` for every member.

    Raises:
        ModelFileError: missing or not an npz, a member whose array is larger than its data, arrays of more
            than ``max_bytes`` in total, or object arrays. Nothing large is allocated before the check.
    """
    source = os.fspath(path)
    try:
        archive = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise ModelFileError(f"{source}: file not found") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(f"{source}: not a readable npz archive ({exc})") from exc
    with archive:
        total = 0
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            with archive.open(info) as member:
                size = _array_bytes(member, name, source)
            if size > info.file_size:
                raise ModelFileError(f"{source}: member {name!r} announces an array of {size} bytes but holds {info.file_size}")
            total += info.file_size
            if total > max_bytes:
                raise ModelFileError(
                    f"{source}: its arrays would take more than {max_bytes / 2**20:.0f} MiB of memory "
                    f"({info.file_size / 2**20:.0f} MiB in {name!r} alone, from a {os.path.getsize(source) / 2**20:.1f} MiB file)"
                )
    try:
        with np.load(source, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{source}: not a readable npz model ({exc})") from exc
