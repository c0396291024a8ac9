"""Pictures of a fit: the fitted mesh's wireframe and landmarks drawn over the frame."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from tfvsdk import FaceFit, MorphableModel
from tfvsdk.morphable import vertices

WIRE = (90, 200, 255)
MODEL_POINT = (255, 60, 60)
DETECTED_POINT = (60, 255, 90)


def front_edges(screen: np.ndarray, triangles: np.ndarray, limit: int) -> np.ndarray:
    """Unique edges of the triangles that face the camera, at most ``limit`` of them (evenly thinned).

    Args:
        screen: (N, 2) screen positions (pixels, y down).
        triangles: (T, 3) triangles, counter-clockwise seen from the front (so clockwise on screen).
        limit: most edges to return.
    """
    a, b, c = (screen[triangles[:, k]] for k in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    front = triangles[area < 0]
    edges = np.sort(np.concatenate([front[:, [0, 1]], front[:, [1, 2]], front[:, [2, 0]]]), axis=1)
    edges = np.unique(edges, axis=0)
    if len(edges) > limit:
        edges = edges[np.linspace(0, len(edges) - 1, limit).astype(int)]
    return edges


def draw_fit(frame: np.ndarray, model: MorphableModel, fit: FaceFit, *, max_edges: int = 6000) -> np.ndarray:
    """Draw a one-frame fit over a frame.

    The wireframe of the fitted mesh's camera-facing triangles (blue), the model's landmark vertices (red)
    and the landmarks the fit was made from (green). Nothing is drawn for a frame without a face.

    Args:
        frame: (H, W, 3) uint8 RGB.
        model: the fitted model.
        fit: a fit of batch 1.
        max_edges: most wireframe edges drawn (dense models are thinned evenly).

    Returns:
        (H, W, 3) uint8 picture.
    """
    image = Image.fromarray(frame)
    if not bool(fit.found_mask[0]):
        return np.asarray(image)
    with torch.no_grad():
        screen = vertices(model, fit)[0, :, :2].cpu().double().numpy()
    draw = ImageDraw.Draw(image, "RGBA")
    radius = max(1.0, min(frame.shape[:2]) / 300)
    for i, j in front_edges(screen, model.triangles.cpu().numpy(), max_edges):
        draw.line([tuple(screen[i]), tuple(screen[j])], fill=WIRE + (110,), width=1)
    points = screen[model.landmark_indices[model.landmark_mask].cpu().numpy()]
    if fit.landmarks is not None:
        detected = fit.landmarks[0].cpu().double().numpy()
        for x, y in detected[np.isfinite(detected).all(1)]:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=DETECTED_POINT + (255,))
    for x, y in points:
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=MODEL_POINT + (255,))
    return np.asarray(image)
