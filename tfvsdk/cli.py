"""The ``tfv`` command line: a click group that plugins extend through ``register_commands(cli)``."""

from __future__ import annotations

import json
import logging
import sys

import click
import numpy as np

from . import __version__
from .errors import TfvError
from .plugins import KINDS, components, get_plugin_manager, plugin_info


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tfv")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """tfvsdk: temporally consistent facial video editing."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List plugins, their hooks and the components they register."""
    info = plugin_info()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for plugin in info:
        origin = "built-in" if plugin["builtin"] else f"version {plugin['version']}"
        click.echo(f"{plugin['name']} ({origin})")
        click.echo(f"  hooks: {', '.join(plugin['hooks'])}")
        for kind, names in plugin["components"].items():
            click.echo(f"  {kind}: {', '.join(names)}")


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
    """List registered components, of one KIND or all."""
    for k, by_name in components().items():
        if kind in (None, k):
            for c in sorted(by_name.values(), key=lambda c: c.name):
                click.echo(f"{k:<14} {c.name:<12} {c.description}  [{c.plugin}]")


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
            face: int | None, face_ref: str | None, all_faces: bool, face_detector: str, tone: str | None,
            **paths: str) -> None:
        from .editor import Editor

        editor = Editor(
            name,
            reconstructor=reconstructor,
            renderer=renderer,
            blender=blender,
            blender_config={**({"weights": blender_weights} if blender_weights else {}), **({"tone": tone} if tone else {})} or None,
            smoothing=smoothing,
            length=length,
            device=device,
        )
        sources = {r: paths[r.replace("-", "_")] for r in roles}
        given = _landmark_files(landmarks, roles)
        faces = _chosen_faces(editor.composer.timeline_role, sources, given, face, face_ref, all_faces, face_detector)
        if faces is None:
            click.echo(editor.run(sources, output, overwrite=overwrite, landmarks=given, progress=True).line())
            return
        _edit_each_face(editor, sources, output, overwrite, given, faces)

    params: list[click.Parameter] = [
        click.Option([f"--{r}"], required=True, type=click.Path(dir_okay=False), help=f"the {r} image or video")
        for r in roles
    ]
    params += [
        click.Option(["-o", "--output"], required=True, type=click.Path(dir_okay=False), help="output video"),
        click.Option(["--reconstructor"], default="3ddfa", show_default=True, help="reconstructor name (tfv components)"),
        click.Option(["--renderer"], default="nvdiffrast", show_default=True, help="renderer name"),
        click.Option(["--blender"], default="classical", show_default=True, help="blender name"),
        click.Option(["--blender-weights"], type=click.Path(dir_okay=False), help="weights file for the blender"),
        click.Option(["--smoothing"], default=2.0, show_default=True, help="σ in frames of coefficient smoothing (0 = off)"),
        click.Option(["--length"], type=click.Choice(["shortest", "loop"]), default="shortest", show_default=True,
                     help="stop at the shortest video, or loop shorter ones over the timeline source"),
        click.Option(["--landmarks"], multiple=True, metavar="ROLE=PATH.npy",
                     help="precomputed (frames, 68, 2) landmarks of a source, NaN = no face (instead of detecting)"),
        click.Option(["--tone"], type=click.Choice(["identity", "target"]),
                     help="classical blender: keep the identity's skin tone or take the target's (default: target)"),
        click.Option(["--face"], type=click.IntRange(min=0), help="edit only this face of the output-following video (0 = leftmost in its first frame)"),
        click.Option(["--face-ref"], type=click.Path(dir_okay=False), help="edit only the face nearest the identity in this photo"),
        click.Option(["--all-faces"], is_flag=True, help="edit every face of the output-following video, one after another"),
        click.Option(["--face-detector"], default="dlib", show_default=True, help="detector for --face/--face-ref/--all-faces (dlib, dlib-cnn)"),
        click.Option(["--overwrite"], is_flag=True, help="replace an existing output"),
        click.Option(["--device"], default="cpu", show_default=True, help="torch device"),
    ]
    text = f"{description[:1].upper()}{description[1:]}." if description else f"Run the {name} task."
    return click.Command(name, callback=run, params=params, help=text)


def _chosen_faces(role: str, sources: dict[str, str], given: dict[str, np.ndarray], face: int | None,
                  face_ref: str | None, all_faces: bool, detector_name: str) -> list[np.ndarray] | None:
    """The landmarks of each face to edit in the ``role`` video (tfvsdk.faces), or None for the default (the
    reconstructor's own detection of one face)."""
    if sum((face is not None, face_ref is not None, all_faces)) > 1:
        raise click.UsageError("use only one of --face, --face-ref and --all-faces")
    if face is None and face_ref is None and not all_faces:
        return None
    if role in given:
        raise click.UsageError(f"--landmarks {role}=... already chooses the face of the {role} video")
    from . import faces, plugins

    detector = plugins.create("detector", detector_name)
    if all_faces:
        return faces.every_face_landmarks(sources[role], detector)
    return [faces.face_landmarks(sources[role], detector, face=face, reference=face_ref)]


def _edit_each_face(editor, sources: dict[str, str], output: str, overwrite: bool, given: dict[str, np.ndarray],
                    faces: list[np.ndarray]) -> None:
    """One edit per face, each pass reading the previous pass's output (intermediate files beside ``output``,
    removed at the end)."""
    from pathlib import Path

    role = editor.composer.timeline_role
    final = Path(output)
    current, made = sources[role], []
    try:
        for i, points in enumerate(faces):
            last = i == len(faces) - 1
            out = final if last else final.with_name(f".{final.stem}.face{i}{final.suffix}")
            summary = editor.run({**sources, role: current}, out, overwrite=overwrite or not last,
                                 landmarks={**given, role: points}, progress=True)
            click.echo(f"face {i}: {summary.line()}")
            if not last:
                made.append(out)
            current = str(out)
    finally:
        for path in made:
            path.unlink(missing_ok=True)


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


def _add_plugin_commands() -> None:
    get_plugin_manager().hook.register_commands(cli=cli)
    for comp in components()["composer"].values():
        if comp.name not in cli.commands:
            factory = comp.factory
            roles = tuple(getattr(factory, "roles", ()))
            if roles:
                cli.add_command(_task_command(comp.name, roles, comp.description))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tfv`` script: SDK errors become a one-line message and exit status 1."""
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
