"""``tfv fit IMAGE_OR_VIDEO -o OUT_DIR``: fit a morphable model to every frame and draw the result."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import torch

import tfvsdk
from tfvsdk import Detection, InputError, io
from tfvsdk import plugins as registry
from tfvsdk.data.layout import save_fits
from tfvsdk.options import opt_option, parse_options

from .overlay import draw_fit


def _chunks(path: Path, size: int, landmarks: np.ndarray | None, image_size: tuple[int, int]) -> Iterator[tuple[torch.Tensor, Detection | None]]:
    batch: list[np.ndarray] = []
    start = 0

    def emit() -> tuple[torch.Tensor, Detection | None]:
        images = io.to_tensor(batch)
        detection = None
        if landmarks is not None:
            if start + len(batch) > len(landmarks):
                raise InputError(f"--landmarks: {len(landmarks)} rows, but {path} has more frames")
            rows = torch.as_tensor(landmarks[start : start + len(batch)], dtype=torch.float32)
            detection = Detection(rows, torch.isfinite(rows).any(-1).any(-1), image_size)
        return images, detection

    for frame in io.iter_frames(path):
        batch.append(frame)
        if len(batch) == size:
            yield emit()
            start += len(batch)
            batch = []
    if batch:
        yield emit()


def _reconstructor_config(component: registry.Component, model: str, model_path: str | None, model_options: dict,
                          detector: object, detector_given: bool, smoothness: float, init: str) -> dict:
    """The settings ``tfv fit`` gives a reconstructor other than 3ddfa-v2: the model, the detector, the
    smoothness and the start, each only if its factory takes it; a non-default option it cannot take is an
    error rather than ignored."""
    known = registry.settings(component)
    takes = (lambda key: True) if known is None else (lambda key: key in known)
    config: dict = {}
    if takes("model"):
        config["model"] = tfvsdk.create("model", model, **({"path": model_path} if model_path else {}), **model_options)
    for key, value, given in (("detector", detector, detector_given), ("smoothness", smoothness, smoothness != 2.0), ("init", init, init != "affine")):
        if takes(key):
            config[key] = value
        elif given:
            raise click.UsageError(f"--{key}: reconstructor {component.name!r} (plugin {component.plugin!r}) has no setting {key!r}")
    if "model" not in config and (model != "default" or model_path or model_options):
        raise click.UsageError(f"--model: reconstructor {component.name!r} (plugin {component.plugin!r}) has no setting 'model'")
    return config


@click.command("fit")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="output folder (created if missing)")
@click.option("--model", default="default", show_default=True, help="morphable model name (tfv plugins --kind model)")
@click.option("--model-path", type=click.Path(), help="file of the model (for 'sfm', 'bfm') or its folder (for 'ict')")
@click.option("--detector", default="dlib", show_default=True, help="landmark detector name")
@click.option("--reconstructor", "reconstructor", default="landmarks", show_default=True,
              help="any registered reconstructor (tfv plugins --kind reconstructor): landmarks, the landmark fitter; 3ddfa-v2, "
                   "3DDFA_V2's regressor (the fit on --model bfm, else the fitter's start; tfv models fetch 3ddfa-v2)")
@click.option("--init", type=click.Choice(["affine", "3ddfa-v2"]), default="affine", show_default=True,
              help="starting pose of the landmark fitter: closed form from the landmarks, or 3DDFA_V2's regressed rotation")
@click.option("--landmarks", type=click.Path(dir_okay=False), help="(frames, 68, 2) .npy landmarks in pixels to fit instead of detecting (NaN = none)")
@click.option("--smoothness", default=2.0, show_default=True, type=click.FloatRange(min=0), help="temporal smoothness of video fits (0 = off)")
@click.option("--chunk-size", default=32, show_default=True, type=click.IntRange(min=1), help="frames detected per step")
@click.option("--overwrite", is_flag=True, help="replace existing outputs")
@opt_option(("model", "reconstructor", "detector"))
def fit_command(source, output, model, model_path, detector, reconstructor, init, landmarks, smoothness, chunk_size, overwrite, opts) -> None:
    """Fit a 3D face model to an image or video: writes OUTPUT/fits.npz and an overlay picture or video.

    A video is fitted as one clip (one identity, smoothed pose and expression). fits.npz holds one row per
    frame in the SDK's fit-file format (tfvsdk.data.layout).
    """
    started = time.perf_counter()
    options = parse_options(opts, {"model": model, "reconstructor": reconstructor, "detector": detector})
    info = io.probe(source)
    out = Path(output)
    if not out.exists():
        if not out.parent.is_dir():
            raise InputError(f"{out.parent}: output folder does not exist")
        out.mkdir()
    fits_path = io.check_output(out / "fits.npz", overwrite=overwrite, inputs=(source,))
    picture_path = io.check_output(out / ("overlay.png" if info.is_image else "overlay.mp4"), overwrite=overwrite,
                                   inputs=(source,), kind="image" if info.is_image else "video")
    given = None
    if landmarks is not None:
        try:
            given = np.load(landmarks, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"--landmarks: {landmarks}: not a readable .npy array ({exc})") from None
        if given.ndim != 3 or given.shape[1:] != (68, 2):
            raise InputError(f"--landmarks: expected an array of shape (frames, 68, 2), got {given.shape}")
    landmarks_from = tfvsdk.create("detector", detector, **options["detector"]) if options["detector"] else detector
    component = registry.lookup("reconstructor", reconstructor)
    if component.name == "3ddfa-v2":
        if init != "affine":
            raise click.UsageError("--init applies to --reconstructor landmarks; 3ddfa-v2 starts the fitter with its own pose")
        config = {"model": model, "model_path": model_path} if model == "bfm" else {"model": model, "model_path": model_path, "smoothness": smoothness}
        config["detector"] = landmarks_from
    else:
        detector_given = detector != "dlib" or bool(options["detector"])
        config = _reconstructor_config(component, model, model_path, options["model"], landmarks_from, detector_given, smoothness, init)
    rec = tfvsdk.create("reconstructor", component.name, **config, **options["reconstructor"])
    morphable = rec.model
    chunks = _chunks(info.path, chunk_size, given, info.size)
    if info.is_image:
        images, detection = next(chunks)
        fit = rec.fit(images, detection=detection)
    else:
        fit = rec.fit_video(chunks)
    save_fits(fits_path, fit, overwrite=overwrite)
    frames = io.iter_frames(info.path)
    if info.is_image:
        io.write_image(picture_path, draw_fit(next(frames), morphable, fit), overwrite=overwrite)
    else:
        from tqdm.auto import tqdm

        with io.VideoWriter(picture_path, info.fps, overwrite=overwrite) as writer:
            for k, frame in enumerate(tqdm(frames, total=fit.batch_size, unit="frame", desc="overlay", leave=False)):
                writer.write(draw_fit(frame, morphable, fit[k]))
    found = int(fit.found_mask.sum())
    click.echo(
        f"fitted {fit.batch_size} frame{'s' * (fit.batch_size != 1)} (face in {found}) → {fits_path}, {picture_path} "
        f"in {time.perf_counter() - started:.1f} s"
    )
