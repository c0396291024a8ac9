"""Built-in plugin: the training commands ``tfv synth``, ``tfv prepare`` and ``tfv train``.

They are thin wrappers of :mod:`tfvsdk.data` and :mod:`tfvsdk.train` (see docs/training.md).
"""

from __future__ import annotations

import click

import tfvsdk
from tfvsdk.options import opt_option, parse_options


@click.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="dataset folder to create")
@click.option("--images", default=64, show_default=True, type=click.IntRange(min=0), help="still images (the image part)")
@click.option("--videos", default=8, show_default=True, type=click.IntRange(min=0), help="clips (the video part)")
@click.option("--frames", default=16, show_default=True, type=click.IntRange(min=1), help="frames per clip")
@click.option("--size", default=64, show_default=True, type=click.IntRange(min=1), help="image side, pixels")
@click.option("--per-identity", default=1, show_default=True, type=click.IntRange(min=1), help="images per identity")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--model", default="default", show_default=True, help="morphable model (tfv models)")
@click.option("--renderer", default="raster", show_default=True)
def synth(out: str, images: int, videos: int, frames: int, size: int, per_identity: int, seed: int, model: str, renderer: str) -> None:
    """Write a synthetic dataset with ground-truth fits (faces of the morphable model)."""
    from tfvsdk.data.synth import SynthConfig, synthesize

    config = SynthConfig(images, videos, frames, size, per_identity, seed, model, renderer=renderer)
    manifest = synthesize(out, config, progress=True)
    click.echo(f"{out}: {len(manifest.images)} images, {len(manifest.videos)} clips × {frames} frames, {size}×{size}")


@click.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--kind", type=click.Choice(["images", "videos"]), required=True, help="what SRC holds")
@click.option("--size", default=128, show_default=True, type=click.IntRange(min=1), help="crop side, pixels")
@click.option("--identity", type=click.Choice(["file", "folder"]), default="file", show_default=True,
              help="every file its own identity, or the first folder level below SRC")
@click.option("--detector", default="dlib", show_default=True, help="landmark detector (tfv plugins --kind detector)")
@click.option("--reconstructor", default="landmarks", show_default=True)
@click.option("--crop-scale", default=1.8, show_default=True, type=click.FloatRange(min=0, min_open=True), help="crop side / landmark box side")
@click.option("--crop-shift", default=-0.08, show_default=True, help="vertical crop offset / side (negative = up)")
@click.option("--max-frames", default=0, show_default=True, type=click.IntRange(min=0), help="frames per clip at most (0 = all)")
@opt_option(("detector", "reconstructor"))
def prepare(src: str, out: str, kind: str, size: int, identity: str, detector: str, reconstructor: str,
            crop_scale: float, crop_shift: float, max_frames: int, opts: tuple[str, ...]) -> None:
    """Detect, crop/align and fit the images or clips under SRC into the training layout in OUT."""
    from tfvsdk.data.prepare import prepare as run

    options = parse_options(opts, {"detector": detector, "reconstructor": reconstructor})
    manifest = run(
        src,
        out,
        kind=kind,
        detector=tfvsdk.create("detector", detector, **options["detector"]),
        reconstructor=tfvsdk.create("reconstructor", reconstructor, **options["reconstructor"]),
        progress=True,
        size=size,
        identity=identity,
        crop_scale=crop_scale,
        crop_shift=crop_shift,
        max_frames=max_frames,
    )
    click.echo(f"{out}: {len(manifest.images)} images, {len(manifest.videos)} clips, {len(manifest.skipped)} inputs skipped")
    for item in manifest.skipped:
        click.echo(f"  skipped {item['path']}: {item['reason']}", err=True)


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False), help="train.toml")
@click.option("--max-steps", type=int, help="overrides run.max_steps")
@click.option("--every", type=int, help="overrides run.every (checkpoints and sample grids)")
@click.option("--out", type=click.Path(file_okay=False), help="overrides run.out")
@click.option("--no-resume", is_flag=True, help="sets run.resume = false (start over even if a checkpoint exists)")
def train(config_path: str, max_steps: int | None, every: int | None, out: str | None, no_resume: bool) -> None:
    """Train a blender as the config says (torchrun-compatible: one process per GPU/CPU shard)."""
    from tfvsdk.checks import check_device
    from tfvsdk.train import Trainer, load_config

    config = load_config(config_path)
    run = config.run
    if max_steps is not None:
        run.max_steps = max_steps
    if every is not None:
        run.every = every
    if out is not None:
        run.out = out
    if no_resume:
        run.resume = False
    if run.device == "cuda":
        check_device(f"{config_path}: run.device", "cuda")
    trainer = Trainer(config)
    try:
        metrics = trainer.fit()
    finally:
        trainer.close()
    if trainer.context.is_main:
        blender = trainer.components.blender
        exported = [trainer.export_pretrained(trainer.out / "blender")] if isinstance(blender, tfvsdk.TrainableBlender) else []
        if callable(getattr(blender, "save", None)):
            exported.append(trainer.export_weights(trainer.out / "blender.safetensors"))
        losses = ", ".join(f"{k[5:]} {v:.4g}" for k, v in metrics.items() if k.startswith("loss/"))
        click.echo(f"step {trainer.step}: {losses}; checkpoint {trainer.checkpoints.last}" + "".join(f"; weights {w}" for w in exported))


@tfvsdk.hookimpl
def register_commands(cli):
    for command in (synth, prepare, train):
        cli.add_command(command)
