"""The ``tfv`` command line: a click group that plugins extend through ``register_commands(cli)``.

Every failure ends with one line ``Error: …`` on stderr and a non-zero exit status (1 for an error, 2 for a
usage error, 128 + the signal number when interrupted by SIGINT, SIGTERM or SIGHUP); ``tfv --debug`` shows
the traceback of an unexpected error instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path

from .threads import available_cores, prefer_passive_openmp, set_threads

prefer_passive_openmp()  # before the imports below load torch (and OpenMP with it); see tfvsdk.threads

import click  # noqa: E402
import numpy as np  # noqa: E402

from . import __version__  # noqa: E402
from . import plugins as registry  # noqa: E402
from . import publish  # noqa: E402
from .errors import InputError, PluginError, TfvError  # noqa: E402
from .eval_command import eval_command  # noqa: E402
from .models.cli import models_command  # noqa: E402
from .options import device_callback, opt_option, opt_parameter, parse_options  # noqa: E402
from .plugins import KINDS, components, plugin_info  # noqa: E402


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tfv")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.option("--threads", type=click.IntRange(min=1), default=available_cores, show_default="the available cores",
              envvar="TFV_THREADS", help="CPU threads for torch and the rasterizer (env TFV_THREADS).")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def cli(verbose: int, threads: int, debug: bool) -> None:
    """tfvsdk: temporally consistent facial video editing."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    set_threads(threads)


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


@cli.command(name="components")
@click.argument("kind", required=False, type=click.Choice(sorted(KINDS)))
def list_components(kind: str | None) -> None:
    """Deprecated: use `tfv plugins --kind KIND`. List registered components, of one KIND or all."""
    click.echo("Warning: `tfv components` is deprecated; use `tfv plugins --kind KIND`", err=True)
    for row in _component_rows(kind):
        click.echo(f"{row['kind']:<14} {row['name']:<12} {row['description']}  [{row['plugin']}]")


cli.add_command(models_command)


def _per_role(values: tuple[str, ...], roles: tuple[str, ...], option: str, form: str) -> dict[str, str]:
    """``ROLE=VALUE`` options → {role: value}; ``form`` (e.g. ``PATH.npy``) names the value in the error."""
    out = {}
    for value in values:
        role, sep, rest = value.partition("=")
        if not sep or role not in roles:
            raise click.BadParameter(f"expected ROLE={form} with ROLE one of {list(roles)}, got {value!r}", param_hint=option)
        out[role] = rest
    return out


