"""``tfv eval``: score one edited video, or every run of a manifest, with the paper's metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from . import io
from .errors import InputError
from .eval_report import plot_curves, write_csv, write_json
from .evaluate import FLOWS, EvalConfig, Evaluation, Evaluator, Run, load_manifest
from .options import device_callback

SHOWN = ("e_tmp", "e_id", "e_pose", "e_exp", "ssim", "fid", "colour_outliers", "stray_edges")


def _finite(value: Any) -> Any:
    """JSON has no NaN: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _line(name: str, summary: dict[str, Any]) -> str:
    parts = [f"{key} {summary[key]:.4g}" if isinstance(summary.get(key), float) else f"{key} n/a" for key in SHOWN]
    return f"{name}: {summary['frames']} frames in {summary['seconds']:.1f} s; " + ", ".join(parts)


COMPONENT_OPTIONS = {"reconstructor": "reconstructor", "renderer": "renderer", "identity_embedder": "identity_embedder"}
"""``tfv eval`` options naming a component → its kind."""


def _check_inputs(jobs: list[tuple[str, Path, Run | None]], sources: dict[str, str | None]) -> list[Path]:
    """Every output and source of ``jobs`` exists and decodes (before the first is scored); returns them all."""
    paths: dict[Path, None] = {}
    for _, video, run in jobs:
        paths[Path(video)] = None
        for role in sources:
            value = getattr(run, role) if run is not None else sources[role]
            if value is not None:
                paths[Path(value)] = None
    for path in paths:
        io.probe(path)
    return list(paths)


def _fid_folders(folders: tuple[str, str], weights: str | None, device: str, as_json: bool, json_file: str | None) -> None:
    """``tfv eval --fid-folders A B``: FID and KID over every frame under two folders."""
    from .metrics import folder_distances, frame_files, load_inception

    if weights is None:
        raise click.UsageError("--fid-folders needs --inception-weights pt_inception-2015-12-05-6726825d.pth")
    for folder in folders:
        frame_files(folder)
    if json_file is not None:
        io.check_output(json_file, overwrite=True, kind=None)
    network = load_inception(weights).to(device)
    data = {"first": folders[0], "second": folders[1], **folder_distances(*folders, network, device=device, progress=True)}
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(f"{folders[0]} vs {folders[1]}: FID {data['fid']:.4g}, KID {data['kid']:.4g} ± {data['kid_std']:.2g} "
                   f"({data['samples'][0]} and {data['samples'][1]} frames)")
    if json_file is not None:
        write_json(json_file, data)


@click.command("eval")
@click.option("--output", type=click.Path(dir_okay=False), help="the edited video to score")
@click.option("--identity", type=click.Path(dir_okay=False), help="identity source (E_id, FID)")
@click.option("--target", type=click.Path(dir_okay=False), help="pose and expression source (E_pose, E_exp)")
@click.option("--reference", type=click.Path(dir_okay=False), help="ground truth of the output (SSIM, PSNR)")
@click.option("--pose", type=click.Path(dir_okay=False), help="pose source when not --target (E_pose)")
@click.option("--expression", type=click.Path(dir_okay=False), help="expression source when not --target (E_exp)")
@click.option("--manifest", type=click.Path(dir_okay=False), help="runs.toml listing many outputs (instead of --output)")
@click.option("--fid-folders", nargs=2, type=click.Path(exists=True, file_okay=False), default=None,
              help="instead of --output/--manifest: FID and KID between the frames under two folders (needs --inception-weights)")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.option("--json-file", type=click.Path(dir_okay=False), help="also write the JSON summary to this file")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False), help="write per-frame CSVs into this folder")
