"""The ``tfv`` command line: a click group that plugins extend through ``register_commands(cli)``."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path

import click
import numpy as np

from . import __version__, plugins as registry
from .errors import PluginError, TfvError
from .options import opt_parameter, parse_options
from .plugins import KINDS, components, plugin_info


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tfv")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """tfvsdk: temporally consistent facial video editing."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _component_rows(kind: str | None) -> list[dict]:
    rows = []
    for k, by_name in components().items():
        if kind in (None, k):
            for c in sorted(by_name.values(), key=lambda c: c.name):
                settings = registry.settings(c)
                rows.append(
                    {
                        "kind": k,
                        "name": c.name,
                        "plugin": c.plugin,
                        "description": c.description,
                        "deprecated_names": list(c.aliases),
                        "settings": None if settings is None else list(settings),
                        "trainable": bool(getattr(c.factory, "trainable", False)),
                    }
                )
    return rows


@cli.command()
@click.option("--kind", type=click.Choice(sorted(KINDS)), help="list the components of one kind, with their settings")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--trace", is_flag=True, help="reload the plugins and log every hook call to stderr (as TFVSDK_TRACE_HOOKS=1)")
def plugins(kind: str | None, as_json: bool, trace: bool) -> None:
    """List plugins, their hooks and the components they register (or, with --kind, one kind's components).

    Plugins that failed to load are listed with their error.
    """
    if trace:
        registry.reset()
        registry.trace_hooks()
    if kind is not None:
        rows = _component_rows(kind)
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            old = f" (deprecated names: {', '.join(row['deprecated_names'])})" if row["deprecated_names"] else ""
            settings = "any" if row["settings"] is None else ", ".join(row["settings"]) or "none"
            click.echo(f"{row['name']:<12} {row['description']}{old}  [{row['plugin']}]")
            click.echo(f"{'':<12} settings: {settings}")
        return
    info = plugin_info()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for plugin in info:
        if plugin["error"]:
            click.echo(f"{plugin['name']} (version {plugin['version']}): FAILED to load, skipped: {plugin['error']}")
            continue
        origin = "built-in" if plugin["builtin"] else f"version {plugin['version']}"
        click.echo(f"{plugin['name']} ({origin})")
        click.echo(f"  hooks: {', '.join(plugin['hooks'])}")
        for k, names in plugin["components"].items():
            old = plugin["deprecated_names"].get(k)
            click.echo(f"  {k}: {', '.join(names)}" + (f" (deprecated names: {', '.join(old)})" if old else ""))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models(as_json: bool) -> None:
    """List the morphable models that can be loaded by name."""
    registered = components()["model"]
    rows = [{"name": c.name, "plugin": c.plugin, "description": c.description} for c in registered.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in sorted(rows, key=lambda r: r["name"]):
        click.echo(f"{row['name']:<12} {row['description']}  [{row['plugin']}]")


@cli.command(name="components")
@click.argument("kind", required=False, type=click.Choice(sorted(KINDS)))
def list_components(kind: str | None) -> None:
    """Deprecated: use `tfv plugins --kind KIND`. List registered components, of one KIND or all."""
    click.echo("Warning: `tfv components` is deprecated; use `tfv plugins --kind KIND`", err=True)
    for row in _component_rows(kind):
        click.echo(f"{row['kind']:<14} {row['name']:<12} {row['description']}  [{row['plugin']}]")


def _landmark_files(values: tuple[str, ...], roles: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``ROLE=PATH.npy`` options → {role: (frames, 68, 2) array} (loaded without pickle)."""
    landmarks = {}
    for value in values:
        role, sep, path = value.partition("=")
        if not sep or role not in roles:
            raise click.BadParameter(f"expected ROLE=PATH.npy with ROLE one of {list(roles)}, got {value!r}", param_hint="--landmarks")
        try:
            landmarks[role] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"{path}: not a readable .npy array ({exc})", param_hint="--landmarks") from None
    return landmarks


def _task_command(name: str, roles: tuple[str, ...], description: str) -> click.Command:
    """A command ``tfv NAME --ROLE PATH ... -o OUT`` for a registered composer."""

    def run(output: str, reconstructor: str, renderer: str, blender: str, blender_weights: str | None,
            smoothing: float, length: str, overwrite: bool, device: str, landmarks: tuple[str, ...],
            opts: tuple[str, ...], **paths: str) -> None:
        from .editor import Editor

        weights_dir = blender_weights is not None and Path(blender_weights).is_dir()
        options = parse_options(
            opts, {"composer": name, "reconstructor": reconstructor, "renderer": renderer, "blender": blender}
        )
        if blender_weights is not None and not weights_dir:
            options["blender"].setdefault("weights", blender_weights)
            registry.check_config(registry.lookup("blender", blender), options["blender"])
        built = registry.create_pretrained("blender", blender, blender_weights, **options["blender"]) if weights_dir else blender
        editor = Editor(
            registry.create("composer", name, **options["composer"]),
            reconstructor=reconstructor,
            renderer=renderer,
            blender=built,
            reconstructor_config=options["reconstructor"],
            renderer_config=options["renderer"],
            blender_config=None if weights_dir else options["blender"],
            smoothing=smoothing,
            length=length,
            device=device,
        )
        sources = {r: paths[r.replace("-", "_")] for r in roles}
        summary = editor.run(
            sources, output, overwrite=overwrite, landmarks=_landmark_files(landmarks, roles), progress=True
        )
        click.echo(summary.line())

    params: list[click.Parameter] = [
        click.Option([f"--{r}"], required=True, type=click.Path(dir_okay=False), help=f"the {r} image or video")
        for r in roles
    ]
    params += [
        click.Option(["-o", "--output"], required=True, type=click.Path(dir_okay=False), help="output video"),
        click.Option(["--reconstructor"], default="landmarks", show_default=True, help="reconstructor name (tfv plugins --kind reconstructor)"),
        click.Option(["--renderer"], default="raster", show_default=True, help="renderer name"),
        click.Option(["--blender"], default="classical", show_default=True, help="blender name"),
        click.Option(["--blender-weights"], type=click.Path(exists=True),
                     help="a trained blender's folder (save_pretrained: config.json + model.safetensors), or a bsn weights file"),
        click.Option(["--smoothing"], default=2.0, show_default=True, help="σ in frames of coefficient smoothing (0 = off)"),
        click.Option(["--length"], type=click.Choice(["shortest", "loop"]), default="shortest", show_default=True,
                     help="stop at the shortest video, or loop shorter ones over the timeline source"),
        click.Option(["--landmarks"], multiple=True, metavar="ROLE=PATH.npy",
                     help="precomputed (frames, 68, 2) landmarks of a source, NaN = no face (instead of detecting)"),
        click.Option(["--overwrite"], is_flag=True, help="replace an existing output"),
        click.Option(["--device"], default="cpu", show_default=True, help="torch device"),
    ]
    params.append(opt_parameter(("composer", "reconstructor", "renderer", "blender")))
    text = f"{description[:1].upper()}{description[1:]}." if description else f"Run the {name} task."
    return click.Command(name, callback=run, params=params, help=text)


@cli.command("demo")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="folder for the videos and report")
@click.option("--size", default=160, show_default=True, help="frame side in pixels")
@click.option("--frames", default=48, show_default=True, help="frames per clip")
@click.option("--blender", default="classical", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="replace the outputs of an earlier demo in the folder")
def demo(out: str, size: int, frames: int, blender: str, seed: int, overwrite: bool) -> None:
    """Swap, reenact and remix synthetic faces of the built-in model (no download); writes videos, a
    contact sheet and report.json."""
    from .demo import run_demo

    report = run_demo(out, size=size, frames=frames, blender=blender, seed=seed, overwrite=overwrite, progress=True)
    for task, entry in report["tasks"].items():
        smoothed, raw = entry["smoothed"], entry["unsmoothed"]
        click.echo(
            f"{task:<8} {entry['frames']} frames, {smoothed['frames_per_second']:.1f} frames/s; "
            f"E_tmp {smoothed['E_tmp']:.2f} smoothed vs {raw['E_tmp']:.2f} unsmoothed"
        )
    click.echo(f"wrote {out}/contact_sheet.png and {out}/report.json")


def _warn(error: TfvError) -> None:
    click.echo(f"Warning: {error} (skipped)", err=True)


def _add_plugin_commands() -> None:
    """Commands of the ``register_commands`` hooks and one per composer; a plugin failing here is reported
    and skipped, so that ``tfv --help`` and ``tfv plugins`` keep working."""
    registry.call_hook("register_commands", cli=cli, on_error=_warn)
    try:
        composers = components()["composer"].values()
    except PluginError as exc:
        _warn(exc)
        return
    for comp in composers:
        if comp.name not in cli.commands:
            roles = tuple(getattr(comp.factory, "roles", ()))
            if roles:
                cli.add_command(_task_command(comp.name, roles, comp.description))
            else:
                _warn(PluginError(f"plugin {comp.plugin!r}: composer {comp.name!r} has no class-level roles, so no `tfv {comp.name}` command"))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tfv`` script: SDK errors become a one-line message and exit status 1."""
    warnings.filterwarnings("default", category=DeprecationWarning, module="tfvsdk")  # old names, shown once
    try:
        _add_plugin_commands()
        cli.main(args=argv, prog_name="tfv", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except TfvError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
