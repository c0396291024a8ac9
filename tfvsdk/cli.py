"""The ``tfv`` command line: a click group that plugins extend through ``register_commands(cli)``."""

from __future__ import annotations

import json
import logging
import sys

import click

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


def _add_plugin_commands() -> None:
    get_plugin_manager().hook.register_commands(cli=cli)


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
