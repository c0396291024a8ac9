"""What a morphable model offers a landmark fit: correspondences of the 68 iBUG landmarks to model points.

A correspondence is a point on a mesh edge, ``(1 − λ) V[a] + λ V[b]``: a fixed landmark vertex is the edge
``(v, v)``; a jaw landmark is matched to the nearest point of the visible outline (:mod:`.outline`). The
basis rows of the correspondence points are interpolated the same way, so the model point stays linear in
α_id and α_exp (eq. 1).
"""

from __future__ import annotations

import attrs
import torch

from tfvsdk import InputError
from tfvsdk.morphable import LANDMARK_COUNT, MorphableModel

from .outline import CHIN, JAW, JawOutline, build_jaw_outline, match_outline, outline_edges

MIN_FIXED_LANDMARKS = 6


@attrs.frozen(eq=False)
class Correspondences:
    """Model points matched to the 68 landmarks of B frames.

    Attributes:
        a: (B, 68) int64 first vertex of each matched edge.
        b: (B, 68) int64 second vertex (equal to ``a`` for a fixed landmark vertex).
        lam: (B, 68) position of the point from ``a`` to ``b`` in [0, 1].
        weight: (B, 68) 1 where the landmark takes part in the fit, 0 where it is missing (NaN), the model
            has no point for it, or no outline edge was found.
        normal: (B, 68, 2) unit image normal of the outline at an outline-matched landmark, zero elsewhere.
            Outline landmarks are fitted point-to-line: only the residual along the normal counts, so the
            correspondence may slide along the outline (as the outline slides over the face when the
            head turns); point-to-point residuals would hold it back and converge slowly, as in ICP.
    """

    a: torch.Tensor
    b: torch.Tensor
    lam: torch.Tensor
    weight: torch.Tensor
    normal: torch.Tensor


@attrs.frozen(eq=False)
class Points:
    """Model points of correspondences and their bases: X = mean + A_id α_id + A_exp α_exp (eq. 1).

    Attributes:
        mean: (B, L, 3) points of the mean shape.
        id_basis: (B, L, 3, K_id) identity basis rows.
        exp_basis: (B, L, 3, K_exp) expression basis rows.
    """

    mean: torch.Tensor
    id_basis: torch.Tensor
    exp_basis: torch.Tensor

    def shape(self, alpha_id: torch.Tensor, alpha_exp: torch.Tensor) -> torch.Tensor:
        """(B, L, 3) model points for (B, K_id) and (B, K_exp) coefficients."""
        return (
            self.mean
            + torch.einsum("blck,bk->blc", self.id_basis, alpha_id)
            + torch.einsum("blck,bk->blc", self.exp_basis, alpha_exp)
        )


