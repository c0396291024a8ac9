"""``tfv models list|fetch|add|verify|remove|path``: the model manager on the command line."""

from __future__ import annotations

import json

import click

from ..errors import ModelFileError
from . import cache
from .manager import add, fetch, licence_accepted, paths, remove, state, verify
from .registry import artefacts, get


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} GiB"


def _row(name: str) -> dict:
    artefact = get(name)
    files = state(name)
    return {
        "name": name,
        "description": artefact.description,
        "licence": artefact.licence,
        "licence_url": artefact.licence_url,
        "commercial_use": artefact.commercial_use,
        "needs_acceptance": artefact.accept_licence,
        "accepted": licence_accepted(artefact),
        "needed_by": list(artefact.needed_by),
        "source": artefact.source,
        "present": all(f.present for f in files),
        "files": [
            {"name": f.file.name, "url": f.file.url, "sha256": f.sha256, "size": f.file.size, "present": f.present, "path": str(f.path)}
            for f in files
        ],
    }


@click.group("models")
def models_command() -> None:
    """Model files (weights, morphable models): list, download, import, check, locate, delete.

    The cache is $TFVSDK_HOME (default ~/.cache/tfvsdk); TFVSDK_OFFLINE=1 forbids downloads.
    """


@models_command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(as_json: bool) -> None:
    """List the known artefacts: licence, commercial use, whether they are in the cache, what needs them."""
    rows = [_row(name) for name in artefacts()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"cache: {cache.home()}{'  (offline)' if cache.offline() else ''}")
    for row in rows:
        mark = "✓" if row["present"] else " "
        size = sum(f["size"] or 0 for f in row["files"]) if all(f["size"] for f in row["files"]) else None
        terms = f"{row['licence']}, {'commercial use allowed' if row['commercial_use'] else 'non-commercial'}"
        if row["needs_acceptance"]:
            terms += ", accepted" if row["accepted"] else ", needs --accept-licence"
        click.echo(f"[{mark}] {row['name']:<14} {_size(size):>9}  {terms}")
        click.echo(f"    {row['description']}")
        click.echo(f"    licence: {row['licence_url']}")
        if row["needed_by"]:
            click.echo(f"    needed by: {', '.join(row['needed_by'])}")


@models_command.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--accept-licence", is_flag=True, help="Accept the artefact's licence (needed once for restricted licences).")
def fetch_command(names: tuple[str, ...], accept_licence: bool) -> None:
    """Download artefacts NAMES into the cache (resumes an interrupted download) and verify them."""
    for name in names:
        got = fetch(name, accept_licence=accept_licence, progress=True)
        click.echo(f"{name}: {len(got)} file{'s' * (len(got) != 1)} verified in {cache.folder(name)}")


@models_command.command("add")
@click.argument("name")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--accept-licence", is_flag=True, help="Accept the artefact's licence (needed once for restricted licences).")
def add_command(name: str, files: tuple[str, ...], accept_licence: bool) -> None:
    """Import FILES you already have as artefact NAME (copied into the cache and verified; yours are left alone)."""
    got = add(name, files, accept_licence=accept_licence)
    missing = [f.name for f in get(name).files if f.name not in got]
    click.echo(f"{name}: {len(files)} file{'s' * (len(files) != 1)} imported into {cache.folder(name)}"
               + (f"; still missing {missing}" if missing else ""))


@models_command.command("verify")
@click.argument("names", nargs=-1)
def verify_command(names: tuple[str, ...]) -> None:
    """Hash and check the cached files of NAMES (default: every artefact in the cache) again.

    Every artefact is checked, also after one fails (a file missing or corrupted: a corrupted file is
    deleted); each failure is a line on stderr, and the command then fails naming them.
    """
    failed = []
    for name in names or [n for n in artefacts() if any(f.present for f in state(n))]:
        try:
            digests = verify(name)
        except ModelFileError as exc:
            failed.append(name)
            click.echo(f"{name}: FAILED: {exc}", err=True)
            continue
        for file_name, digest in digests.items():
            click.echo(f"{name}: {file_name} OK sha256:{digest}")
    if failed:
        raise ModelFileError(f"{len(failed)} artefact(s) failed verification: {', '.join(failed)}")


@models_command.command("remove")
@click.argument("names", nargs=-1, required=True)
def remove_command(names: tuple[str, ...]) -> None:
    """Delete the cached files of NAMES (and partial downloads)."""
    for name in names:
        gone = remove(name)
        click.echo(f"{name}: removed {len(gone)} file{'s' * (len(gone) != 1)}")


@models_command.command("path")
@click.argument("name")
@click.argument("file_name", required=False)
def path_command(name: str, file_name: str | None) -> None:
    """Print the paths of NAME's verified files (or of its FILE_NAME); fails when they are missing."""
    found = paths(name)
    if file_name is not None:
        get(name).file(file_name)
        click.echo(found[file_name])
        return
    for p in found.values():
        click.echo(p)
