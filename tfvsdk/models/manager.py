"""Fetch, import, verify, locate and remove artefacts in the cache (:mod:`.cache`).

Every file is verified before it is used or enters the cache: its size and SHA-256 against the record
(or, for a file whose hash the record does not know, against the hash recorded when it was first imported)
and the record's ``check`` (a safe load of the file). A file that fails is deleted, never kept. Work on
one artefact holds its lock, so concurrent fetches of the same artefact download it once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import attrs

from .. import publish
from ..errors import InputError, LicenceError, ModelFileError, TfvError
from . import cache
from .download import Interrupted, download
from .records import Artefact, ArtefactFile
from .registry import get

logger = logging.getLogger(__name__)


@attrs.frozen
class FileState:
    """What the cache holds of one file.

    Attributes:
        file: the record.
        path: where the verified file is (or would be).
        present: the file is in the cache.
        sha256: the hash it was verified with (the record's, or the one recorded at import), or None.
    """

    file: ArtefactFile
    path: Path
    present: bool
    sha256: str | None


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def licence_accepted(artefact: Artefact) -> bool:
    """True when the artefact needs no acceptance, or its licence was accepted before."""
    return not artefact.accept_licence or cache.read_json(cache.licences_path()).get(artefact.name) == artefact.licence


def _how_to_get(artefact: Artefact, file: ArtefactFile) -> str:
    """The command that puts ``file`` into the cache (with ``--accept-licence`` while its licence is not
    accepted)."""
    if not file.url:
        return f"tfv models add {artefact.name} {file.name}"
    return f"tfv models fetch {artefact.name}" + ("" if licence_accepted(artefact) else " --accept-licence")


def _require_licence(artefact: Artefact, accept: bool) -> None:
    if licence_accepted(artefact):
        return
    if not accept:
        raise LicenceError(
            f"{artefact.name}: licensed under {artefact.licence} ({artefact.licence_url}); commercial use "
            f"{'allowed' if artefact.commercial_use else 'not allowed'}. Read the licence, then repeat with "
            f"--accept-licence (accept_licence=True); the acceptance is remembered in {cache.licences_path()}"
        )
    with cache.licences_locked() as path:
        accepted = cache.read_json(path)
        accepted[artefact.name] = artefact.licence
        cache.write_json(path, accepted)
    logger.info("%s: licence %s accepted", artefact.name, artefact.licence)


def state(name: str) -> list[FileState]:
    """What the cache holds of each file of artefact ``name`` (without hashing anything)."""
    artefact = get(name)
    manifest = cache.read_json(cache.manifest_path(name))
    out = []
    for f in artefact.files:
        path = cache.folder(name) / f.name
        entry = manifest.get(f.name, {})
        out.append(FileState(f, path, path.is_file(), f.sha256 or entry.get("sha256")))
    return out


def _verify_file(artefact: Artefact, f: ArtefactFile, path: Path, expected: str | None, what: str) -> str:
    """Check size, hash and format of ``path``; returns its hash. ``what`` names the file in messages."""
    size = path.stat().st_size
    if f.size is not None and size != f.size:
        raise ModelFileError(f"{artefact.name}: {what}: {size} bytes, expected {f.size}")
    digest = sha256_of(path)
    if expected is not None and digest != expected:
        raise ModelFileError(f"{artefact.name}: {what}: SHA-256 {digest}, expected {expected}")
    if f.check is not None:
        try:
            f.check(path)
        except TfvError as exc:
            raise ModelFileError(f"{artefact.name}: {what}: not a usable {f.name} ({exc})") from exc
    return digest


def _admit(artefact: Artefact, f: ArtefactFile, source: Path, what: str) -> Path:
    """Verify ``source`` (a file in the artefact's folder) and rename it into place; delete it if it fails.
    Called with the artefact's lock held."""
    manifest_path = cache.manifest_path(artefact.name)
    manifest = cache.read_json(manifest_path)
    expected = f.sha256 or manifest.get(f.name, {}).get("sha256")
    try:
        digest = _verify_file(artefact, f, source, expected, what)
    except BaseException:
        source.unlink(missing_ok=True)
        raise
    target = cache.folder(artefact.name) / f.name
    publish.move_into_place(source, target)
    stat = target.stat()
    manifest[f.name] = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    cache.write_json(manifest_path, manifest)
    if f.sha256 is None and expected is None:
        logger.warning("%s: %s has no published hash; recorded SHA-256 %s", artefact.name, f.name, digest)
    return target


def _usable(artefact: Artefact, f: ArtefactFile, manifest: dict) -> bool:
    """The cached file is present and unchanged since it was verified (size and mtime as recorded)."""
    path = cache.folder(artefact.name) / f.name
    entry = manifest.get(f.name)
    if not path.is_file() or not entry or (f.sha256 is not None and entry.get("sha256") != f.sha256):
        return False
    stat = path.stat()
    return stat.st_size == entry.get("size") and stat.st_mtime_ns == entry.get("mtime_ns")


def fetch(name: str, *, accept_licence: bool = False, progress: bool = False, retries: int = 2, timeout: float = 60.0) -> dict[str, Path]:
    """Download the files of artefact ``name`` that the cache lacks, verify them, and return all its paths.

    Args:
        name: the artefact (``tfv models list``).
        accept_licence: accept a restricted licence (needed once per artefact).
        progress: show a progress bar.
        retries: times an interrupted download is resumed before giving up.
        timeout: seconds to wait for the server.

    Returns:
        ``{file name: path}`` of the verified files.

    Raises:
        LicenceError: a restricted licence not accepted.
        ModelFileError: offline mode (``TFVSDK_OFFLINE``) with files missing, a file without a URL, an HTTP
            error, or a download that fails verification (nothing of it is kept).
    """
    artefact = get(name)
    _require_licence(artefact, accept_licence)
    with cache.locked(name):
        manifest = cache.read_json(cache.manifest_path(name))
        missing = [f for f in artefact.files if not _usable(artefact, f, manifest)]
        if missing and cache.offline():
            raise ModelFileError(
                f"{name}: {cache.OFFLINE_ENV} is set, not downloading {[f.name for f in missing]}; "
                f"copy them here with: tfv models add {name} FILE"
            )
        for f in missing:
            if f.url is None:
                raise ModelFileError(f"{name}: {f.name} cannot be downloaded; import your copy with: tfv models add {name} {f.name}")
            partial = cache.partial_path(name, f.name)
            for attempt in range(retries + 1):
                try:
                    download(f.url, partial, size=f.size, progress=progress, label=f.name, timeout=timeout)
                    break
                except Interrupted:
                    if attempt == retries:
                        raise
                    logger.warning("%s: download of %s interrupted; resuming (%d/%d)", name, f.name, attempt + 1, retries)
            _admit(artefact, f, partial, f"download of {f.name} from {f.url}")
    return paths(name)


def add(name: str, files: Iterable[str | os.PathLike], *, accept_licence: bool = False) -> dict[str, Path]:
    """Import files the user already has into the cache (copied, verified like a download).

    A file is matched to the artefact's file of the same name; an artefact with a single file takes a file
    of any name. The user's files are only read.

    Returns:
        ``{file name: path}`` of the artefact's files now in the cache.

    Raises:
        InputError: a file that is missing or matches none of the artefact's files.
        LicenceError: a restricted licence not accepted.
        ModelFileError: a file that fails verification (it is not kept).
    """
    artefact = get(name)
    sources = [Path(p) for p in files]
    if not sources:
        raise InputError(f"{name}: no files given to add")
    pairs = []
    for source in sources:
        if not source.is_file():
            raise InputError(f"{source}: not a file")
        if len(artefact.files) == 1:
            pairs.append((artefact.files[0], source))
        else:
            pairs.append((artefact.file(source.name), source))
    _require_licence(artefact, accept_licence)
    with cache.locked(name) as folder:
        for f, source in pairs:
            tmp = publish.partial_path(folder / f.name)
            try:
                shutil.copyfile(source, tmp)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            _admit(artefact, f, tmp, str(source))
    return {s.file.name: s.path for s in state(name) if s.present}


def verify(name: str) -> dict[str, str]:
    """Hash and check every file of artefact ``name`` in the cache again; a file that fails is deleted.

    Returns:
        ``{file name: SHA-256}`` of the verified files.

    Raises:
        ModelFileError: a file missing, or one that fails (then deleted).
    """
    artefact = get(name)
    with cache.locked(name):
        manifest = cache.read_json(cache.manifest_path(name))
        digests = {}
        for f in artefact.files:
            path = cache.folder(name) / f.name
            if not path.is_file():
                raise ModelFileError(f"{name}: {f.name} is not in the cache; get it with: {_how_to_get(artefact, f)}")
            try:
                digests[f.name] = _verify_file(artefact, f, path, f.sha256 or manifest.get(f.name, {}).get("sha256"), str(path))
            except ModelFileError:
                path.unlink()
                manifest.pop(f.name, None)
                cache.write_json(cache.manifest_path(name), manifest)
                raise
            stat = path.stat()
            manifest[f.name] = {"sha256": digests[f.name], "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        cache.write_json(cache.manifest_path(name), manifest)
    return digests


def remove(name: str) -> list[Path]:
    """Delete artefact ``name``'s files, partial downloads and record from the cache.

    Returns:
        The files deleted (verified copies and partial downloads).
    """
    get(name)
    folder = cache.folder(name)
    if not folder.is_dir():
        return []
    with cache.locked(name):
        removed = [p for p in sorted(folder.iterdir()) if p.name != ".lock" and p.is_file()]
        for p in removed:
            p.unlink()
    removed = [p for p in removed if p.name != ".manifest.json"]
    return removed


def paths(name: str) -> dict[str, Path]:
    """The verified files of artefact ``name``: ``{file name: path}``.

    A file changed since it was verified (size or mtime) is hashed again first.

    Raises:
        ModelFileError: a file missing or failing verification, with the command that gets it.
    """
    artefact = get(name)
    manifest = cache.read_json(cache.manifest_path(name))
    out = {}
    for f in artefact.files:
        path = cache.folder(name) / f.name
        if not path.is_file():
            raise ModelFileError(f"{name}: {f.name} is not in the cache ({cache.folder(name)}); get it with: {_how_to_get(artefact, f)}")
        if not _usable(artefact, f, manifest):
            verify(name)
            manifest = cache.read_json(cache.manifest_path(name))
        out[f.name] = path
    return out


def find(name: str) -> dict[str, Path] | None:
    """:func:`paths`, or None when a file is missing or fails verification."""
    try:
        return paths(name)
    except ModelFileError:
        return None