class LandmarkProblem:
    """A morphable model prepared for 68-landmark fitting on one device and dtype.

    Args:
        model: the morphable model; must have landmark indices.
        dtype: floating dtype of the computation.
        device: device of the computation.
        band: width of the jaw band (see :func:`~.outline.build_jaw_outline`).

    Raises:
        InputError: the model has no landmark indices, or too few landmark vertices to fix a pose.
    """

    def __init__(
        self,
        model: MorphableModel,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
        band: float = 0.5,
    ) -> None:
        if model.landmark_indices is None:
            raise InputError(
                f"model {model.name!r}: has no landmark vertex indices; the 3ddfa reconstructor fits the 68 iBUG "
                "landmarks and needs the model's vertex for each (landmark_indices)"
            )
        self.model_name = model.name
        self.n_id, self.n_exp = model.n_id, model.n_exp
        n = model.n_vertices
        self.mean = model.mean.detach().to(device, dtype)
        self.id_basis = model.id_basis.detach().to(device, dtype).view(n, 3, -1)
        self.exp_basis = model.exp_basis.detach().to(device, dtype).view(n, 3, -1)
        self.landmark_indices = model.landmark_indices.to(device)
        self.table = torch.cat([self.mean[..., None], self.id_basis, self.exp_basis], -1)
        outline = build_jaw_outline(model, band)
        self.outline: JawOutline | None = None if outline is None else outline.to(device)
        if self.outline is not None:
            has = self.landmark_indices >= 0
            self.outline_landmarks = tuple(j for j in JAW if not (j == CHIN and bool(has[CHIN])))
        else:
            self.outline_landmarks = ()
        fixed = torch.ones(LANDMARK_COUNT, dtype=torch.bool, device=device)
        fixed[list(self.outline_landmarks)] = False
        self.fixed = fixed & (self.landmark_indices >= 0)
        if int(self.fixed.sum()) < MIN_FIXED_LANDMARKS:
            raise InputError(
                f"model {model.name!r}: has vertices for only {int(self.fixed.sum())} of the non-jaw iBUG landmarks; "
                f"at least {MIN_FIXED_LANDMARKS} are needed to fit a pose"
            )
        if self.outline is not None:
            support = self.outline.support
            self.support_mean = self.mean[support]
            self.support_id = self.id_basis[support]
            self.support_exp = self.exp_basis[support]
        lm = self.mean[self.landmark_indices[self.fixed]]
        self.radius = float((lm - lm.mean(0)).square().sum(-1).mean().sqrt())
        rows = self.exp_basis[self.landmark_indices[self.fixed]]
        self.exp_motion = rows.square().sum(1).mean(0).sqrt()

    def fixed_correspondences(self, valid: torch.Tensor) -> Correspondences:
        """Correspondences of the fixed landmark vertices only (outline-matched jaw landmarks weigh 0 until
        :meth:`match_jaw` matches them; where the model has a vertex for one, it is the fallback).

        Args:
            valid: (B, 68) bool, True where the landmark was detected.
        """
        index = self.landmark_indices.clamp(min=0).expand(valid.shape[0], -1)
        weight = (valid & self.fixed).to(self.mean.dtype)
        normal = weight.new_zeros(*weight.shape, 2)
        return Correspondences(index, index, torch.zeros_like(weight), weight, normal)

    def points(self, corr: Correspondences) -> Points:
        """Model points of ``corr`` with their basis rows."""
        lam = corr.lam[..., None, None]
        rows = torch.lerp(self.table[corr.a], self.table[corr.b], lam) if bool((corr.a != corr.b).any()) else self.table[corr.a]
        return Points(rows[..., 0], rows[..., 1 : 1 + self.n_id], rows[..., 1 + self.n_id :])

    def match_jaw(
        self,
        corr: Correspondences,
        landmarks: torch.Tensor,
        valid: torch.Tensor,
        rotation: torch.Tensor,
        scale: torch.Tensor,
        translation: torch.Tensor,
        alpha_id: torch.Tensor,
        alpha_exp: torch.Tensor,
    ) -> Correspondences:
        """Match the jaw landmarks to the visible outline of the current fit.

        Args:
            corr: the fixed correspondences (see :meth:`fixed_correspondences`).
            landmarks: (B, 68, 2) image landmarks (NaN where missing).
            valid: (B, 68) bool, True where the landmark was detected.
            rotation: (B, 3, 3) current rotation.
            scale: (B,) current scale (pixels per model unit).
            translation: (B, 2) current translation (pixels).
            alpha_id: (B, K_id) current identity.
            alpha_exp: (B, K_exp) current expression.
        """
        if not self.outline_landmarks:
            return corr
        jaw = list(self.outline_landmarks)
        pts = (
            self.support_mean
            + torch.einsum("vck,bk->bvc", self.support_id, alpha_id)
            + torch.einsum("vck,bk->bvc", self.support_exp, alpha_exp)
        )
        rotated = pts @ rotation.transpose(1, 2)
        screen = scale[:, None, None] * rotated[..., :2] * rotated.new_tensor([1.0, -1.0]) + translation[:, None]
        candidates = outline_edges(self.outline, pts, rotation)
        targets = torch.nan_to_num(landmarks[:, jaw].to(screen.dtype))
        a, b, lam, normal, ok = match_outline(self.outline, screen, candidates, targets, tuple(jaw))
        a_all, b_all, lam_all, w_all = corr.a.clone(), corr.b.clone(), corr.lam.clone(), corr.weight.clone()
        n_all = corr.normal.clone()
        fallback = self.landmark_indices[jaw] >= 0
        keep = ~ok & fallback
        a_all[:, jaw] = torch.where(keep, a_all[:, jaw], a)
        b_all[:, jaw] = torch.where(keep, b_all[:, jaw], b)
        lam_all[:, jaw] = torch.where(keep, lam_all[:, jaw], lam)
        n_all[:, jaw] = torch.where(keep[..., None], n_all[:, jaw], normal)
        w_all[:, jaw] = ((ok | fallback) & valid[:, jaw]).to(w_all.dtype)
        return Correspondences(a_all, b_all, lam_all, w_all, n_all)
