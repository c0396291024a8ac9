"""Contract checks: call them from a plugin's tests to verify a component keeps its interface's contract.

Each check raises ``AssertionError`` with a message saying which part of the contract failed (these are
test helpers, so plain assertions are the right tool here).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ..camera import Camera
from ..interfaces import Blender, LandmarkDetector, Reconstructor, Renderer, TaskComposer
from ..records import Composition, Detection, FaceFit, Rendering


def _reference_coverage(vertices: np.ndarray, triangles: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force nearest-surface triangle id and depth at each pixel centre (float64)."""
    h, w = size
    ids = -np.ones((h, w), np.int64)
    depth = np.full((h, w), -np.inf)
    for py in range(h):
        for px in range(w):
            p = np.array([px + 0.5, py + 0.5])
            for t, (i0, i1, i2) in enumerate(triangles):
                a, b, c = vertices[i0], vertices[i1], vertices[i2]
                m = np.array([[a[0] - c[0], b[0] - c[0]], [a[1] - c[1], b[1] - c[1]]])
                if abs(np.linalg.det(m)) < 1e-12:
                    continue
                l0, l1 = np.linalg.solve(m, p - c[:2])
                lam = np.array([l0, l1, 1 - l0 - l1])
                if (lam < 0).any():
                    continue
                z = lam @ np.array([a[2], b[2], c[2]])
                if z > depth[py, px]:
                    depth[py, px], ids[py, px] = z, t
    return ids, depth


def check_renderer(renderer: Renderer, *, tolerance: float = 1e-4) -> Rendering:
    """Render a small scene (a square of two triangles with a nearer triangle across it) and check the
    :class:`Rendering` against a brute-force reference: shapes, coverage, nearest-surface depth, triangle
    ids, barycentrics that reproduce the pixel centre, and gradients reaching the vertices and texture."""
    size = (12, 16)
    vertices = torch.tensor(
        [[[2.2, 1.3, 0.0], [13.6, 1.7, 0.0], [13.2, 10.6, 0.0], [1.8, 10.2, 0.0], [4.1, 3.2, 5.0], [11.3, 5.4, 4.0], [5.2, 11.5, 3.0]]],
        requires_grad=True,
    )
    triangles = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6]])
    uv = torch.tensor([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9], [0.3, 0.3], [0.7, 0.4], [0.4, 0.8]])
    texture = torch.rand(1, 3, 8, 8, requires_grad=True)
    out = renderer.render(vertices, triangles, size, uv=uv, texture=texture)
    assert isinstance(out, Rendering), f"render() returned {type(out).__name__}, not a Rendering"
    assert out.image.shape == (1, 3, *size), f"image shape {tuple(out.image.shape)}"
    ref_ids, ref_depth = _reference_coverage(vertices.detach().double().numpy()[0], triangles.numpy(), size)
    ids = out.triangle_id[0].cpu().numpy()
    assert (ids == ref_ids).all(), f"triangle ids differ from the reference at {np.argwhere(ids != ref_ids).tolist()}"
    covered = ref_ids >= 0
    assert np.array_equal(out.mask[0, 0].detach().cpu().numpy() > 0.5, covered), "mask differs from coverage"
    depth = out.depth[0, 0].detach().cpu().double().numpy()
    assert np.allclose(depth[covered], ref_depth[covered], atol=tolerance * 100), "depth is not the nearest surface"
    assert np.isneginf(depth[~covered]).all(), "depth must be -inf where empty"
    bary = out.barycentrics[0].detach().double()
    corners = vertices.detach()[0, triangles[torch.from_numpy(ids).clamp(min=0)]].double()
    centre = (bary[..., None] * corners[..., :2]).sum(-2)
    yy, xx = torch.meshgrid(torch.arange(size[0]) + 0.5, torch.arange(size[1]) + 0.5, indexing="ij")
    err = (centre - torch.stack([xx, yy], -1).double()).norm(dim=-1)[torch.from_numpy(covered)]
    assert err.max() < tolerance * 100, f"barycentrics do not reproduce pixel centres (max error {err.max():.3g} px)"
    (out.image * torch.rand_like(out.image)).sum().backward()
    assert vertices.grad is not None and vertices.grad.abs().sum() > 0, "no gradient reaches the vertices"
    assert texture.grad is not None and texture.grad.abs().sum() > 0, "no gradient reaches the texture"
    return out


def check_reconstructor(reconstructor: Reconstructor, images: torch.Tensor) -> FaceFit:
    """Fit ``images`` (B, 3, H, W) and check the :class:`FaceFit`: batch, coefficient sizes, image size."""
    fit = reconstructor.fit(images)
    b, _, h, w = images.shape
    model = reconstructor.model
    assert isinstance(fit, FaceFit), f"fit() returned {type(fit).__name__}, not a FaceFit"
    assert fit.batch_size == b, f"fit has batch {fit.batch_size}, expected {b}"
    assert fit.alpha_id.shape == (b, model.n_id), f"alpha_id shape {tuple(fit.alpha_id.shape)}"
    assert fit.alpha_exp.shape == (b, model.n_exp), f"alpha_exp shape {tuple(fit.alpha_exp.shape)}"
    assert fit.image_size == (h, w), f"image_size {fit.image_size}, expected {(h, w)}"
    return fit


