"""Make docs/images/classical_blend.png: the ``classical`` blender on a synthetic frame and face patch.

Usage: python docs/images/make_classical_figure.py [output.png]

Everything is drawn here (ellipses, gradients, smooth noise): no face model or photo is needed. Panels:
appearance frame X_p | rendered face R | mask M̂ | feather weight A | naive paste R M̂ + X_p (1 − M̂) |
classical output Y.
"""

from __future__ import annotations

import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

import tfvsdk
from tfvsdk_blenders.classical import feathered_mask

SIZE = 256


def grid() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.meshgrid(torch.linspace(-1, 1, SIZE), torch.linspace(-1, 1, SIZE), indexing="ij")


def soft_ellipse(cx: float, cy: float, rx: float, ry: float, edge: float = 0.015) -> torch.Tensor:
    yy, xx = grid()
    r = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2).sqrt()
    return torch.sigmoid((1 - r) / edge)


def smooth_noise(seed: int, scale: int = 8, amount: float = 0.05) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, 3, scale, scale, generator=g)
    return F.interpolate(coarse, size=(SIZE, SIZE), mode="bicubic", align_corners=False)[0] * amount


def paint(canvas: torch.Tensor, alpha: torch.Tensor, colour: torch.Tensor | tuple[float, ...]) -> torch.Tensor:
    colour = torch.as_tensor(colour).view(3, 1, 1) if not isinstance(colour, torch.Tensor) or colour.dim() == 1 else colour
    return canvas * (1 - alpha) + colour * alpha


def face(skin: tuple[float, ...], light: tuple[float, float], eye_dx: float, mouth_w: float, lips: tuple[float, ...]) -> torch.Tensor:
    """A shaded elliptic face with eyes, brows, nose shadow and mouth, on a black canvas."""
    yy, xx = grid()
    shade = (0.75 + 0.35 * (-(xx * light[0] + yy * light[1])) - 0.25 * ((xx / 0.5) ** 2 + ((yy + 0.05) / 0.7) ** 2)).clamp(0.3, 1.2)
    img = torch.tensor(skin).view(3, 1, 1) * shade
    for sx in (-eye_dx, eye_dx):
        img = paint(img, soft_ellipse(sx, -0.12, 0.085, 0.04), (0.95, 0.95, 0.92))
        img = paint(img, soft_ellipse(sx, -0.12, 0.035, 0.035), (0.18, 0.12, 0.08))
        img = paint(img, soft_ellipse(sx, -0.24, 0.11, 0.022), (0.25, 0.17, 0.12))
    img = paint(img, soft_ellipse(0.03, 0.12, 0.04, 0.1, edge=0.08) * 0.35, (0.2, 0.1, 0.08))
    img = paint(img, soft_ellipse(0.0, 0.34, mouth_w, 0.04), lips)
    return img.clamp(0, 1)


def scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(appearance frame X_p, rendered face R, mask M̂), each (1, C, SIZE, SIZE)."""
    yy, xx = grid()
    background = torch.stack([0.35 + 0.15 * yy, 0.45 + 0.1 * yy, 0.6 - 0.05 * xx]) + smooth_noise(1, 5, 0.03)
    frame = paint(background, soft_ellipse(0.0, 1.25, 0.9, 0.45), (0.2, 0.3, 0.45))  # shoulders
    frame = paint(frame, soft_ellipse(0.0, 0.75, 0.2, 0.4), (0.78, 0.56, 0.44))  # neck
    frame = paint(frame, soft_ellipse(0.0, -0.18, 0.6, 0.72), (0.22, 0.13, 0.08))  # hair
    target = face(skin=(0.86, 0.62, 0.48), light=(0.4, 0.5), eye_dx=0.2, mouth_w=0.14, lips=(0.7, 0.35, 0.35))
    frame = paint(frame, soft_ellipse(0.0, 0.05, 0.44, 0.6), target)

    mask = (soft_ellipse(0.0, 0.1, 0.4, 0.52, edge=1e-4) > 0.5).float()  # the rendered face's region
    new_face = face(skin=(0.7, 0.7, 0.74), light=(-0.5, 0.3), eye_dx=0.22, mouth_w=0.11, lips=(0.55, 0.4, 0.45))
    return frame.clamp(0, 1)[None], (new_face * mask)[None], mask[None, None]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("classical_blend.png")
    appearance, rendered, mask = scene()
    blender = tfvsdk.create("blender", "classical")
    y = blender.blend(rendered, appearance, appearance * (1 - mask), mask)
    radius = max(1, round(blender.feather * SIZE))
    weight = feathered_mask(mask, radius).expand(-1, 3, -1, -1)
    naive = rendered * mask + appearance * (1 - mask)
    panels = [appearance, rendered, mask.expand(-1, 3, -1, -1), weight, naive, y]
    labels = ["appearance frame X_p", "rendered face R", "face mask", "feather weight A", "naive paste", "classical Y"]
    gap = torch.ones(1, 3, SIZE, 4)
    strip = torch.cat([t for p in panels for t in (p, gap)][:-1], dim=-1)[0]
    pixels = (strip.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    canvas = Image.new("RGB", (pixels.shape[1], SIZE + 24), "white")
    canvas.paste(Image.fromarray(pixels), (0, 0))
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default(size=15)
    for k, label in enumerate(labels):
        draw.text((k * (SIZE + 4) + SIZE // 2, SIZE + 12), label, fill="black", font=font, anchor="mm")
    iio.imwrite(out, np.asarray(canvas))
    print(out)


if __name__ == "__main__":
    main()
