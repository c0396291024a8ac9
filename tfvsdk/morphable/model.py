"""The 3D morphable model S = S̄ + A_id α_id + A_exp α_exp (paper eq. 1–2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from ..checks import check_tensor
from ..errors import InputError, ModelFileError
from .symmetry import complete_symmetry

if TYPE_CHECKING:
    from ..camera import Camera

LANDMARK_COUNT = 68


def _as_array(name: str, value: object, dtype: type, ndim: int) -> np.ndarray:
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.ndim != ndim:
        raise ModelFileError(f"{name}: expected {ndim} dimensions, got shape {array.shape}")
    if np.issubdtype(dtype, np.floating) and not np.isfinite(array).all():
        raise ModelFileError(f"{name}: contains NaN or infinite values")
    return array.astype(dtype, copy=False)


class MorphableModel(torch.nn.Module):
    """A linear 3D face model with identity and expression bases (paper eq. 1–2).

    Every array is a buffer, so ``model.to(device)`` moves it. Vertices are in model space (see
    :mod:`tfvsdk.camera`): right-handed, +x the subject's left, +y up, +z toward the viewer.

    Args:
        mean: (N, 3) mean shape S̄.
        id_basis: (3N, K_id) identity basis A_id, rows x0, y0, z0, x1, …; scaled so that α_id ~ N(0, I)
            is the prior (the fitters' regulariser assumes it).
        exp_basis: (3N, K_exp) expression basis A_exp, same row layout.
        triangles: (T, 3) vertex indices, counter-clockwise seen from the front.
        uv: (N, 2) texture coordinates in [0, 1] (v downward), or None.
        landmarks: (68,) vertex index of each iBUG-68 landmark, −1 where the model has none, or None.
        contour_right: candidate jaw-line vertices on the subject's right (−x), ear to chin.
        contour_left: candidate jaw-line vertices on the subject's left (+x), ear to chin.
        symmetry: (N,) index of each vertex's mirror vertex, −1 where unknown, or None (none known); a
            shorter array gives the first vertices' mirrors. Unknown mirrors are completed from the mean
            shape (:func:`~tfvsdk.morphable.symmetry.complete_symmetry`: the vertex nearest to the mirror
            image, within 0.75 median edge lengths; −1 stays where none is).
        id_names: names of the identity basis columns.
        exp_names: names of the expression basis columns.
        name: a short name for messages.

    Raises:
        ModelFileError: an array has the wrong shape, dtype range or non-finite values.
    """

    def __init__(
        self,
        mean: np.ndarray | torch.Tensor,
        id_basis: np.ndarray | torch.Tensor,
        exp_basis: np.ndarray | torch.Tensor,
        triangles: np.ndarray | torch.Tensor,
        *,
        uv: np.ndarray | torch.Tensor | None = None,
        landmarks: np.ndarray | torch.Tensor | None = None,
        contour_right: np.ndarray | torch.Tensor | None = None,
        contour_left: np.ndarray | torch.Tensor | None = None,
        symmetry: np.ndarray | torch.Tensor | None = None,
        id_names: Sequence[str] | None = None,
        exp_names: Sequence[str] | None = None,
        name: str = "model",
    ) -> None:
        super().__init__()
        self.name = name
        mean_a = _as_array(f"{name}: mean", mean, np.float32, 2)
        n = mean_a.shape[0]
        if mean_a.shape[1] != 3 or n < 3:
            raise ModelFileError(f"{name}: mean: expected shape (N, 3), got {mean_a.shape}")
        bases = {}
        for key, basis in (("id_basis", id_basis), ("exp_basis", exp_basis)):
            b = _as_array(f"{name}: {key}", basis, np.float32, 2)
            if b.shape[0] != 3 * n:
                raise ModelFileError(f"{name}: {key}: expected shape ({3 * n}, K) for N={n}, got {b.shape}")
            bases[key] = b
        tri = _as_array(f"{name}: triangles", triangles, np.int64, 2)
        if tri.shape[1] != 3 or tri.shape[0] == 0:
            raise ModelFileError(f"{name}: triangles: expected shape (T, 3), got {tri.shape}")
        if tri.min() < 0 or tri.max() >= n:
            raise ModelFileError(f"{name}: triangles: indices must lie in [0, {n - 1}], got [{tri.min()}, {tri.max()}]")

        self.register_buffer("mean", torch.from_numpy(mean_a.copy()))
        self.register_buffer("id_basis", torch.from_numpy(bases["id_basis"].copy()))
        self.register_buffer("exp_basis", torch.from_numpy(bases["exp_basis"].copy()))
        self.register_buffer("triangles", torch.from_numpy(tri.copy()))

        uv_t = None
        if uv is not None:
            uv_a = _as_array(f"{name}: uv", uv, np.float32, 2)
            if uv_a.shape != (n, 2) or uv_a.min() < 0 or uv_a.max() > 1:
                raise ModelFileError(f"{name}: uv: expected shape ({n}, 2) with values in [0, 1], got {uv_a.shape}")
            uv_t = torch.from_numpy(uv_a.copy())
        self.register_buffer("uv", uv_t)

        lm_t = None
        if landmarks is not None:
            lm = _as_array(f"{name}: landmarks", landmarks, np.int64, 1)
            if lm.shape != (LANDMARK_COUNT,) or lm.min() < -1 or lm.max() >= n:
                raise ModelFileError(
                    f"{name}: landmarks: expected ({LANDMARK_COUNT},) vertex indices in [-1, {n - 1}], got shape {lm.shape}"
                )
            lm_t = torch.from_numpy(lm.copy())
        self.register_buffer("landmark_indices", lm_t)

        for key, value in (("contour_right", contour_right), ("contour_left", contour_left)):
            c_t = None
            if value is not None:
                c = _as_array(f"{name}: {key}", value, np.int64, 1)
                if c.size == 0 or c.min() < 0 or c.max() >= n:
                    raise ModelFileError(f"{name}: {key}: expected vertex indices in [0, {n - 1}]")
                c_t = torch.from_numpy(c.copy())
            self.register_buffer(key, c_t)

        known = None
        if symmetry is not None:
            sym = _as_array(f"{name}: symmetry", symmetry, np.int64, 1)
            if sym.size > n or sym.min() < -1 or sym.max() >= n:
                raise ModelFileError(f"{name}: symmetry: expected at most {n} indices in [-1, {n - 1}]")
            known = torch.from_numpy(np.concatenate([sym, -np.ones(n - sym.size, np.int64)]))
        self.register_buffer("symmetry", complete_symmetry(self.mean, self.triangles, known))

        self.id_names = tuple(id_names) if id_names is not None else tuple(f"id_{k}" for k in range(self.n_id))
        self.exp_names = tuple(exp_names) if exp_names is not None else tuple(f"exp_{k}" for k in range(self.n_exp))
        if len(self.id_names) != self.n_id or len(self.exp_names) != self.n_exp:
            raise ModelFileError(f"{name}: id_names/exp_names must have one name per basis column")

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str = "model") -> MorphableModel:
        """Build from arrays named as in the SFM npz (``mean``, ``id_basis``, ``exp_basis``, ``triangles``,
        ``uv``, ``ibug68``, ``contour_right``, ``contour_left``, ``symmetry``, ``id_names``, ``exp_names``)."""
        missing = [k for k in ("mean", "id_basis", "exp_basis", "triangles") if k not in arrays]
        if missing:
            raise ModelFileError(f"{name}: missing arrays {missing}")

        def get(key: str) -> np.ndarray | None:
            return arrays[key] if key in arrays else None

        names = {k: [str(s) for s in arrays[k]] if k in arrays else None for k in ("id_names", "exp_names")}
        return cls(
            arrays["mean"],
            arrays["id_basis"],
            arrays["exp_basis"],
            arrays["triangles"],
            uv=get("uv"),
            landmarks=get("ibug68"),
            contour_right=get("contour_right"),
            contour_left=get("contour_left"),
            symmetry=get("symmetry"),
            id_names=names["id_names"],
            exp_names=names["exp_names"],
            name=name,
        )

    @property
    def n_vertices(self) -> int:
        return self.mean.shape[0]

    @property
    def n_id(self) -> int:
        """K_id, the number of identity coefficients."""
        return self.id_basis.shape[1]

    @property
    def n_exp(self) -> int:
        """K_exp, the number of expression coefficients."""
        return self.exp_basis.shape[1]

    @property
    def landmark_mask(self) -> torch.Tensor:
        """(68,) bool: True for the iBUG landmarks the model has a vertex for."""
        if self.landmark_indices is None:
            raise InputError(f"{self.name}: the model has no landmark vertex indices")
        return self.landmark_indices >= 0

    def shape(self, alpha_id: torch.Tensor, alpha_exp: torch.Tensor) -> torch.Tensor:
        """S = S̄ + A_id α_id + A_exp α_exp (eq. 1; eq. 2 when α_id and α_exp come from different sources).

        Args:
            alpha_id: (B, K_id) identity coefficients.
            alpha_exp: (B, K_exp) expression coefficients.

        Returns:
            (B, N, 3) model-space vertices.
        """
        sizes: dict[str, int] = {}
        check_tensor("alpha_id", alpha_id, ("B", self.n_id), sizes)
        check_tensor("alpha_exp", alpha_exp, ("B", self.n_exp), sizes)
        offsets = alpha_id @ self.id_basis.T + alpha_exp @ self.exp_basis.T
        return self.mean + offsets.view(alpha_id.shape[0], -1, 3)

    def landmarks(self, vertices: torch.Tensor) -> torch.Tensor:
        """The landmark vertices the model has (see :attr:`landmark_mask`).

        Args:
            vertices: (B, N, 3) vertices of this model (model or screen space).

        Returns:
            (B, L, 3) with L = ``landmark_mask.sum()``, in iBUG order.
        """
        check_tensor("vertices", vertices, (None, self.n_vertices, 3), finite=False)
        return vertices[:, self.landmark_indices[self.landmark_mask]]

    def extra_repr(self) -> str:
        return f"name={self.name!r}, N={self.n_vertices}, T={self.triangles.shape[0]}, K_id={self.n_id}, K_exp={self.n_exp}"


class _Posed(Protocol):
    alpha_id: torch.Tensor
    alpha_exp: torch.Tensor
    camera: Camera


def vertices(model: MorphableModel, fit: _Posed) -> torch.Tensor:
    """(B, N, 3) screen-space vertices of a :class:`~tfvsdk.FaceFit` or :class:`~tfvsdk.Composition`.

    ``C(S̄ + A_id α_id + A_exp α_exp)``: the shape of eq. 1–2 under the weak-perspective camera C (pixels,
    z toward the viewer; :meth:`tfvsdk.Camera.project`), on the camera's device and dtype.

    Example:
        >>> screen = vertices(model, fit)  # doctest: +SKIP
        >>> rendering = renderer.render(screen, model.triangles, fit.image_size)  # doctest: +SKIP
    """
    return fit.camera.project(model.shape(fit.alpha_id, fit.alpha_exp).to(fit.camera.scale))
