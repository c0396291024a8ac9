"""The records of the model manager: one downloadable or importable file, and an artefact made of files."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import attrs

from ..errors import InputError

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _check_name(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not _NAME.match(value):
        raise InputError(f"{attribute.name}: expected lower-case letters, digits, '.', '_' or '-', got {value!r}")


def _check_file_name(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not value or "/" in value or "\\" in value or value.startswith("."):
        raise InputError(f"ArtefactFile.name: expected a plain file name (no folders, not hidden), got {value!r}")


def _check_sha256(instance: object, attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None and not _SHA256.match(value):
        raise InputError(f"ArtefactFile.sha256: expected 64 lower-case hex digits, got {value!r}")


def _check_size(instance: object, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and value < 0:
        raise InputError(f"ArtefactFile.size: expected a byte count >= 0, got {value}")


@attrs.frozen
class ArtefactFile:
    """One file of an artefact.

    Attributes:
        name: the file's name in the cache (and the name ``tfv models add`` matches a user's file by).
        url: where ``fetch`` downloads it from (None: the file can only be imported with ``add``).
        sha256: its SHA-256 in hex; None when unknown — then the hash of the first import that passes
            ``check`` is recorded, and later uses must match it.
        size: its size in bytes, when known.
        check: a function that raises if the file at the given path is not what it should be (e.g. loads it
            with a safe loader); run on every import and download before the file enters the cache.
    """

    name: str = attrs.field(validator=_check_file_name)
    url: str | None = None
    sha256: str | None = attrs.field(default=None, validator=_check_sha256)
    size: int | None = attrs.field(default=None, validator=_check_size)
    check: Callable[[Path], object] | None = attrs.field(default=None, eq=False, repr=False)


def _check_files(instance: object, attribute: attrs.Attribute, value: tuple[ArtefactFile, ...]) -> None:
    if not value:
        raise InputError("Artefact.files: expected at least one file")
    names = [f.name for f in value]
    if len(set(names)) != len(names):
        raise InputError(f"Artefact.files: file names must differ, got {names}")
    if not all(isinstance(f, ArtefactFile) for f in value):
        raise InputError("Artefact.files: expected ArtefactFile records")


@attrs.frozen
class Artefact:
    """A model artefact the SDK knows: its files, where they come from and under which licence.

    Attributes:
        name: the artefact's name (``tfv models fetch NAME``).
        files: its files.
        licence: the licence's short name (e.g. ``"MIT"``).
        licence_url: where the licence text is.
        commercial_use: whether the licence allows commercial use.
        accept_licence: the licence restricts use (non-commercial, registration, …): ``fetch`` and ``add``
            need ``accept_licence=True`` once (remembered in the cache).
        needed_by: what uses it (components, commands), for ``tfv models list`` and the docs.
        description: one line on what it is.
        source: the project that distributes it.
    """

    name: str = attrs.field(validator=_check_name)
    files: tuple[ArtefactFile, ...] = attrs.field(converter=tuple, validator=_check_files)
    licence: str
    licence_url: str
    commercial_use: bool
    accept_licence: bool = False
    needed_by: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    description: str = ""
    source: str = ""

    def file(self, name: str) -> ArtefactFile:
        """The file called ``name``.

        Raises:
            InputError: no such file (with the artefact's file names).
        """
        for f in self.files:
            if f.name == name:
                return f
        raise InputError(f"{self.name}: no file {name!r}; its files are {[f.name for f in self.files]}")
