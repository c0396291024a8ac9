"""The Surrey Face Model as eos distributes it (``share/`` of github.com/patrikhuber/eos), read into the
SDK's model arrays (the keys of :meth:`~tfvsdk.morphable.MorphableModel.from_arrays`).

eos stores models with cereal's binary archive (little-endian): ``sfm_shape_3448.bin`` is a
``MorphableModel`` (a uint32 class version, then the shape and colour ``PcaModel``s — each mean,
orthonormal basis and eigenvalues as Eigen matrices, int32 rows and columns then column-major float32
values, and the triangle list as a uint64 count of int32 triples — and, in version 1, the texture
coordinates as a uint64 count of float64 pairs). ``expression_blendshapes_3448.bin`` is a vector of
blendshapes (uint64 count; each a uint64-length name and an Eigen vector of vertex offsets). Landmarks
come from ``ibug_to_sfm.txt`` (TOML, 1-based iBUG number = vertex index), the jaw contours from
``sfm_model_contours.json`` and the mirror vertices from ``sfm_reference_symmetry.txt`` (1-based).
Nothing in the files is executed; a file that does not parse raises :class:`~tfvsdk.ModelFileError`.
"""

from __future__ import annotations

import json
import os
import struct
import tomllib

import numpy as np

from ..errors import ModelFileError


class _Reader:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        try:
            with open(self.path, "rb") as handle:
                self.data = handle.read()
        except OSError as exc:
            raise ModelFileError(f"{self.path}: cannot read ({exc})") from None
        self.offset = 0

    def take(self, fmt: str) -> int | float:
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise ModelFileError(f"{self.path}: ends early at byte {self.offset}; not an eos model file")
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return value

    def array(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        if count < 0 or self.offset + size > len(self.data):
            raise ModelFileError(f"{self.path}: ends early at byte {self.offset}; not an eos model file")
        values = np.frombuffer(self.data, dtype, count, self.offset).copy()
        self.offset += size
        return values

    def matrix(self) -> np.ndarray:
        rows, cols = self.take("<i"), self.take("<i")
        return self.array("<f4", rows * cols).reshape(cols, rows).T

    def pca_model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        mean, basis, eigenvalues = self.matrix(), self.matrix(), self.matrix()
        count = self.take("<Q")
        return mean.reshape(-1), basis, eigenvalues.reshape(-1), self.array("<i4", 3 * count).reshape(-1, 3)

    def string(self) -> str:
        return self.array("u1", self.take("<Q")).tobytes().decode("utf-8", "replace")

    def done(self) -> None:
        if self.offset != len(self.data):
            raise ModelFileError(f"{self.path}: {len(self.data) - self.offset} bytes left after the model; unsupported eos file version")


def read_eos_shape_model(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an eos ``MorphableModel`` file of version 1 (shape model, empty colour model, texture coordinates).

    Returns:
        ``mean`` (N, 3), ``id_basis`` (3N, K) — the orthonormal basis times the square roots of the
        eigenvalues, so α_id ~ N(0, I) —, ``id_eigenvalues`` (K,), ``triangles`` (T, 3) int32, ``uv`` (N, 2).
    """
    reader = _Reader(path)
    version = reader.take("<I")
    if version != 1:
        raise ModelFileError(f"{reader.path}: eos model version {version}; only version 1 (the SFM files) is supported")
    mean, basis, eigenvalues, triangles = reader.pca_model()
    reader.pca_model()
    uv = reader.array("<f8", 2 * reader.take("<Q")).reshape(-1, 2)
    reader.done()
    n = mean.size // 3
    if mean.size % 3 or basis.shape[0] != mean.size or eigenvalues.size != basis.shape[1] or uv.shape[0] != n:
        raise ModelFileError(f"{reader.path}: inconsistent shapes (mean {mean.size}, basis {basis.shape}, uv {uv.shape})")
    return {
        "mean": mean.reshape(n, 3).astype(np.float32),
        "id_basis": (basis * np.sqrt(np.clip(eigenvalues, 0, None))[None]).astype(np.float32),
        "id_eigenvalues": eigenvalues.astype(np.float32),
        "triangles": triangles.astype(np.int32),
        "uv": uv.astype(np.float32),
    }


def read_eos_blendshapes(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Read an eos blendshapes file: the names and the (3N, K) offsets from the mean."""
    reader = _Reader(path)
    names, columns = [], []
    for _ in range(reader.take("<Q")):
        names.append(reader.string())
        columns.append(reader.matrix().reshape(-1))
    reader.done()
    if not columns or len({c.size for c in columns}) != 1:
        raise ModelFileError(f"{reader.path}: expected blendshapes of one size")
    return names, np.stack(columns, 1).astype(np.float32)


def sfm_arrays(shape: str | os.PathLike, blendshapes: str | os.PathLike, mappings: str | os.PathLike,
               contours: str | os.PathLike, symmetry: str | os.PathLike) -> dict[str, np.ndarray]:
    """The SDK's model arrays of the SFM from eos' five files (see the module docstring).

    Raises:
        ModelFileError: a file that does not parse or does not fit the shape model.
    """
    arrays = read_eos_shape_model(shape)
    n = arrays["mean"].shape[0]
    names, offsets = read_eos_blendshapes(blendshapes)
    if offsets.shape[0] != 3 * n:
        raise ModelFileError(f"{os.fspath(blendshapes)}: blendshapes of {offsets.shape[0] // 3} vertices for a model of {n}")
    try:
        with open(mappings, "rb") as handle:
            table = tomllib.load(handle)["landmark_mappings"]
        ibug = np.full(68, -1, np.int32)
        for key, vertex in table.items():
            if 1 <= int(key) <= 68:
                ibug[int(key) - 1] = int(vertex)
        with open(contours) as handle:
            contour = json.load(handle)["model_contour"]
        with open(symmetry) as handle:
            mirror = [int(line.split()[0]) - 1 for line in handle if line.strip()]
    except (OSError, KeyError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise ModelFileError(f"SFM landmark, contour or symmetry file: {exc!r}") from exc
    arrays.update(
        exp_basis=offsets,
        exp_names=np.array(names),
        ibug68=ibug,
        contour_right=np.asarray(contour["right_contour"], np.int32),
        contour_left=np.asarray(contour["left_contour"], np.int32),
        symmetry=np.asarray(mirror, np.int32),
    )
    return arrays
