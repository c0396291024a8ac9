"""Contract checks: call them from a plugin's tests to verify a component keeps its interface's contract.

Each check raises ``AssertionError`` with a message that names the component (its plugin and registered
name when it was built with :func:`tfvsdk.create`) and the part of the contract that failed; an SDK error
the component raises on valid inputs (e.g. the interface's own output checks) becomes such an
``AssertionError`` too. These are test helpers, so plain assertions are the right tool here.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping

import numpy as np
import torch

from ..camera import Camera
from ..errors import TfvError
from ..interfaces import Blender, LandmarkDetector, Reconstructor, Renderer, TaskComposer, TrainableBlender
from ..plugins import create_pretrained, describe, origin
from ..pretrained import CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE, read_config
from ..records import Composition, Detection, FaceFit, Rendering


@contextlib.contextmanager
def _contract(component: object) -> Iterator[str]:
    """Yield the component's description; turn its SDK errors and failed assertions into AssertionErrors
    that start with it."""
    who = describe(component)
    try:
        yield who
    except AssertionError as exc:
        message = str(exc)
        raise AssertionError(message if message.startswith(who) else f"{who}: {message}") from exc
    except TfvError as exc:
        message = str(exc)
        raise AssertionError(message if who in message else f"{who}: {message}") from exc


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
    with _contract(renderer):
        return _check_rendering(renderer, vertices, triangles, size, uv, texture, tolerance)


def _check_rendering(
    renderer: Renderer, vertices: torch.Tensor, triangles: torch.Tensor, size: tuple[int, int], uv: torch.Tensor, texture: torch.Tensor, tolerance: float
) -> Rendering:
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


def check_reconstructor(
    reconstructor: Reconstructor, images: torch.Tensor, *, detection: Detection | None = None, clip: bool = False
) -> FaceFit:
    """Fit ``images`` (B, 3, H, W) and check the :class:`FaceFit`: batch, coefficient sizes, image size; with
    ``clip=True`` (for images that are consecutive frames of one face, B > 1) also fit them as one clip and
    check that the fit shares one identity.

    Args:
        reconstructor: the reconstructor under test.
        images: (B, 3, H, W) images in [0, 1] (consecutive frames of one face when ``clip``).
        detection: their landmarks, for a landmark-driven reconstructor that should not detect.
        clip: also check the clip fit (α_id rows equal).

    Returns:
        The per-image fit.
    """
    b, _, h, w = images.shape
    with _contract(reconstructor):
        model = reconstructor.model
        fits = {"fit()": reconstructor.fit(images, detection=detection)}
        if clip and b > 1:
            fits["fit(clip=True)"] = reconstructor.fit(images, clip=True, detection=detection)
        for call, fit in fits.items():
            assert isinstance(fit, FaceFit), f"{call} returned {type(fit).__name__}, not a FaceFit"
            assert fit.batch_size == b, f"{call} has batch {fit.batch_size}, expected {b}"
            assert fit.alpha_id.shape == (b, model.n_id), f"{call} alpha_id shape {tuple(fit.alpha_id.shape)}"
            assert fit.alpha_exp.shape == (b, model.n_exp), f"{call} alpha_exp shape {tuple(fit.alpha_exp.shape)}"
            assert fit.image_size == (h, w), f"{call} image_size {fit.image_size}, expected {(h, w)}"
        if "fit(clip=True)" in fits:
            shared = fits["fit(clip=True)"].alpha_id
            assert torch.allclose(shared, shared[:1].expand_as(shared), rtol=1e-5, atol=1e-6), (
                "fit(clip=True) must share one identity across the clip, but its alpha_id rows differ"
            )
        return fits["fit()"]


def _blend_inputs(batch: int, size: tuple[int, int], seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    h, w = size
    mask = (torch.rand(batch, 1, h, w, generator=g) > 0.5).float()
    mask[..., h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 1
    appearance = torch.rand(batch, 3, h, w, generator=g)
    rendered = torch.rand(batch, 3, h, w, generator=g) * mask
    return rendered, appearance, appearance * (1 - mask), mask


def check_blender(blender: Blender, size: tuple[int, int] = (32, 32), batch: int = 2, *, tolerance: float = 1e-4) -> torch.Tensor:
    """Blend random inputs and check the output: shape, dtype (float32 in, float32 out), finiteness, range
    [0, 1]; that the inputs are left unchanged; that each batch item's output depends on that item alone
    (blending the items one at a time gives the same, within ``tolerance``); and that the output depends on
    the rendered face (a different R inside the mask changes it: not a constant picture)."""
    inputs = _blend_inputs(batch, size)
    copies = [x.clone() for x in inputs]
    h, w = size
    with _contract(blender), torch.no_grad():
        out = blender.blend(*inputs)
        assert isinstance(out, torch.Tensor), f"blend() returned {type(out).__name__}, not a tensor"
        assert out.shape == (batch, 3, h, w), f"output shape {tuple(out.shape)}, expected {(batch, 3, h, w)}"
        assert out.dtype == torch.float32, f"output dtype {out.dtype} for float32 inputs"
        assert torch.isfinite(out).all(), "output has NaN or infinite values"
        assert out.min() >= 0 and out.max() <= 1, f"output range [{out.min():.3g}, {out.max():.3g}] outside [0, 1]"
        names = ("rendered", "appearance", "hint", "mask")
        changed = [n for n, x, c in zip(names, inputs, copies) if not torch.equal(x, c)]
        assert not changed, f"blend() modified its inputs {changed}"
        one_by_one = torch.cat([blender.blend(*(x[i : i + 1] for x in copies)) for i in range(batch)])
        mixing = (one_by_one - out).abs().max().item()
        assert mixing <= tolerance, f"batch items are not independent: blending them one at a time differs by {mixing:.3g}"
        other = _blend_inputs(batch, size, seed=1)[0] * copies[3]
        moved = (blender.blend(other, *copies[1:]) - out).abs().max().item()
        assert moved > tolerance, "the output does not depend on the rendered face (a constant or pass-through blender)"
    return out


def check_trainable_blender(blender: TrainableBlender, size: tuple[int, int] = (32, 32), batch: int = 2, *, tolerance: float = 1e-5) -> None:
    """Check a :class:`~tfvsdk.TrainableBlender`: the :func:`check_blender` contract; E and D as the trainer
    uses them (E(image, hint) a (B, …) tensor, D(image) a list of (B, 1, h, w) logit maps, gradients reaching
    the generator's and D's parameters); and a ``save_pretrained`` folder (config.json with the format
    version + model.safetensors) that ``from_pretrained`` — and, for a component built by name,
    ``create_pretrained`` — restores to the same outputs."""
    assert isinstance(blender, TrainableBlender), f"{describe(blender)}: not a tfvsdk.TrainableBlender"
    check_blender(blender, size, batch)
    rendered, appearance, hint, mask = _blend_inputs(batch, size)
    with _contract(blender):
        assert blender.trainable, "trainable must be True"
        d = blender.enable_discriminator()
        assert isinstance(blender.embedder, torch.nn.Module), "embedder must be an nn.Module"
        was_training = blender.training
        blender.train()
        out = blender.blend(rendered, appearance, hint, mask)
        code = blender.embedder(appearance, hint)
        assert isinstance(code, torch.Tensor) and code.shape[0] == batch, "embedder(image, hint) must return a (B, ...) tensor"
        logits = d(out)
        assert isinstance(logits, (list, tuple)) and logits, "discriminator(image) must return a non-empty list of logit maps"
        for k, item in enumerate(logits):
            assert isinstance(item, torch.Tensor) and item.dim() == 4 and item.shape[:2] == (batch, 1), (
                f"discriminator output {k} must be (B, 1, h, w), got {getattr(item, 'shape', type(item).__name__)}"
            )
        d_ids = {id(p) for p in d.parameters()}
        generator = [p for p in blender.parameters() if id(p) not in d_ids and p.requires_grad]
        (out.mean() + code.float().mean() + sum(item.mean() for item in logits)).backward()
        assert generator and any(p.grad is not None and p.grad.abs().sum() > 0 for p in generator), "no gradient reaches the generator's parameters"
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters()), "no gradient reaches the discriminator's parameters"
        blender.zero_grad(set_to_none=True)
        blender.train(was_training)
        blender.eval()
        with tempfile.TemporaryDirectory() as folder, torch.no_grad():
            saved = blender.save_pretrained(os.path.join(folder, "blender"))
            files = sorted(p.name for p in saved.iterdir())
            assert files == sorted([CONFIG_FILE, WEIGHTS_FILE]), f"save_pretrained() wrote {files}"
            read_config(saved)
            assert json.loads((saved / CONFIG_FILE).read_text())["format_version"] == FORMAT_VERSION
            expected = blender.blend(rendered, appearance, hint, mask)
            restored = [type(blender).from_pretrained(saved)]
            comp = origin(blender)
            if comp is not None:
                restored.append(create_pretrained(comp.kind, comp.name, saved))
            for again in restored:
                again.eval()
                difference = (again.blend(rendered, appearance, hint, mask) - expected).abs().max().item()
                assert difference <= tolerance, f"a blender restored from save_pretrained() differs by {difference:.3g}"
        blender.train(was_training)


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
    """Prepare (:meth:`~tfvsdk.interfaces.TaskComposer.prepare`) and compose distinct fits (one per role) and
    check that the composition only *chooses*.

    α_id, α_exp and each part of the camera (scale, rotation, translation) must be taken unchanged from some
    prepared source; the image size must be that of the source of the camera's translation (the picture the face is
    placed in).

    Args:
        composer: the composer under test.
        expected: optional map from ``alpha_id``, ``alpha_exp``, ``camera`` (all three camera parts),
            ``scale``, ``rotation``, ``translation``, ``texture_role``, ``appearance_role``, ``hint_role``
            to the role that must supply it.
    """
    with _contract(composer):
        return _check_composition(composer, expected, n_id, n_exp, batch)


def _check_composition(composer: TaskComposer, expected: Mapping[str, str] | None, n_id: int, n_exp: int, batch: int) -> Composition:
    roles = tuple(composer.roles)
    assert roles and len(set(roles)) == len(roles), f"roles must be distinct names, got {roles}"
    assert composer.timeline_role in roles, f"timeline_role {composer.timeline_role!r} is not one of the roles {roles}"
    assert tuple(type(composer).roles) == roles, "roles must be a class attribute (each role is a --ROLE option of the task's command)"
    fits = composer.prepare(_distinct_fits(roles, n_id, n_exp, batch))
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
    b, _, h, w = images.shape
    with _contract(detector):
        det = detector.detect(images)
        assert isinstance(det, Detection), f"detect() returned {type(det).__name__}, not a Detection"
        assert det.found.shape == (b,), f"found has shape {tuple(det.found.shape)}, expected ({b},)"
        assert det.image_size == (h, w), f"image_size {det.image_size}, expected {(h, w)}"
        missing = ~det.found
        assert torch.isnan(det.landmarks[missing]).all(), "landmarks must be NaN where no face was found"
        assert not torch.isinf(det.landmarks).any(), "landmarks must never be infinite"
        assert torch.isfinite(det.landmarks[det.found]).any(-1).any(-1).all(), "a found face must have some finite landmarks"
        return det
