"""The ICT Face Model Light (github.com/ICT-VGL/ICT-FaceKit, MIT licence): its face area and identity space,
read into arrays for :func:`~tfvsdk.morphable.transfer.transfer_identity_basis`.

ICT-FaceKit ships its model as Wavefront OBJ meshes of one topology (26,719 vertices, centimetres, +y up,
+z toward the viewer): ``generic_neutral_mesh.obj`` and 100 identity morph targets ``identity000.obj`` …
(principal components of light-stage scans; a target minus the neutral mesh is one standard deviation, as
ICT-FaceKit samples identities from N(0, I)). Only the *narrow face area* is read (vertices 0–6705:
forehead to chin, in front of the ears; no eyeballs, teeth or head), its quads split into triangles; the
eye and mouth openings, holes in that surface, are closed by a fan around a new vertex at their rim's mean,
whose basis rows are the rim's mean too, so that the built-in model's eyes and lips find a surface to
correspond to. Lengths are converted to millimetres. Landmarks are ICT-FaceKit's Multi-PIE 68 vertices.
Nothing in the files is executed: OBJ is read as text, ``v`` and ``f`` lines only; a file that does not
parse raises :class:`~tfvsdk.ModelFileError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ModelFileError

FACE_VERTICES = 6706
NEUTRAL_FILE = "generic_neutral_mesh.obj"
IDENTITY_COUNT = 100
IBUG68 = (
    1225, 1888, 1052, 367, 1719, 1722, 2199, 1447, 966, 3661, 4390, 3927, 3924, 2608, 3272, 4088, 3443, 268,
    493, 1914, 2044, 1401, 3615, 4240, 4114, 2734, 2509, 978, 4527, 4942, 4857, 1140, 2075, 1147, 4269, 3360,
    1507, 1542, 1537, 1528, 1518, 1511, 3742, 3751, 3756, 3721, 3725, 3732, 5708, 5695, 2081, 0, 4275, 6200,
    6213, 6346, 6461, 5518, 5957, 5841, 5702, 5711, 5533, 6216, 6207, 6470, 5517, 5966,
)
MILLIMETRES_PER_UNIT = 10.0


def model_files(identities: int = IDENTITY_COUNT) -> list[str]:
    """The names of the OBJ files :func:`ict_face_arrays` reads: the neutral mesh, then the identities."""
    return [NEUTRAL_FILE, *(f"identity{k:03d}.obj" for k in range(identities))]


def read_obj(path: str | os.PathLike, vertices: int, *, polygons: bool = False) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """The first ``vertices`` positions of an OBJ file, (vertices, 3) float64, and with ``polygons`` the
    polygons (0-based vertex index tuples) whose corners are all among them.

    Raises:
        ModelFileError: unreadable file, a malformed line, or fewer vertices than asked.
    """
    source = os.fspath(path)
    positions: list[list[str]] = []
    faces: list[tuple[int, ...]] = []
    try:
        with open(source, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("v ") and len(positions) < vertices:
                    positions.append(line.split()[1:4])
                elif polygons and line.startswith("f "):
                    corners = tuple(int(c.split("/")[0]) - 1 for c in line.split()[1:])
                    if min(corners) < 0:
                        raise ValueError(f"polygon with a relative or zero vertex index: {line.strip()!r}")
                    if max(corners) < vertices:
                        faces.append(corners)
        xyz = np.asarray(positions, np.float64)
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{source}: cannot read ({exc})") from None
    except ValueError as exc:
        raise ModelFileError(f"{source}: not an OBJ mesh ({exc})") from None
    if xyz.shape != (vertices, 3):
        raise ModelFileError(f"{source}: expected at least {vertices} vertices with x y z, got {len(positions)}")
    return xyz, faces


def _triangles(polygons: Sequence[tuple[int, ...]]) -> np.ndarray:
    return np.asarray([(p[0], p[k], p[k + 1]) for p in polygons for k in range(1, len(p) - 1)], np.int64)


def _rim_loops(triangles: np.ndarray) -> list[list[int]]:
    """The boundary loops of a triangle mesh, each as vertices in order, longest first."""
    edges = {(int(a), int(b)) for tri in triangles for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0]))}
    following = {a: b for a, b in edges if (b, a) not in edges}
    loops = []
    while following:
        start, nxt = following.popitem()
        loop = [start]
        while nxt != start:
            loop.append(nxt)
            nxt = following.pop(nxt)
        loops.append(loop)
    return sorted(loops, key=len, reverse=True)


def ict_face_arrays(files: Mapping[str, str | os.PathLike], identities: int = IDENTITY_COUNT) -> dict[str, np.ndarray]:
    """The face area of the ICT Face Model Light with its identity basis.

    Args:
        files: path of each file of :func:`model_files` by its name.
        identities: how many of the 100 identity components to read (the first ones).

    Returns:
        ``mean`` (M, 3) and ``id_basis`` (3M, identities) in millimetres, ``triangles`` (T, 3) int64,
        ``ibug68`` (68,) — M = 6706 face vertices + 3 opening centres.

    Raises:
        ModelFileError: a missing file, a file that does not parse, or a face area without its outline and
            three openings.
    """
    names = model_files(identities)
    missing = [n for n in names if n not in files]
    if missing:
        raise ModelFileError(f"ICT Face Model: missing files {missing[:3]}{' …' if len(missing) > 3 else ''}")
    base, polygons = read_obj(files[NEUTRAL_FILE], FACE_VERTICES, polygons=True)
    triangles = _triangles(polygons)
    loops = _rim_loops(triangles)
    if len(loops) != 4:
        raise ModelFileError(f"{os.fspath(files[NEUTRAL_FILE])}: expected a face outline and three openings, got {len(loops)} rims")
    deltas = np.stack([read_obj(files[n], FACE_VERTICES)[0] - base for n in names[1:]], 2)
    caps = []
    for k, loop in enumerate(loops[1:]):
        centre = FACE_VERTICES + k
        caps += [(loop[(i + 1) % len(loop)], loop[i], centre) for i in range(len(loop))]
    openings = loops[1:]
    mean = np.concatenate([base, [base[o].mean(0) for o in openings]]) * MILLIMETRES_PER_UNIT
    deltas = np.concatenate([deltas, [deltas[o].mean(0) for o in openings]]) * MILLIMETRES_PER_UNIT
    return {
        "mean": mean,
        "id_basis": deltas.reshape(-1, identities),
        "triangles": np.concatenate([triangles, np.asarray(caps, np.int64)]),
        "ibug68": np.asarray(IBUG68, np.int64),
    }
