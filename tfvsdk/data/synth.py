"""Synthetic training data from a morphable model, with ground-truth fits (``tfv synth``).

Writes a dataset in the layout of :mod:`tfvsdk.data.layout` (what ``tfv prepare`` produces), so tests,
ablations and newcomers can train with no download:

* **identities**: α_id ~ N(0, ``id_std``²) per identity, clipped to ±2.5 σ;
* **textures**: the built-in model's albedo (``tfvsdk.morphable.default_albedo``; a uniform skin tone for
  other models) multiplied per identity by a skin tone and a small colour cast;
* **expressions**: α_exp ~ N(0, ``exp_std``²) per image; in a clip a smooth random trajectory (a sum of
  two random sinusoids per coefficient);
* **head motion**: yaw/pitch/roll per image within ±35°/±15°/±10°; in a clip smooth sinusoidal motion with a
  per-frame change of a few degrees, plus a slow drift of the face's position and size;
* **lighting**: Lambertian, I = albedo · (ambient + (1 − ambient) · max(0, n·l)), with per-vertex normals of
  the posed mesh interpolated through the rasterizer's barycentrics and one random light direction per
  image or clip;
* **backgrounds**: smooth random colour gradients plus low-frequency noise, one per image or clip.

Images are rendered at ``supersample`` times the size and area-averaged (anti-aliased edges). The fit files
hold the exact coefficients and camera used, and the 68 landmarks projected from the model (NaN where the
model has no landmark vertex). Everything is a deterministic function of the seed.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import attrs
import numpy as np
import torch
import torch.nn.functional as F

from ..camera import Camera
from ..checks import non_negative_int, positive_int
from ..errors import InputError
from ..morphable import MorphableModel, vertices
from ..plugins import create
from ..records import FaceFit, Rendering
from . import layout

logger = logging.getLogger(__name__)

_SKIN = (0.80, 0.62, 0.52)


@attrs.frozen
class SynthConfig:
    """What ``tfv synth`` makes.

    Attributes:
        images: number of still images (the image part).
        videos: number of clips (the video part), one identity each.
        frames: frames per clip (≥ 2 for video samples).
        size: side of the square images, pixels.
        per_identity: images per identity in the image part (1 = every image its own person, like FFHQ).
        seed: seed of everything random.
        model: morphable model name (``tfv models``).
        model_config: keyword config of the model loader (e.g. ``{"path": "sfm_3448.npz"}``).
        renderer: renderer name.
        id_std: standard deviation of the identity coefficients.
        exp_std: standard deviation of the expression coefficients.
        supersample: render at this many times the size, then average down.
        texture_size: side of the albedo texture.
    """

    images: int = attrs.field(default=64, validator=non_negative_int)
    videos: int = attrs.field(default=8, validator=non_negative_int)
    frames: int = attrs.field(default=16, validator=positive_int)
    size: int = attrs.field(default=64, validator=positive_int)
    per_identity: int = attrs.field(default=1, validator=positive_int)
    seed: int = attrs.field(default=0, validator=non_negative_int)
    model: str = "default"
    model_config: dict = attrs.field(factory=dict, hash=False)
    renderer: str = "raster"
    id_std: float = 0.8
    exp_std: float = 0.6
    supersample: int = attrs.field(default=2, validator=positive_int)
    texture_size: int = attrs.field(default=256, validator=positive_int)


def vertex_normals(vertices: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals.

    Args:
        vertices: (B, N, 3) vertices (counter-clockwise triangles seen from the front give normals toward +z).
        triangles: (T, 3) int64 vertex indices.

    Returns:
        (B, N, 3) unit normals (zero for vertices of no triangle).
    """
    v0, v1, v2 = (vertices[:, triangles[:, k]] for k in range(3))
    face = torch.cross(v1 - v0, v2 - v0, dim=-1)
    normals = torch.zeros_like(vertices)
    for k in range(3):
        normals.index_add_(1, triangles[:, k], face)
    return F.normalize(normals, dim=-1)


