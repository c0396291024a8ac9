"""Cost of the interfaces' contract checks: each component's public (checked) method against its bare
implementation method, on the same inputs, interleaved.

    python bench/contracts.py [--repeats 7] [--threads 1 2] [--batch 16]

Prints one row per component, thread count and batch: the bare and checked times (ms per frame) and the
overhead of the checks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tfvsdk  # noqa: E402
from baseline import old_new_arguments, time_interleaved, turning_faces  # noqa: E402


def main() -> None:
    args = old_new_arguments(__doc__, "HEAD", [16])
    model = tfvsdk.create("model", "default")
    renderer = tfvsdk.create("renderer", "raster")
    blenders = {name: tfvsdk.create("blender", name) for name in ("classical", "bsn")}
    print(f"{'component':<18} {'threads':>7} {'batch':>5} {'bare ms/frame':>14} {'checked ms/frame':>17} {'overhead':>9}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch in args.batch:
            vertices = turning_faces(model, batch)
            size = (256, 256)
            with torch.no_grad():
                rendering = renderer.render(vertices, model.triangles, size)
                mask = rendering.mask
                appearance = torch.rand(batch, 3, *size, generator=torch.Generator().manual_seed(0))
                inputs = (rendering.image[:, :3], appearance, appearance * (1 - mask), mask)
                cases = {
                    "raster render": {
                        "old": lambda: (renderer._render(vertices, model.triangles, size, uv=None, texture=None).image,),
                        "new": lambda: (renderer.render(vertices, model.triangles, size).image,),
                    },
                    **{
                        f"{name} blend": {"old": lambda b=b: (b._blend(*inputs),), "new": lambda b=b: (b.blend(*inputs),)}
                        for name, b in blenders.items()
                    },
                }
                for name, versions in cases.items():
                    repeats = args.repeats if "bsn" not in name else max(3, args.repeats // 2)
                    bare, checked, ratio = time_interleaved(versions, repeats, per=batch)
                    print(f"{name:<18} {threads:>7} {batch:>5} {bare:>14.2f} {checked:>17.2f} {100 * (1 / ratio - 1):>8.1f}%")


if __name__ == "__main__":
    main()