def check_blender(blender: Blender, size: tuple[int, int] = (32, 32), batch: int = 2) -> torch.Tensor:
    """Blend random inputs and check the output's shape, finiteness and range [0, 1]."""
    g = torch.Generator().manual_seed(0)
    h, w = size
    mask = (torch.rand(batch, 1, h, w, generator=g) > 0.5).float()
    appearance = torch.rand(batch, 3, h, w, generator=g)
    rendered = torch.rand(batch, 3, h, w, generator=g) * mask
    out = blender.blend(rendered, appearance, appearance * (1 - mask), mask)
    assert out.shape == (batch, 3, h, w), f"output shape {tuple(out.shape)}, expected {(batch, 3, h, w)}"
    assert torch.isfinite(out).all(), "output has NaN or infinite values"
    assert out.min() >= 0 and out.max() <= 1, f"output range [{out.min():.3g}, {out.max():.3g}] outside [0, 1]"
    return out


def _distinct_fits(roles: tuple[str, ...], n_id: int, n_exp: int, batch: int) -> dict[str, FaceFit]:
    fits = {}
    for k, role in enumerate(roles):
        g = torch.Generator().manual_seed(k)
        angles = (torch.rand(3, batch, generator=g) - 0.5) * 0.5
        fits[role] = FaceFit(
            alpha_id=torch.randn(batch, n_id, generator=g),
            alpha_exp=torch.randn(batch, n_exp, generator=g),
            camera=Camera.from_euler(*angles, scale=torch.rand(batch, generator=g) + 0.5, translation=torch.rand(batch, 2, generator=g) * 64),
            image_size=(64 + k, 64 + 2 * k),
        )
    return fits


def check_composer(
    composer: TaskComposer,
    expected: Mapping[str, str] | None = None,
    n_id: int = 5,
    n_exp: int = 4,
    batch: int = 2,
) -> Composition:
    """Compose distinct fits (one per role) and check that the composition only *chooses*.

    α_id, α_exp and each part of the camera (scale, rotation, translation) must be taken unchanged from some
    source; the image size must be that of the source of the camera's translation (the picture the face is
    placed in).

    Args:
        composer: the composer under test.
        expected: optional map from ``alpha_id``, ``alpha_exp``, ``camera`` (all three camera parts),
            ``scale``, ``rotation``, ``translation``, ``texture_role``, ``appearance_role``, ``hint_role``
            to the role that must supply it.
    """
    roles = tuple(composer.roles)
    assert roles and len(set(roles)) == len(roles), f"roles must be distinct names, got {roles}"
    fits = _distinct_fits(roles, n_id, n_exp, batch)
    comp = composer.compose(fits)
    assert isinstance(comp, Composition), f"compose() returned {type(comp).__name__}, not a Composition"
    parts = {
        "alpha_id": lambda x: x.alpha_id,
        "alpha_exp": lambda x: x.alpha_exp,
        "scale": lambda x: x.camera.scale,
        "rotation": lambda x: x.camera.rotation,
        "translation": lambda x: x.camera.translation,
    }

    def source_of(part: str) -> str | None:
        value = parts[part](comp)
        return next((role for role, fit in fits.items() if torch.equal(value, parts[part](fit))), None)

    chosen = {part: source_of(part) for part in parts}
    for part, role in chosen.items():
        assert role is not None, f"{part} is not taken unchanged from any source: a composer must only choose"
    for attr in ("texture_role", "appearance_role", "hint_role"):
        assert getattr(comp, attr) in roles, f"{attr}={getattr(comp, attr)!r} is not one of the roles {roles}"
        chosen[attr] = getattr(comp, attr)
    assert comp.image_size == fits[chosen["translation"]].image_size, "image_size must be that of the placement's source"
    for attr, role in (expected or {}).items():
        for part in ("scale", "rotation", "translation") if attr == "camera" else (attr,):
            assert chosen[part] == role, f"{part} comes from {chosen[part]!r}, expected {role!r}"
    return comp


def check_detector(detector: LandmarkDetector, images: torch.Tensor) -> Detection:
    """Detect on ``images`` and check: one row per image, bool ``found``, NaN landmarks where not found."""
    det = detector.detect(images)
    b, _, h, w = images.shape
    assert isinstance(det, Detection), f"detect() returned {type(det).__name__}, not a Detection"
    assert det.found.shape == (b,), f"found has shape {tuple(det.found.shape)}, expected ({b},)"
    assert det.image_size == (h, w), f"image_size {det.image_size}, expected {(h, w)}"
    missing = ~det.found
    assert torch.isnan(det.landmarks[missing]).all(), "landmarks must be NaN where no face was found"
    assert torch.isfinite(det.landmarks[det.found]).all(), "landmarks must be finite where a face was found"
    return det
