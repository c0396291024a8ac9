"""Make the pictures of docs/rendering.md: rendering_buffers.png, rendering_flow.png, rendering_unwrap.png.

Usage: python docs/images/make_rendering_figures.py [output_dir]

The face is a procedural face-like mesh drawn here (an ellipsoid with a nose, brows, eye sockets, lips and
chin) with a texture painted in its UV layout, so the pictures need no model file or photo and do not
change when the built-in model does.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image, ImageDraw

import tfvsdk
from tfvsdk.flow import flow3d, warp
from tfvsdk.texture import unwrap_texture

SIZE = 256


def _bump(x, y, cx, cy, sx, sy):
    return torch.exp(-(((x - cx) / sx) ** 2) - ((y - cy) / sy) ** 2)


def procedural_face(rings: int = 64, sectors: int = 192):
    """(vertices (N, 3) model space, +y up, +z toward the viewer; triangles; uv (N, 2); symmetry (N,)).

    A polar grid over an ellipse (smooth outline), mirror-symmetric in x, counter-clockwise from the front.
    """
    radius = torch.linspace(0, 1, rings + 1)[1:]
    angle = torch.arange(sectors) * (2 * math.pi / sectors)
    r, t = torch.meshgrid(radius, angle, indexing="ij")
    gx = torch.cat([torch.zeros(1), (0.78 * r * torch.cos(t)).flatten()])
    gy = torch.cat([torch.zeros(1), (r * torch.sin(t)).flatten()])
    r2 = (gx / 0.78) ** 2 + gy**2
    z = 0.75 * torch.sqrt((1.03 - r2).clamp(min=0))
    z = z + 0.22 * _bump(gx, gy, 0, -0.05, 0.09, 0.28) * (0.5 - gy).clamp(0, 1)  # nose ridge, growing down
    z = z + 0.08 * _bump(gx, gy, 0, -0.27, 0.14, 0.08)  # nose tip
    z = z - 0.07 * (_bump(gx, gy, 0.3, 0.2, 0.16, 0.09) + _bump(gx, gy, -0.3, 0.2, 0.16, 0.09))  # eye sockets
    z = z + 0.05 * (_bump(gx, gy, 0.3, 0.36, 0.2, 0.05) + _bump(gx, gy, -0.3, 0.36, 0.2, 0.05))  # brows
    z = z + 0.05 * _bump(gx, gy, 0, -0.53, 0.2, 0.06) - 0.03 * _bump(gx, gy, 0, -0.565, 0.17, 0.015)  # lips
    z = z + 0.05 * _bump(gx, gy, 0, -0.82, 0.18, 0.1)  # chin
    verts = torch.stack([gx * 80, gy * 100, z * 100], -1)
    ring = 1 + torch.arange(rings * sectors).view(rings, sectors)
    nxt = ring.roll(-1, 1)
    fan = torch.stack([torch.zeros(sectors, dtype=torch.long), ring[0], nxt[0]], 1)
    quads = [torch.stack([ring[:-1], ring[1:], nxt[1:]], -1), torch.stack([ring[:-1], nxt[1:], nxt[:-1]], -1)]
    tri = torch.cat([fan] + [q.reshape(-1, 3) for q in quads])
    uv = torch.stack([(gx + 1) / 2, (1 - gy) / 2], -1)
    mirror_sector = (sectors // 2 - torch.arange(sectors)) % sectors
    symmetry = torch.cat([torch.zeros(1, dtype=torch.long), ring[:, mirror_sector].flatten()])
    return verts, tri, uv, symmetry


def paint_texture(size: int = 256) -> torch.Tensor:
    """(1, 3, size, size) face texture in the procedural face's uv layout (u = (x+1)/2, v = (1−y)/2)."""
    v, u = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    x, y = 2 * u - 1, 1 - 2 * v
    skin = torch.tensor([0.87, 0.68, 0.56])[:, None, None] * (1 - 0.12 * y.abs())
    tex = skin + torch.tensor([0.08, -0.03, -0.03])[:, None, None] * (_bump(x, y, 0.42, -0.2, 0.15, 0.12) + _bump(x, y, -0.42, -0.2, 0.15, 0.12))

    def paint(mask, colour):
        nonlocal tex
        tex = tex * (1 - mask) + torch.tensor(colour)[:, None, None] * mask

    for side in (1, -1):
        paint((_bump(x, y, 0.3 * side, 0.38, 0.17, 0.025) > 0.5).float(), (0.28, 0.18, 0.12))  # brows
        paint((_bump(x, y, 0.3 * side, 0.2, 0.11, 0.045) > 0.5).float(), (0.95, 0.95, 0.93))  # eye whites
        paint((_bump(x, y, 0.3 * side, 0.2, 0.045, 0.045) > 0.5).float(), (0.25, 0.42, 0.55))  # irises
        paint((_bump(x, y, 0.3 * side, 0.2, 0.02, 0.02) > 0.5).float(), (0.05, 0.05, 0.05))  # pupils
    paint((_bump(x, y, 0, -0.55, 0.19, 0.04) > 0.4).float(), (0.72, 0.3, 0.32))  # lips
    return tex.clamp(0, 1)[None]


