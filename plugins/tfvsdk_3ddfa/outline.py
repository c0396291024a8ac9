"""The visible jaw outline of a morphable model under a weak-perspective pose.

iBUG landmarks 0–16 trace the jaw line *as it appears in the image*: on the side turned away from the
camera it is the occluding contour of the cheek, which slides over the face as the head turns, so no fixed
vertex can stand for it (eos' contour fitting, Huber et al. 2016; the "landmark marching" of 3DDFA, Zhu et
al. 2016). Here the outline is taken literally: an edge of the mesh lies on the projected outline when it
separates a triangle facing the camera from one facing away (an occluding edge), or when it is a border
edge of the mesh whose triangle faces the camera. Each jaw landmark is matched to the nearest point of such
an edge in the image, among the edges of a band of the mesh around the model's jaw line.

The band is built once per model from the jaw-line vertices the model names: ``contour_right`` /
``contour_left`` (eos' model contours) or, for models without them, the model's own jaw landmark vertices.
"""

from __future__ import annotations

import attrs
import numpy as np
import torch

from tfvsdk.morphable import MorphableModel

JAW = tuple(range(17))
CHIN = 8


@attrs.frozen(eq=False)
class JawOutline:
    """Candidate outline edges around a model's jaw line.

    Attributes:
        support: (V,) int64 model vertex ids the outline needs (all vertices of the band's triangles).
        triangles: (T, 3) int64 band triangles, as indices into ``support``.
        edges: (E, 2) int64 band edges, as indices into ``support``.
        edge_faces: (E, 2) int64 the triangles (indices into ``triangles``) on either side of each edge;
            the second is −1 for a border edge of the mesh.
        allowed: (17, E) bool, which edges jaw landmark j may be matched to (its own side of the face; the
            chin, landmark 8, may use both).
    """

    support: torch.Tensor
    triangles: torch.Tensor
    edges: torch.Tensor
    edge_faces: torch.Tensor
    allowed: torch.Tensor

    def to(self, device: torch.device | str) -> JawOutline:
        return JawOutline(*(getattr(self, f.name).to(device) for f in attrs.fields(JawOutline)))


