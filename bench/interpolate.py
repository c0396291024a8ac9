"""Benchmark: ``tfvsdk.raster.interpolate`` (PyTorch path) and the ``nvdiffrast`` renderer now vs a baseline
commit, ms per call, in one process.

The baseline's ``tfvsdk`` package and renderer plugin are extracted with ``git archive`` into a temporary
folder and imported as ``tfvsdk_baseline``. Inputs: the built-in model with random identities and
expressions, yaw −40° … 40° across the batch, rasterized at 256² (about a third of the pixels covered).
Cases: the model's uv (N, 2) broadcast over the batch; per-item (B, N, 3) attributes; the same with
gradients w.r.t. the attributes and the rasterizer's u, v; the renderer with a per-item 256² texture, and
with Lambert shading and no texture. Each repeat runs both versions back to back (alternating which goes
first) and checks that their outputs (and gradients) are equal; the table gives medians over repeats of the
time per call and of the old / new ratio (the machine's speed drifts, the ratio of neighbouring calls much
less).

Usage: ``python bench/interpolate.py [--baseline REV] [--repeats 7] [--threads 1 2] [--batch 16]``
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path

import torch

import tfvsdk
from baseline import extract_baseline, old_new_arguments, time_interleaved, turning_faces
from tfvsdk.raster import rasterize, screen_to_clip
from tfvsdk_raster.renderer import NvdiffrastRenderer

BASELINE = "d029e4110a6f3462fc28e8504403a20d3c214d35"
"""The last commit whose interpolate computed every pixel with advanced indexing."""
SIZE = 256


def import_baseline(rev: str, folder: Path) -> tuple[types.ModuleType, types.ModuleType]:
    """(``tfvsdk_baseline.raster``, the renderer plugin's module) as of commit ``rev``."""
    extract_baseline(rev, folder, "plugins/tfvsdk_raster/renderer.py")
    source = (folder / "plugins/tfvsdk_raster/renderer.py").read_text()
    source = source.replace("import tfvsdk\n", "import tfvsdk_baseline as tfvsdk\n")
    source = source.replace("from tfvsdk.", "from tfvsdk_baseline.")
    renderer = types.ModuleType("renderer_baseline")
    exec(compile(source, "renderer_baseline.py", "exec"), renderer.__dict__)
    return importlib.import_module("tfvsdk_baseline.raster"), renderer


def interpolate_cases(model, screen: torch.Tensor) -> dict[str, Callable[[types.ModuleType], tuple[torch.Tensor, ...]]]:
    """Name → a function of a ``raster`` module returning the tensors both versions must agree on."""
    tri = model.triangles
    rast = rasterize(screen_to_clip(screen, (SIZE, SIZE)), tri, (SIZE, SIZE))
    per_item = torch.randn(screen.shape[0], screen.shape[1], 3, generator=torch.Generator().manual_seed(0))

    def with_gradients(raster: types.ModuleType) -> tuple[torch.Tensor, ...]:
        attr = per_item.clone().requires_grad_(True)
        barycentrics = rast[..., :2].clone().requires_grad_(True)
        out = raster.interpolate(attr, torch.cat([barycentrics, rast[..., 2:]], -1), tri)
        return (out.detach(), *torch.autograd.grad(out, (attr, barycentrics), torch.ones_like(out)))

    return {
        "uv (N, 2)": lambda raster: (raster.interpolate(model.uv, rast, tri),),
        "(B, N, 3)": lambda raster: (raster.interpolate(per_item, rast, tri),),
        "(B, N, 3) + grad": with_gradients,
    }


def render_cases(model, screen: torch.Tensor, renderers: dict[str, types.ModuleType]):
    """Name → a function of a version's name returning the renderings' tensors both versions must agree on."""
    texture = torch.rand(screen.shape[0], 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    textured = {name: module.NvdiffrastRenderer() for name, module in renderers.items()}
    shaded = {name: module.NvdiffrastRenderer(shading="lambert") for name, module in renderers.items()}

    def fields(rendering) -> tuple[torch.Tensor, ...]:
        return rendering.image, rendering.mask, rendering.depth, rendering.triangle_id, rendering.barycentrics

    return {
        "render textured": lambda name: fields(
            textured[name].render(screen, model.triangles, (SIZE, SIZE), uv=model.uv, texture=texture)
        ),
        "render lambert": lambda name: fields(shaded[name].render(screen, model.triangles, (SIZE, SIZE))),
    }


def main() -> None:
    args = old_new_arguments(__doc__, BASELINE, [16])
    model = tfvsdk.morphable.load_builtin()
    with tempfile.TemporaryDirectory() as folder:
        old_raster, old_renderer = import_baseline(args.baseline, Path(folder))
        rasters = {"old": old_raster, "new": tfvsdk.raster}
        renderers = {"old": old_renderer, "new": sys.modules[NvdiffrastRenderer.__module__]}
        print(f"interpolate and render, {SIZE}² frames, ms per call, median of {args.repeats}, "
              f"baseline {args.baseline[:7]}")
        print(f"{'case':<18} {'threads':>7} {'batch':>5} {'old':>7} {'new':>7} {'old/new':>7}")
        for batch in args.batch:
            screen = turning_faces(model, batch, SIZE)
            cases = {
                name: {version: (lambda c=case, m=module: c(m)) for version, module in rasters.items()}
                for name, case in interpolate_cases(model, screen).items()
            }
            cases |= {
                name: {version: (lambda c=case, v=version: c(v)) for version in renderers}
                for name, case in render_cases(model, screen, renderers).items()
            }
            for threads in args.threads:
                torch.set_num_threads(threads)
                for name, versions in cases.items():
                    before, after, ratio = time_interleaved(versions, args.repeats)
                    print(f"{name:<18} {threads:>7} {batch:>5} {before:>7.1f} {after:>7.1f} {ratio:>6.2f}×", flush=True)


if __name__ == "__main__":
    main()