def jaw_drop(verts: torch.Tensor, amount: float) -> torch.Tensor:
    """A small non-rigid change between frames: points below the mouth move down and back."""
    y = verts[:, 1] / verts[:, 1].abs().max()
    w = torch.sigmoid((-0.55 - y) * 12) * amount
    return verts + torch.stack([torch.zeros_like(w), -12 * w, -6 * w], -1)


def camera(verts: torch.Tensor, yaw: float, pitch: float, roll: float, tx: float, ty: float) -> tfvsdk.Camera:
    scale = 0.72 * SIZE / float(verts[:, 1].max() - verts[:, 1].min())
    return tfvsdk.Camera.from_euler(
        torch.tensor([yaw]), torch.tensor([pitch]), torch.tensor([roll]), scale=torch.tensor([scale]), translation=torch.tensor([[tx, ty]])
    )


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (1, H, W) in [0, 1] → (H, W, 3) uint8."""
    return (image.detach().clamp(0, 1).expand(3, -1, -1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def colour_depth(depth: torch.Tensor) -> np.ndarray:
    """(H, W) depth (−inf empty) → (H, W, 3): near = yellow, far = purple, empty = black."""
    finite = torch.isfinite(depth)
    d = torch.where(finite, depth, torch.nan)
    t = ((d - d[finite].min()) / (d[finite].max() - d[finite].min())).nan_to_num(0).numpy()
    anchors = np.array([[0.27, 0.0, 0.33], [0.23, 0.32, 0.55], [0.13, 0.57, 0.55], [0.37, 0.79, 0.38], [0.99, 0.91, 0.14]])
    pos = t * (len(anchors) - 1)
    lo = np.floor(pos).clip(0, len(anchors) - 2).astype(int)
    f = (pos - lo)[..., None]
    rgb = anchors[lo] * (1 - f) + anchors[lo + 1] * f
    return (rgb * finite.numpy()[..., None] * 255).astype(np.uint8)


def colour_flow(flow: torch.Tensor, visible: torch.Tensor, scale: float | None = None) -> np.ndarray:
    """(2, H, W) flow → (H, W, 3): hue = direction, saturation = magnitude (the usual flow colour wheel);
    invisible pixels dark grey."""
    fx, fy = flow[0].numpy(), flow[1].numpy()
    mag = np.hypot(fx, fy)
    scale = scale or max(float(mag.max()), 1e-6)
    hue = (np.arctan2(-fy, -fx) / (2 * math.pi) + 0.5) * 6
    sat = np.clip(mag / scale, 0, 1)
    i = np.floor(hue).astype(int) % 6
    f = hue - np.floor(hue)
    p, q, t = 1 - sat, 1 - sat * f, 1 - sat * (1 - f)
    one = np.ones_like(sat)
    table = [(one, t, p), (q, one, p), (p, one, t), (p, q, one), (t, p, one), (one, p, q)]
    rgb = np.zeros(fx.shape + (3,))
    for k, (r, g, b) in enumerate(table):
        sel = i == k
        rgb[sel] = np.stack([r[sel], g[sel], b[sel]], -1)
    rgb[visible.numpy()[0] == 0] = 0.25
    return (rgb * 255).astype(np.uint8)


def labelled_strip(panels: list[tuple[str, np.ndarray]]) -> np.ndarray:
    strip = np.concatenate([np.pad(p, ((0, 22), (2, 2), (0, 0)), constant_values=255) for _, p in panels], 1)
    image = Image.fromarray(strip)
    draw = ImageDraw.Draw(image)
    for i, (label, p) in enumerate(panels):
        draw.text((i * (p.shape[1] + 4) + 6, p.shape[0] + 5), label, fill=(0, 0, 0))
    return np.asarray(image)


def main(out_dir: Path) -> None:
    verts, tri, uv, sym = procedural_face()
    tex = paint_texture()
    renderer = tfvsdk.create("renderer", "raster")
    cam_prev = camera(verts, 0.55, 0.05, 0.00, 126.0, 130.0)
    cam_t = camera(verts, 0.20, -0.02, 0.04, 129.0, 128.0)
    v_prev = cam_prev.project(verts[None])
    v_t = cam_t.project(jaw_drop(verts, 1.0)[None])

    lambert = renderer.render(v_t, tri, (SIZE, SIZE))
    textured = renderer.render(v_t, tri, (SIZE, SIZE), uv=uv, texture=tex)
    shaded = tfvsdk.create("renderer", "raster", shading="lambert").render(v_t, tri, (SIZE, SIZE), uv=uv, texture=tex)
    ids = textured.triangle_id[0]
    rng = np.random.default_rng(0).random((len(tri) + 1, 3)) * 0.7 + 0.3
    id_colours = (rng[(ids + 1).numpy()] * (ids >= 0).numpy()[..., None] * 255).astype(np.uint8)
    iio.imwrite(
        out_dir / "rendering_buffers.png",
        labelled_strip([
            ("Lambert (no texture)", to_uint8(lambert.image[0])),
            ("textured", to_uint8(textured.image[0])),
            ("textured + Lambert", to_uint8(shaded.image[0])),
            ("mask M^", to_uint8(textured.mask[0])),
            ("depth Z (near = yellow)", colour_depth(textured.depth[0, 0])),
            ("triangle ids", id_colours),
        ]),
    )

    prev = renderer.render(v_prev, tri, (SIZE, SIZE), uv=uv, texture=tex)
    flow, visible = flow3d(textured, prev, tri)
    warped = warp(prev.image, flow)
    error = ((textured.image - warped).abs().amax(1, keepdim=True) * visible)[0]
    iio.imwrite(
        out_dir / "rendering_flow.png",
        labelled_strip([
            ("frame t-1", to_uint8(prev.image[0])),
            ("frame t", to_uint8(textured.image[0])),
            ("flow F (grey: S=0)", colour_flow(flow[0], visible[0])),
            ("visibility S^t S^(t-1)", to_uint8(visible[0])),
            ("warp(frame t-1, F)", to_uint8(warped[0] * visible[0])),
            ("|t - warp| x4 on S", to_uint8(4 * error)),
        ]),
    )

    v_side = camera(verts, 0.85, 0.0, 0.0, 128.0, 128.0).project(verts[None])
    side = renderer.render(v_side, tri, (SIZE, SIZE), uv=uv, texture=tex)
    texture_i, valid = unwrap_texture(side.image, v_side, tri, uv, size=256, symmetry=sym)
    plain, _ = unwrap_texture(side.image, v_side, tri, uv, size=256)
    cam_new = camera(verts, -0.45, 0.15, -0.05, 128.0, 128.0)
    other = renderer.render(cam_new.project(verts[None]), tri, (SIZE, SIZE), uv=uv, texture=texture_i)
    iio.imwrite(
        out_dir / "rendering_unwrap.png",
        labelled_strip([
            ("image (yaw 0.85 rad)", to_uint8(side.image[0])),
            ("valid texels", to_uint8(valid[0])),
            ("T^i, push-pull only", to_uint8(plain[0])),
            ("T^i, mirror + push-pull", to_uint8(texture_i[0])),
            ("T^i under a new pose", to_uint8(other.image[0])),
        ]),
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