def _landmark_files(values: tuple[str, ...], roles: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``ROLE=PATH.npy`` options → {role: (frames, 68, 2) array} (loaded without pickle)."""
    landmarks = {}
    for role, path in _per_role(values, roles, "--landmarks", "PATH.npy").items():
        try:
            landmarks[role] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"{path}: not a readable .npy array ({exc})", param_hint="--landmarks") from None
    return landmarks


def _source_faces(values: tuple[str, ...], roles: tuple[str, ...]) -> dict[str, int]:
    """``ROLE=N`` options → {role: face number}."""
    faces = _per_role(values, roles, "--source-face", "N")
    for role, number in faces.items():
        if not number.isdigit():
            raise click.BadParameter(f"{role}={number}: expected a face number N >= 0", param_hint="--source-face")
    return {role: int(number) for role, number in faces.items()}


def _task_command(name: str, roles: tuple[str, ...], description: str) -> click.Command:
    """A command ``tfv NAME --ROLE PATH ... -o OUT`` for a registered composer."""

    def run(output: str, reconstructor: str, renderer: str, blender: str, blender_weights: str | None,
            smoothing: float, length: str, overwrite: bool, device: str, landmarks: tuple[str, ...],
            opts: tuple[str, ...], face: int | None, face_ref: str | None, all_faces: bool, face_detector: str,
            tone: str | None, source_face: tuple[str, ...], **paths: str) -> None:
        from .editor import Editor

        weights_dir = blender_weights is not None and Path(blender_weights).is_dir()
        options = parse_options(
            opts, {"composer": name, "reconstructor": reconstructor, "renderer": renderer, "blender": blender}
        )
        if tone is not None:
            options["blender"].setdefault("tone", tone)
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
            face_detector=face_detector,
        )
        sources = {r: paths[r.replace("-", "_")] for r in roles}
        summary = editor.run(
            sources, output, overwrite=overwrite, landmarks=_landmark_files(landmarks, roles), progress=True,
            face=face, face_ref=face_ref, all_faces=all_faces, source_faces=_source_faces(source_face, roles),
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
        click.Option(["--smoothing"], type=click.FloatRange(min=0), default=2.0, show_default=True,
                     help="σ in frames of coefficient smoothing (0 = off)"),
        click.Option(["--length"], type=click.Choice(["shortest", "loop"]), default="shortest", show_default=True,
                     help="stop at the shortest video, or loop shorter ones over the timeline source"),
        click.Option(["--landmarks"], multiple=True, metavar="ROLE=PATH.npy",
                     help="precomputed (frames, 68, 2) landmarks of a source, NaN = no face (instead of detecting)"),
        click.Option(["--tone"], type=click.Choice(["target-chroma", "target", "identity", "target-mean"]),
                     help="classical blender: the target's skin colour and contrast, the face's own hue contrast at "
                          "most (default: target-chroma); the target's colour statistics per RGB channel (target); "
                          "keep the identity's skin tone (identity); or the target's mean colour with the face's own "
                          "contrast (target-mean)"),
        click.Option(["--face"], type=click.IntRange(min=0), metavar="N",
                     help="edit only face N of the edited video (0 = leftmost in the first frame with a face)"),
        click.Option(["--face-ref"], type=click.Path(dir_okay=False), metavar="PHOTO",
                     help="edit only the face most like the person in PHOTO (identity descriptor)"),
        click.Option(["--all-faces"], is_flag=True, help="edit every face of the edited video"),
        click.Option(["--source-face"], multiple=True, metavar="ROLE=N",
                     help="use face N of another source, e.g. identity=2 for the third face from the left of a group photo"),
        click.Option(["--face-detector"], default="dlib", show_default=True,
                     help="detector that finds every face for --face/--face-ref/--all-faces (dlib-cnn: turned and small faces, slow)"),
        click.Option(["--overwrite"], is_flag=True, help="replace an existing output"),
        click.Option(["--device"], default="cpu", show_default=True, callback=device_callback, help="torch device"),
    ]
    params.append(opt_parameter(("composer", "reconstructor", "renderer", "blender")))
    text = f"{description[:1].upper()}{description[1:]}." if description else f"Run the {name} task."
    return click.Command(name, callback=run, params=params, help=text)


@cli.command("demo")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="folder for the videos and report")
@click.option("--size", default=160, show_default=True, type=click.IntRange(min=1), help="frame side in pixels")
@click.option("--frames", default=48, show_default=True, type=click.IntRange(min=2), help="frames per clip")
@click.option("--blender", default="classical", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="replace the outputs of an earlier demo in the folder")
@click.option("--no-eval", is_flag=True, help="skip scoring the outputs with tfv eval's metrics")
@opt_option(("reconstructor", "renderer", "blender"))
def demo(out: str, size: int, frames: int, blender: str, seed: int, overwrite: bool, no_eval: bool, opts: tuple[str, ...]) -> None:
    """Swap, reenact and remix synthetic faces of the built-in model (no download); writes videos, a
    contact sheet and report.json."""
    from .demo import run_demo

    configs = parse_options(opts, {"reconstructor": "landmarks", "renderer": "raster", "blender": blender})
    report = run_demo(out, size=size, frames=frames, blender=blender, seed=seed, overwrite=overwrite, progress=True,
                      evaluate=not no_eval, configs=configs)
    for task, entry in report["tasks"].items():
        smoothed, raw = entry["smoothed"], entry["unsmoothed"]
        click.echo(
            f"{task:<8} {entry['frames']} frames, {smoothed['frames_per_second']:.1f} frames/s; "
            f"E_tmp {smoothed['E_tmp']:.2f} smoothed vs {raw['E_tmp']:.2f} unsmoothed"
        )
    click.echo(f"wrote {out}/contact_sheet.png and {out}/report.json")


cli.add_command(eval_command)


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


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM or SIGHUP, so they unwind (and clean up) like Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Interrupted` while the block runs (main thread only)."""
    previous = {}
    with contextlib.suppress(ValueError):  # not the main thread: leave the handlers alone
        for sig in (signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "no message"


def _fail(message: str, status: int) -> None:
    click.echo(f"Error: {_one_line(message)}", err=True)
    sys.exit(status)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tfv`` script: every failure ends with one line ``Error: …`` and a non-zero status.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
    """
    warnings.filterwarnings("default", category=DeprecationWarning, module="tfvsdk")  # old names, shown once
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    with _signals_interrupt():
        try:
            _add_plugin_commands()
            cli.main(args=args, prog_name="tfv", standalone_mode=False)
        except (KeyboardInterrupt, click.exceptions.Abort) as exc:  # click turns KeyboardInterrupt into Abort
            cause = exc if isinstance(exc, Interrupted) else exc.__cause__
            signum = cause.signum if isinstance(cause, Interrupted) else signal.SIGINT
            publish.discard_partials()
            _fail(f"interrupted by {signal.Signals(signum).name}; no partial output was kept", 128 + signum)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                click.echo(exc.ctx.get_usage(), err=True)
            _fail(exc.format_message(), exc.exit_code)
        except TfvError as exc:
            if debug:
                traceback.print_exc()
            _fail(str(exc), 1)
        except Exception as exc:
            if debug:
                traceback.print_exc()
            _fail(f"{type(exc).__name__}: {exc} (an unexpected error; tfv --debug shows where)", 1)