@click.option("--plot", type=click.Path(dir_okay=False), help="write a PNG of E_tmp and E_id over time")
@click.option("--flow", type=click.Choice(FLOWS), default="3d", show_default=True, help="flow of E_tmp (tvl1 needs the 'flow' extra)")
@click.option("--flow-smoothing", default=2.0, show_default=True, type=click.FloatRange(min=0), help="σ in frames of the refit's smoothing for the 3-D flow")
@click.option("--inception-weights", type=click.Path(exists=True, dir_okay=False), help="FID's pt_inception-2015-12-05-6726825d.pth")
@click.option("--max-pose-spread", default=3.0, show_default=True, type=click.FloatRange(min=0), help="flag frames whose pose spread exceeds this (degrees)")
@click.option("--identity-frames", default=8, show_default=True, type=click.IntRange(min=0), help="output frames given an identity vector, spread evenly (0 = all)")
@click.option("--reconstructor", default="landmarks", show_default=True, help="reconstructor refitting output and target")
@click.option("--renderer", default="raster", show_default=True, help="renderer of the 3-D flow")
@click.option("--identity-embedder", default="dlib", show_default=True, help="identity embedder of E_id")
@click.option("--device", default="cpu", show_default=True, callback=device_callback, help="torch device")
@click.pass_context
def eval_command(ctx: click.Context, output: str | None, identity: str | None, target: str | None, reference: str | None, pose: str | None,
                 expression: str | None, manifest: str | None, fid_folders: tuple[str, str] | None,
                 as_json: bool, json_file: str | None, csv_dir: str | None, plot: str | None, flow: str, flow_smoothing: float,
                 inception_weights: str | None, max_pose_spread: float, identity_frames: int, reconstructor: str, renderer: str,
                 identity_embedder: str, device: str) -> None:
    """Score an edited video with the paper's metrics (E_tmp, E_id, E_pose, E_exp, SSIM, FID); a metric
    without its input is null, with the reason under "unavailable"."""
    if fid_folders:
        if output is not None or manifest is not None:
            raise click.UsageError("--fid-folders scores two folders; it does not go with --output or --manifest")
        _fid_folders(fid_folders, inception_weights, device, as_json, json_file)
        return
    if (output is None) == (manifest is None):
        raise click.UsageError("give either --output (one video), --manifest (runs.toml) or --fid-folders A B")
    if manifest is not None and any(v is not None for v in (identity, target, reference, pose, expression)):
        raise click.UsageError("sources go into the manifest's runs when --manifest is used")
    config = EvalConfig(reconstructor=reconstructor, renderer=renderer, identity_embedder=identity_embedder, flow=flow,
                        flow_smoothing=flow_smoothing, inception_weights=inception_weights, max_pose_spread=max_pose_spread,
                        identity_frames=identity_frames,
                        device=device)
    # Everything that can be checked is checked before the first video is scored: inputs decode, the
    # report paths are writable, the components named on the command line exist, the Inception file loads.
    if manifest is not None:
        jobs = [(name, video, run) for run in load_manifest(manifest) for name, video in run.videos()]
    else:
        jobs = [(Path(output).stem, Path(output), None)]
    sources = {"identity": identity, "target": target, "reference": reference, "pose": pose, "expression": expression}
    inputs = _check_inputs(jobs, sources)
    for path, kind in ((json_file, None), (plot, "image")):
        if path is not None:
            io.check_output(path, overwrite=True, inputs=tuple(inputs), kind=kind)
    evaluator = Evaluator(config)
    given = [kind for option, kind in COMPONENT_OPTIONS.items()
             if ctx.get_parameter_source(option) is not click.core.ParameterSource.DEFAULT]
    evaluator.prepare(given, inception=inception_weights is not None)
    if csv_dir is not None and not Path(csv_dir).is_dir():
        Path(csv_dir).mkdir(parents=True)
    results: list[tuple[str, Evaluation]] = []
    for name, video, run in jobs:
        if run is not None:
            sources = {role: getattr(run, role) for role in sources}
        result = evaluator.evaluate(video, progress=True, **sources)
        results.append((name, result))
        if csv_dir is not None:
            write_csv(Path(csv_dir) / f"{name.replace('/', '__')}.csv", result)
        if not as_json:
            click.echo(_line(name, result.summary))
    summaries = [_finite({"name": name, **r.summary}) for name, r in results]
    data: Any = summaries if manifest is not None else summaries[0]
    if as_json:
        click.echo(json.dumps(data, indent=2))
    if json_file is not None:
        write_json(json_file, data)
    if plot is not None:
        plot_curves(plot, results)
