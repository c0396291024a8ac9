"""Writing :class:`~tfvsdk.evaluate.Evaluation` results: a per-frame CSV and a PNG plot of E_tmp and E_id.

The plot is drawn with Pillow (no plotting library needed): two panels sharing the frame axis, one polyline
per evaluated video, y axes from 0 to the largest value, and a legend. E_tmp's line breaks where it is
undefined (no face); E_id's joins the frames it was computed on.
"""

from __future__ import annotations

import csv
import io as _io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import io, publish
from .evaluate import Evaluation

COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207), (140, 86, 75)]
PANELS = (("e_tmp", "E_tmp (warping error, 0-255)", False), ("e_id", "E_id (1 - cos, identity)", True))
"""(column, title, whether the line joins values across undefined frames: E_id is computed on a subset)."""


def _write_text(path: Path, text: str) -> None:
    publish.write_bytes(path, text.encode())


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (:mod:`tfvsdk.publish`)."""
    _write_text(Path(path), json.dumps(data, indent=2) + "\n")


def write_csv(path: str | os.PathLike, evaluation: Evaluation) -> None:
    """One row per output frame: ``frame`` then every per-frame column (empty where undefined)."""
    names = list(evaluation.frames)
    buffer = _io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["frame", *names])
    for k in range(len(next(iter(evaluation.frames.values())))):
        values = [evaluation.frames[name][k] for name in names]
        writer.writerow([k, *("" if not math.isfinite(v) else f"{v:.6g}" for v in values)])
    _write_text(Path(path), buffer.getvalue())


def plot_curves(path: str | os.PathLike, curves: list[tuple[str, Evaluation]], *, width: int = 900, panel_height: int = 260) -> None:
    """Draw E_tmp and E_id over the frames of each labelled evaluation into a PNG.

    Args:
        path: the PNG to write.
        curves: (label, evaluation) pairs, one line each.
        width: image width in pixels.
        panel_height: height of each of the two panels in pixels.
    """
    from PIL import Image, ImageDraw

    left, right, top, bottom, legend = 60, 20, 24, 30, 18 * len(curves) + 10
    image = Image.new("RGB", (width, top + 2 * (panel_height + bottom) + legend), "white")
    draw = ImageDraw.Draw(image)
    longest = max(len(e.frames["e_tmp"]) for _, e in curves)
    span = max(longest - 1, 1)
    for row, (key, title, join) in enumerate(PANELS):
        y0 = top + row * (panel_height + bottom)
        y1 = y0 + panel_height
        values = [e.frames[key] for _, e in curves]
        finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
        high = float(finite.max()) * 1.1 if finite.size and finite.max() > 0 else 1.0
        draw.rectangle((left, y0, width - right, y1), outline=(0, 0, 0))
        draw.text((left, y0 - 16), title + ("" if finite.size else ": not available"), fill=(0, 0, 0))
        for i in range(5):
            value = high * i / 4
            y = y1 - (y1 - y0) * i / 4
            draw.line((left - 4, y, left, y), fill=(0, 0, 0))
            draw.text((4, y - 6), f"{value:.3g}", fill=(0, 0, 0))
        for i in range(6):
            frame = round(span * i / 5)
            x = left + (width - right - left) * frame / span
            draw.line((x, y1, x, y1 + 4), fill=(0, 0, 0))
            draw.text((x - 6, y1 + 6), str(frame), fill=(0, 0, 0))
        for n, series in enumerate(values):
            colour = COLOURS[n % len(COLOURS)]
            points: list[tuple[float, float]] = []
            for k, v in enumerate([*series, math.nan]):
                if math.isfinite(v):
                    points.append((left + (width - right - left) * k / span, y1 - (y1 - y0) * min(v / high, 1.0)))
                    continue
                if join and k < len(series):
                    continue
                if len(points) > 1:
                    draw.line(points, fill=colour, width=2)
                elif points:
                    draw.ellipse((points[0][0] - 2, points[0][1] - 2, points[0][0] + 2, points[0][1] + 2), fill=colour)
                points = []
    y = top + 2 * (panel_height + bottom)
    draw.text((left, y - 12), "frame", fill=(0, 0, 0))
    for n, (label, _) in enumerate(curves):
        colour = COLOURS[n % len(COLOURS)]
        draw.line((left, y + 18 * n + 12, left + 24, y + 18 * n + 12), fill=colour, width=3)
        draw.text((left + 32, y + 18 * n + 6), label, fill=(0, 0, 0))
    io.write_image(path, np.asarray(image))
