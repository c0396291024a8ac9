"""Blender cost on this CPU: parameters, GFLOPs and ms per frame of G(+E) and of the classical blender.

Usage: python bench/blend.py [--sizes 128 256] [--repeats 5] [--threads N]

One frame (batch 1) per call, inference (``torch.no_grad``). GFLOPs are counted by
``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products, 2 FLOPs per multiply-add;
normalisation and pooling are not counted). Times are the minimum and median of at least ``--repeats`` calls
(and of as many as fit in 2 s, up to 200) after one warm-up call; the machine is shared, so the minimum is
the figure to compare and the median shows the contention.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

import tfvsdk


def frame(size: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    mask = ((xx / 0.45) ** 2 + (yy / 0.6) ** 2 <= 1).float()[None, None]
    appearance = torch.rand(1, 3, size, size, generator=g)
    return torch.rand(1, 3, size, size, generator=g) * mask, appearance, appearance * (1 - mask), mask


def measure(blender: tfvsdk.Blender, size: int, repeats: int) -> tuple[float, float, float]:
    """(GFLOPs, min ms, median ms) of one blend of a size×size frame."""
    inputs = frame(size)
    with torch.no_grad():
        counter = FlopCounterMode(display=False)
        with counter:
            blender.blend(*inputs)
        times: list[float] = []
        while len(times) < repeats or (sum(times) < 2e3 and len(times) < 200):
            start = time.perf_counter()
            blender.blend(*inputs)
            times.append((time.perf_counter() - start) * 1e3)
    return counter.get_total_flops() / 1e9, min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    blenders = {
        "bsn small": tfvsdk.create("blender", "bsn", preset="small").eval(),
        "bsn paper": tfvsdk.create("blender", "bsn", preset="paper").eval(),
        "bsn paper, norm=adain": tfvsdk.create("blender", "bsn", preset="paper", norm="adain").eval(),
        "classical": tfvsdk.create("blender", "classical"),
    }
    for name, blender in blenders.items():
        params = sum(p.numel() for p in blender.parameters()) if isinstance(blender, torch.nn.Module) else 0
        for size in args.sizes:
            gflops, best, median = measure(blender, size, args.repeats)
            rows.append((name, size, params, gflops, best, median))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 1, no_grad, {args.repeats} repeats\n")
    print("| blender | size | parameters (G+E) | GFLOPs | ms/frame (min) | ms/frame (median) | fps (min) |")
    print("|---|---|---|---|---|---|---|")
    for name, size, params, gflops, best, median in rows:
        print(f"| {name} | {size}² | {params / 1e6:.2f} M | {gflops:.2f} | {best:.1f} | {median:.1f} | {1e3 / best:.1f} |")

    by = {(name, size): best for name, size, *_, best, _median in rows}
    print()
    for size in args.sizes:
        small, paper, classical = by[("bsn small", size)], by[("bsn paper", size)], by[("classical", size)]
        adain = by[("bsn paper, norm=adain", size)]
        print(
            f"{size}²: paper / small = {paper / small:.1f}×, small / classical = {small / classical:.0f}×, "
            f"paper BSN / paper AdaIN = {paper / adain:.2f}×"
        )


if __name__ == "__main__":
    main()
