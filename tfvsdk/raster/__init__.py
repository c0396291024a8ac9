"""Rasterization primitives with nvdiffrast's semantics, on any device (nvdiffrast itself on CUDA).

Three primitives, as in nvdiffrast (instanced mode): :func:`rasterize`, :func:`interpolate`,
:func:`texture`; plus :func:`coverage` (a watertightness diagnostic) and the screen-space helpers
:func:`screen_to_clip` and :func:`visible_points`. Backends are described in :mod:`tfvsdk.raster.ops`.

Conventions (nvdiffrast's, which follows OpenGL):

* **Clip space.** ``pos`` is (x, y, z, w); the view volume is −1 ≤ x/w, y/w, z/w ≤ 1.
* **Pixel grid.** Output pixel (px, py) — tensor index ``[b, py, px]`` — is sampled at its centre, clip
  ``x/w = (2 px + 1) / W − 1``, ``y/w = (2 py + 1) / H − 1``. Row 0 is at clip y = −1 (OpenGL calls it
  the bottom row). :func:`screen_to_clip` maps screen y (down) to clip y directly, so row ``py`` *is*
  screen row ``py`` and images need no flip.
* **Output.** ``rast[..., 0:2]`` = (u, v), perspective-correct barycentrics: vertex 0 of the triangle is
  (1, 0), vertex 1 is (0, 1), vertex 2 is (0, 0) — so the weights of vertices 0, 1, 2 are
  (u, v, 1 − u − v). ``rast[..., 2]`` = z/w (smaller = nearer), ``rast[..., 3]`` = triangle index + 1.
  Empty pixels are 0 in all four channels.
* **Visibility.** The nearest surface (smallest z/w) wins; equal z/w: the lower triangle index wins. Parts
  of triangles with z/w outside [−1, 1] are clipped away per pixel (nvdiffrast clips against the near and
  far planes). No back-face culling. Triangles with zero screen-space area are skipped; a triangle's
  orientation is the float64 sign of its area where that sign is certain, else the exact sign (error-free
  products summed exactly), so a sliver whose float64 area rounds to 0 still covers its pixels.
* **Coverage rule.** A pixel centre inside a triangle is covered. A centre exactly on an edge is covered
  by the triangle for which that edge is a "top-left" edge (edge direction, in the triangle's positive
  winding, with dy > 0, or dy = 0 and dx < 0). Edge functions are evaluated in float64 in a form that is
  exactly antisymmetric in the edge's endpoints, so triangles sharing an edge never both cover, nor both
  miss, a centre on it: closed meshes have no holes and no double coverage.
* **Gradients.** rasterize → ``pos`` through u, v (the SDK recomputes u, v of covered pixels in torch from
  the discrete triangle ids); interpolate → ``attr`` and ``rast``; texture → ``tex`` and ``uv``. No
  visibility/silhouette gradients (nvdiffrast gets those from ``antialias``, which the SDK does not have).

Differences from nvdiffrast: the SDK's kernels evaluate coverage in float64 at exact vertex positions
(nvdiffrast snaps vertices to 1/16 pixel and may differ on pixels within ~1/32 px of an edge); triangles
with a vertex at w ≤ 0 are skipped rather than clipped against the near plane; range mode, ``rast_db``,
mipmaps and ``antialias`` are not provided; :func:`interpolate` returns one tensor (nvdiffrast returns a
pair).
"""

from .ops import BACKENDS, BOUNDARY_MODES, coverage, interpolate, rasterize, texture
from .screen import screen_to_clip, visible_points

__all__ = [
    "BACKENDS",
    "BOUNDARY_MODES",
    "coverage",
    "interpolate",
    "rasterize",
    "screen_to_clip",
    "texture",
    "visible_points",
]