def interpolate_vertices(rendering: Rendering, values: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """Per-pixel barycentric interpolation of per-vertex values with a rendering's buffers.

    Args:
        rendering: the rendering whose ``triangle_id`` and ``barycentrics`` are used.
        values: (B, N, C) per-vertex values.
        triangles: (T, 3) the triangles that were rendered.

    Returns:
        (B, C, H, W) interpolated values, 0 where no triangle covers the pixel.
    """
    ids = rendering.triangle_id
    b, h, w = ids.shape
    corners = triangles[ids.clamp(min=0)]  # (B, H, W, 3)
    batch = torch.arange(b, device=ids.device)[:, None, None, None]
    gathered = values[batch, corners]  # (B, H, W, 3, C)
    out = (rendering.barycentrics[..., None] * gathered).sum(-2)
    return (out * (ids >= 0)[..., None]).permute(0, 3, 1, 2)


def backgrounds(count: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """(count, 3, size, size) smooth random backgrounds: a colour gradient plus low-frequency noise."""
    corners = torch.rand(count, 3, 2, 2, generator=generator) * 0.8 + 0.1
    gradient = F.interpolate(corners, size=(size, size), mode="bilinear", align_corners=True)
    noise = torch.randn(count, 3, 6, 6, generator=generator) * 0.08
    noise = F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)
    return (gradient + noise).clamp(0, 1)


def _albedo(model: MorphableModel, size: int) -> torch.Tensor:
    if model.name == "default":
        from ..morphable import default_albedo

        return torch.from_numpy(default_albedo(size)).permute(2, 0, 1)[None]
    logger.info("model %r has no built-in albedo; synthetic faces get a uniform skin tone", model.name)
    return torch.tensor(_SKIN).view(1, 3, 1, 1).expand(1, 3, size, size).clone()


_STREAMS = {"identity": 0, "image": 1, "clip": 2}


def _generator(seed: int, stream: str, index: int) -> torch.Generator:
    """A torch generator for one item, seeded by (seed, stream, index) independently of the process."""
    state = np.random.SeedSequence([seed, _STREAMS[stream], index]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _smooth_track(count: int, frames: int, amplitude: torch.Tensor, generator: torch.Generator, cycles: float = 1.0) -> torch.Tensor:
    """(frames, count) sums of two sinusoids per column with random phases and up to ``cycles`` periods."""
    t = torch.linspace(0, 1, frames)[:, None]
    out = torch.zeros(frames, count)
    for _ in range(2):
        freq = (0.25 + torch.rand(count, generator=generator)) * cycles
        phase = torch.rand(count, generator=generator) * 2 * math.pi
        out += torch.sin(2 * math.pi * freq * t + phase) * amplitude / 2
    return out


class Synthesizer:
    """Renders synthetic faces of a morphable model (see the module docstring).

    Args:
        config: what to make.
    """

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.model = create("model", config.model, **config.model_config)
        self.renderer = create("renderer", config.renderer)
        self.albedo = _albedo(self.model, config.texture_size)
        mean = self.model.mean
        self._centre = (mean.amax(0) + mean.amin(0)) / 2
        self._height = float(mean[:, 1].amax() - mean[:, 1].amin())

    def cameras(self, angles: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor) -> Camera:
        """Cameras that put the face's centre at the image centre plus ``shift`` (pixels).

        Args:
            angles: (B, 3) yaw, pitch, roll in radians.
            zoom: (B,) face height as a fraction of the image height.
            shift: (B, 2) offset of the face centre from the image centre, pixels.
        """
        size = self.config.size
        scale = zoom * size / self._height
        camera = Camera.from_euler(angles[:, 0], angles[:, 1], angles[:, 2], scale=scale, translation=torch.zeros(len(zoom), 2))
        centre = camera.project(self._centre.expand(len(zoom), 1, 3))[:, 0, :2]
        return Camera(scale, camera.rotation, size / 2 + shift - centre)

    def render(self, fit: FaceFit, tone: torch.Tensor, light: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
        """Render B faces lit by ``light`` over ``background``.

        Args:
            fit: the faces (batch B).
            tone: (B, 3) colour gain of the albedo per face.
            light: (B, 4) light direction (x, y, z in view space: +y up, +z toward the viewer) and ambient.
            background: (B, 3, size, size) backgrounds.

        Returns:
            (B, 3, size, size) images in [0, 1] (a bright tone can push the lit albedo past 1: clipped, as a
            camera would).
        """
        k = self.config.supersample
        size = self.config.size
        model = self.model
        shape = model.shape(fit.alpha_id, fit.alpha_exp)
        cam = fit.camera
        big = Camera(cam.scale * k, cam.rotation, cam.translation * k)
        vertices = big.project(shape)
        texture = self.albedo * tone[:, :, None, None]
        rendering = self.renderer.render(vertices, model.triangles, (size * k, size * k), uv=model.uv, texture=texture)
        normals = vertex_normals(shape @ cam.rotation.transpose(1, 2), model.triangles)
        direction = F.normalize(light[:, :3], dim=-1)
        ambient = light[:, 3]
        lambert = (normals * direction[:, None]).sum(-1, keepdim=True).clamp(min=0)
        shade = ambient[:, None, None] + (1 - ambient[:, None, None]) * lambert
        shading = interpolate_vertices(rendering, shade, model.triangles)
        face = rendering.image[:, :3] * shading
        bg = F.interpolate(background, scale_factor=k, mode="nearest") if k > 1 else background
        image = (face * rendering.mask + bg * (1 - rendering.mask)).clamp(0, 1)
        return F.avg_pool2d(image, k) if k > 1 else image

    def _fit(self, alpha_id: torch.Tensor, alpha_exp: torch.Tensor, camera: Camera) -> FaceFit:
        model = self.model
        size = self.config.size
        fit = FaceFit(alpha_id=alpha_id, alpha_exp=alpha_exp, camera=camera, image_size=(size, size))
        landmarks = torch.full((len(alpha_id), 68, 2), float("nan"))
        if model.landmark_indices is not None:
            landmarks[:, model.landmark_mask] = model.landmarks(vertices(model, fit))[..., :2]
        return attrs.evolve(fit, landmarks=landmarks)

    def _identity(self, g: torch.Generator, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        alpha_id = (torch.randn(count, self.model.n_id, generator=g) * self.config.id_std).clamp(-2.5, 2.5)
        brightness = 0.6 + 0.55 * torch.rand(count, 1, generator=g)
        cast = 1 + 0.07 * torch.randn(count, 3, generator=g)
        return alpha_id, (brightness * cast).clamp(0.3, 1.3)

    def _light(self, g: torch.Generator, count: int) -> torch.Tensor:
        xy = (torch.rand(count, 2, generator=g) - 0.5) * 1.6
        z = 0.6 + 0.4 * torch.rand(count, 1, generator=g)
        ambient = 0.35 + 0.3 * torch.rand(count, 1, generator=g)
        return torch.cat([xy, z, ambient], 1)

    def image(self, index: int) -> tuple[torch.Tensor, FaceFit]:
        """Image ``index`` of the image part and its fit (identity = ``index // per_identity``)."""
        c = self.config
        g_id = _generator(c.seed, "identity", index // c.per_identity)
        alpha_id, tone = self._identity(g_id, 1)
        g = _generator(c.seed, "image", index)
        alpha_exp = torch.randn(1, self.model.n_exp, generator=g) * c.exp_std
        limits = torch.tensor([math.radians(35), math.radians(15), math.radians(10)])
        angles = (torch.rand(1, 3, generator=g) * 2 - 1) * limits
        zoom = 0.55 + 0.1 * torch.rand(1, generator=g)
        shift = (torch.rand(1, 2, generator=g) - 0.5) * 0.1 * c.size
        fit = self._fit(alpha_id, alpha_exp, self.cameras(angles, zoom, shift))
        image = self.render(fit, tone, self._light(g, 1), backgrounds(1, c.size, g))
        return image[0], fit

    def clip(self, index: int) -> tuple[torch.Tensor, FaceFit]:
        """Clip ``index`` of the video part: (frames, 3, size, size) and the fits of its frames."""
        c = self.config
        n = c.frames
        g = _generator(c.seed, "clip", index)
        alpha_id, tone = self._identity(g, 1)
        alpha_exp = torch.randn(1, self.model.n_exp, generator=g) * c.exp_std * 0.5
        alpha_exp = alpha_exp + _smooth_track(self.model.n_exp, n, torch.full((self.model.n_exp,), 2 * c.exp_std), g)
        limits = torch.tensor([math.radians(25), math.radians(10), math.radians(6)])
        centre = (torch.rand(1, 3, generator=g) * 2 - 1) * limits
        angles = centre + _smooth_track(3, n, limits, g, cycles=max(1.0, n / 24))
        zoom = 0.58 + 0.03 * _smooth_track(1, n, torch.ones(1), g)[:, 0]
        shift = _smooth_track(2, n, torch.full((2,), 0.06 * c.size), g)
        fit = self._fit(alpha_id.expand(n, -1).clone(), alpha_exp, self.cameras(angles, zoom, shift))
        light = self._light(g, 1).expand(n, -1)
        frames = self.render(fit, tone.expand(n, -1), light, backgrounds(1, c.size, g).expand(n, -1, -1, -1))
        return frames, fit


def synthesize(out: str | os.PathLike, config: SynthConfig, *, progress: bool = False) -> layout.Manifest:
    """Write a synthetic dataset to ``out`` (see the module docstring) and return its manifest.

    Raises:
        InputError: ``out`` already holds a dataset manifest (nothing is overwritten).
    """
    root = Path(out)
    if (root / layout.MANIFEST).exists():
        raise InputError(f"{root}: already holds a dataset; choose an empty folder")
    from tqdm.auto import tqdm

    synth = Synthesizer(config)
    images, clips = [], []
    with torch.no_grad(), tqdm(total=config.images + config.videos, disable=not progress, unit="item") as bar:
        for i in range(config.images):
            image, fit = synth.image(i)
            entry = layout.ImageEntry(f"id{i // config.per_identity:05d}", f"{i % config.per_identity:03d}")
            layout.write_image(layout.image_path(root, entry.identity, entry.name), image)
            layout.save_fits(layout.image_fit_path(root, entry.identity, entry.name), fit)
            images.append(entry)
            bar.update(1)
        for i in range(config.videos):
            frames, fit = synth.clip(i)
            entry = layout.ClipEntry(f"clip{i:05d}", f"vid{i:05d}", layout.frame_names(config.frames))
            for name, frame in zip(entry.frames, frames):
                layout.write_image(layout.frame_path(root, entry.clip, name), frame)
            layout.save_fits(layout.clip_fits_path(root, entry.clip), fit)
            clips.append(entry)
            bar.update(1)
    manifest = layout.Manifest((config.size, config.size), layout.model_info(synth.model), images, clips, source="synth")
    layout.write_manifest(root, manifest)
    logger.info("wrote %d images and %d clips of %d frames (%d px) to %s", len(images), len(clips), config.frames, config.size, root)
    return manifest
