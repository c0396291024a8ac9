"""Where artefacts live on disk, the lock that serialises work on one artefact, and what the cache remembers.

Layout under :func:`home` (``$TFVSDK_HOME``, default ``$XDG_CACHE_HOME/tfvsdk``, i.e. ``~/.cache/tfvsdk``)::

    models/NAME/FILE            verified files, ready to use
    models/NAME/.FILE.part      a download in progress (resumed from its length)
    models/NAME/.lock           fcntl lock held while one process fetches, adds, verifies or removes NAME
    models/NAME/.manifest.json  per file: SHA-256, size and mtime of the verified copy
    licences.json               licences accepted: {artefact name: licence}

Files are published with :mod:`tfvsdk.publish` (fsync, then one atomic rename), so a file in ``models/NAME/``
is always complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import publish

HOME_ENV = "TFVSDK_HOME"
OFFLINE_ENV = "TFVSDK_OFFLINE"


def home() -> Path:
    """The cache root: ``$TFVSDK_HOME``, else ``$XDG_CACHE_HOME/tfvsdk``, else ``~/.cache/tfvsdk``."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "tfvsdk"


def offline() -> bool:
    """True when ``TFVSDK_OFFLINE`` is set to anything but ``""``, ``0``, ``false`` or ``no``."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def folder(name: str) -> Path:
    """The folder of artefact ``name`` (not created)."""
    return home() / "models" / name


def partial_path(name: str, file_name: str) -> Path:
    """Where the download of ``file_name`` accumulates before it is verified."""
    return folder(name) / f".{file_name}.part"


@contextlib.contextmanager
def locked(name: str) -> Iterator[Path]:
    """Hold the artefact's lock file (blocking) and yield its folder (created)."""
    path = folder(name)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (:func:`tfvsdk.publish.write_bytes`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    publish.write_bytes(path, json.dumps(data, indent=2, sort_keys=True).encode())


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, or {} when the file does not exist or is not a JSON object."""
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def manifest_path(name: str) -> Path:
    return folder(name) / ".manifest.json"


def licences_path() -> Path:
    return home() / "licences.json"


@contextlib.contextmanager
def licences_locked() -> Iterator[Path]:
    """Hold the lock of ``licences.json`` (several artefacts may accept licences at once)."""
    root = home()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".licences.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield licences_path()
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