def _segment_distance(points: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    """(N,) distance from each of (N, 3) points to a (M, 3) polyline (M ≥ 2), float64."""
    a, b = polyline[:-1], polyline[1:]
    d = b - a
    rel = points[:, None, :] - a[None]
    lam = np.clip((rel * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(rel - lam[..., None] * d, axis=-1).min(1)


def _jaw_polylines(model: MorphableModel) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertex ids of the right (−x) and left (+x) jaw lines: the model's contours, else its jaw landmarks."""
    if model.contour_right is not None and model.contour_left is not None:
        return model.contour_right.cpu().numpy(), model.contour_left.cpu().numpy()
    if model.landmark_indices is None:
        return None
    jaw = model.landmark_indices.cpu().numpy()[: CHIN + 9]
    right, left = jaw[: CHIN + 1], jaw[CHIN:]
    right, left = right[right >= 0], left[left >= 0]
    if len(right) < 2 or len(left) < 2:
        return None
    return right, left


def build_jaw_outline(model: MorphableModel, band: float = 0.5) -> JawOutline | None:
    """Collect the candidate outline edges around a model's jaw line.

    Args:
        model: a model with landmark indices, and contours or jaw landmark vertices.
        band: half-width of the band around the jaw line in the frontal view (distances in the model's x-y
            plane, ignoring depth), as a fraction of the RMS radius of the model's landmark vertices about
            their centroid: wide enough to hold the cheek's occluding contour at large yaw (it stays close
            to the frontal jaw line in x-y while moving far forward in depth), narrow enough to keep the
            mouth and nose out.

    Returns:
        The outline candidates, or None when the model names no jaw line (its jaw landmarks are then fitted
        to fixed vertices where it has them).
    """
    lines = _jaw_polylines(model)
    if lines is None:
        return None
    mean = model.mean.detach().cpu().double().numpy()
    lm = model.landmark_indices.cpu().numpy()
    fixed = mean[lm[lm >= 0]]
    radius = band * np.sqrt(((fixed - fixed.mean(0)) ** 2).sum(-1).mean())
    frontal = mean * np.array([1.0, 1.0, 0.0])
    d_right = _segment_distance(frontal, frontal[lines[0]])
    d_left = _segment_distance(frontal, frontal[lines[1]])
    in_band = np.minimum(d_right, d_left) <= radius
    is_right = d_right < d_left

    tri = model.triangles.cpu().numpy()
    tri = tri[in_band[tri].sum(1) >= 2]
    support, local = np.unique(tri, return_inverse=True)
    local = local.reshape(tri.shape)

    pairs = np.concatenate([local[:, [0, 1]], local[:, [1, 2]], local[:, [2, 0]]])
    owner = np.tile(np.arange(len(local)), 3)
    pairs = np.sort(pairs, axis=1)
    keep = in_band[support[pairs]].all(1)
    pairs, owner = pairs[keep], owner[keep]
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    pairs, owner = pairs[order], owner[order]
    edges, start, count = np.unique(pairs, axis=0, return_index=True, return_counts=True)
    manifold = count <= 2
    edges, start, count = edges[manifold], start[manifold], count[manifold]
    faces = np.stack([owner[start], np.where(count == 2, owner[np.minimum(start + 1, len(owner) - 1)], -1)], 1)

    right_edge = is_right[support[edges]].all(1)
    left_edge = (~is_right[support[edges]]).all(1)
    allowed = np.zeros((len(JAW), len(edges)), bool)
    allowed[:CHIN] = right_edge
    allowed[CHIN + 1 :] = left_edge
    allowed[CHIN] = True
    return JawOutline(
        torch.from_numpy(support.astype(np.int64)),
        torch.from_numpy(local.astype(np.int64)),
        torch.from_numpy(edges.astype(np.int64)),
        torch.from_numpy(faces.astype(np.int64)),
        torch.from_numpy(allowed),
    )


def outline_edges(outline: JawOutline, points: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Which band edges lie on the projected outline.

    Args:
        outline: the band.
        points: (B, V, 3) model-space positions of ``outline.support``.
        rotation: (B, 3, 3) head rotations (proper: determinant +1).

    Returns:
        (B, E) bool: occluding edges (one adjacent triangle faces the camera, the other away) and border
        edges whose triangle faces the camera. Facing is the sign of the rotated normal's z (toward the
        viewer); triangles wind counter-clockwise seen from the front. The rotated normal R(e₁ × e₂) is
        Re₁ × Re₂, so its z is the 2-D cross product of the triangle's edges rotated into x and y.
    """
    xy = points @ rotation[:, :2].transpose(1, 2)
    v = xy.index_select(1, outline.triangles.view(-1)).view(points.shape[0], -1, 3, 2)
    e1, e2 = v[:, :, 1] - v[:, :, 0], v[:, :, 2] - v[:, :, 0]
    front = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0] > 0
    f0 = front.index_select(1, outline.edge_faces[:, 0])
    second = outline.edge_faces[:, 1]
    f1 = front.index_select(1, second.clamp(min=0))
    return torch.where(second >= 0, f0 != f1, f0)


def match_outline(
    outline: JawOutline,
    screen: torch.Tensor,
    candidates: torch.Tensor,
    targets: torch.Tensor,
    landmarks: tuple[int, ...],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Nearest outline point of each target landmark.

    Args:
        outline: the band.
        screen: (B, V, 2) screen positions (pixels) of ``outline.support``.
        candidates: (B, E) bool outline edges (see :func:`outline_edges`).
        targets: (B, J, 2) the image positions of jaw landmarks ``landmarks``.
        landmarks: the J jaw landmark numbers (0–16) of ``targets``' columns.

    Returns:
        ``(a, b, lam, normal, ok)``: (B, J) model vertex ids of the matched edge's endpoints, (B, J)
        position ``lam`` ∈ [0, 1] of the matched point from ``a`` to ``b``, (B, J, 2) unit normal of the
        matched edge in the image, and (B, J) bool, False where no candidate edge exists (the landmark is
        then left out of the fit).
    """
    count = candidates.sum(1)
    k = max(int(count.max()), 1)
    edge = _candidates_first(candidates)[:, :k]
    present = torch.arange(k, device=edge.device) < count[:, None]
    ends = outline.edges[edge]
    rows = torch.arange(screen.shape[0], device=screen.device)[:, None]
    pa = screen[rows, ends[..., 0]][:, None]
    d = screen[rows, ends[..., 1]][:, None] - pa
    rel = targets[:, :, None] - pa
    lam = (_dot2(rel, d) / _dot2(d, d).clamp_min(1e-12)).clamp(0.0, 1.0)
    off = rel - lam[..., None] * d
    dist = _dot2(off, off)
    usable = present[:, None, :] & outline.allowed[list(landmarks)][:, edge].permute(1, 0, 2)
    value, index = dist.masked_fill(~usable, float("inf")).min(-1)
    ok = torch.isfinite(value)
    chosen = ends.gather(1, index[..., None].expand(-1, -1, 2))
    lam = lam.gather(-1, index[..., None])[..., 0]
    direction = d[:, 0].gather(1, index[..., None].expand(-1, -1, 2))
    normal = torch.stack([-direction[..., 1], direction[..., 0]], -1)
    normal = normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return outline.support[chosen[..., 0]], outline.support[chosen[..., 1]], lam, normal, ok


def _dot2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Dot products of (..., 2) vectors, written out: a sum over a last dimension of 2 is several times slower."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]


def _candidates_first(candidates: torch.Tensor) -> torch.Tensor:
    """(B, E) edge ids of each row with its candidates first, each group in ascending order (the stable sort
    of ``~candidates``, by two running counts instead of a sort)."""
    rank_in = candidates.cumsum(1) - 1
    rank_out = (~candidates).cumsum(1) - 1 + candidates.sum(1, keepdim=True)
    position = torch.where(candidates, rank_in, rank_out)
    ids = torch.arange(candidates.shape[1], device=candidates.device).expand_as(position)
    return torch.empty_like(position).scatter_(1, position, ids)
