"""The one way every file the SDK produces is written: temporary file → fsync → verify → atomic publish.

A file is first written under a *partial name* in its destination folder,
``.<name>.<pid>-<token>.tfv-partial<suffix>`` (hidden, the writer's process id, the final suffix kept so that
encoders choose their format from it). It is then flushed to disk (``fsync``), checked by an optional
``verify`` callable (e.g. "ffmpeg exited 0 and the container holds every frame"), given the mode
``0o666 & ~umask`` and published under the final name in one step:

* ``overwrite=True``: ``os.replace`` — readers see the previous file or the new one, never a mixture;
* ``overwrite=False``: ``os.link`` then ``unlink`` of the partial name — the link fails if a file appeared
  at the final name meanwhile, so nothing is ever replaced silently (:class:`~tfvsdk.errors.OutputError`).

The folder is fsynced after publishing. If anything fails, or the process is interrupted (an exception,
``KeyboardInterrupt``; ``tfv`` turns SIGTERM and SIGHUP into one), the partial file is deleted and the final
name is untouched. An interrupt can land between a partial file's creation and the moment its writer holds
it; every partial file is therefore registered before it is created, and :func:`discard_partials` (run at
exit, and by ``tfv`` when interrupted) deletes those this process has neither published nor discarded. A
process killed outright (SIGKILL, power loss) can leave a partial file; its name says which process wrote
it, and the next :func:`tfvsdk.io.check_output` or :class:`AtomicFile` in that folder
(:func:`clean_leftovers_once`) deletes the partial files of processes that no longer run (logging each one).

Example:
    >>> from tfvsdk.publish import AtomicFile, write_bytes
    >>> write_bytes("report.json", b"{}")  # doctest: +SKIP
    >>> with AtomicFile("weights.safetensors") as pending:  # doctest: +SKIP
    ...     safetensors.torch.save_file(tensors, pending.path)
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
import re
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import OutputError

logger = logging.getLogger(__name__)

PARTIAL_MARK = ".tfv-partial"
_PARTIAL_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]+" + re.escape(PARTIAL_MARK) + r"(\.[^./]*)?$")
_cleaned_folders: set[Path] = set()
_live: dict[Path, int] = {}
"""Partial files registered by :class:`AtomicFile` and not yet published or discarded → the writing pid."""


def partial_path(final: str | os.PathLike) -> Path:
    """A fresh partial name beside ``final`` (not created): ``.<name>.<pid>-<token>.tfv-partial<suffix>``."""
    final = Path(final)
    return final.with_name(f".{final.name}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL_MARK}{final.suffix}")


def leftover_owner(path: str | os.PathLike) -> int | None:
    """The process id in a partial file's name, or None when ``path`` is not a partial file."""
    match = _PARTIAL_NAME.match(Path(path).name)
    return int(match["pid"]) if match else None


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leftovers(folder: str | os.PathLike) -> list[Path]:
    """Partial files in ``folder`` whose writing process no longer runs (left by a killed run)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        pid = leftover_owner(entry)
        if pid is not None and not _process_alive(pid) and entry.is_file():
            found.append(entry)
    return sorted(found)


def clean_leftovers(folder: str | os.PathLike) -> list[Path]:
    """Delete (and log) the :func:`leftovers` of ``folder``; returns the deleted paths."""
    removed = []
    for path in leftovers(folder):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
            logger.warning("removed %s, left by an interrupted run (process %d)", path, leftover_owner(path))
    return removed


def clean_leftovers_once(folder: str | os.PathLike) -> list[Path]:
    """:func:`clean_leftovers` the first time a process asks for ``folder`` (later calls do nothing): what
    :class:`AtomicFile` does, and what :func:`tfvsdk.io.check_output` does before any work so that the
    warnings come before progress bars."""
    key = Path(folder).resolve()
    if key in _cleaned_folders:
        return []
    removed = clean_leftovers(folder)
    _cleaned_folders.add(key)
    return removed


def discard_partials() -> list[Path]:
    """Delete this process's partial files that were neither published nor discarded (their writer was
    interrupted before it held them); returns those deleted. Registered with :mod:`atexit`; a forked child
    leaves its parent's files alone."""
    pid = os.getpid()
    deleted = []
    for path, owner in list(_live.items()):
        if owner != pid:
            continue
        _live.pop(path, None)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            deleted.append(path)
    return deleted


atexit.register(discard_partials)

DEFERRED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP that arrive while the block runs are handed to their handlers when it ends,
    so a handler that raises (``KeyboardInterrupt``, ``tfv``'s interruption) cannot split a step such as
    "start a subprocess and keep its handle". Python runs signal handlers in the main thread whichever thread
    the signal reached, so the handlers are swapped there for one that records the signal; elsewhere (another
    thread) this does nothing. Ignored signals stay ignored; a signal whose handler is the default action is
    raised again after the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[tuple[int, object]] = []
    previous = {}
    for sig in DEFERRED_SIGNALS:
        handler = signal.getsignal(sig)
        if handler is signal.SIG_IGN or handler is None:
            continue
        previous[sig] = signal.signal(sig, lambda signum, frame: pending.append((signum, frame)))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum, frame in pending:
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)
            else:
                signal.raise_signal(signum)


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _create_empty(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync_path(folder)


def _publish(tmp: Path, final: Path, overwrite: bool) -> None:
    """Move ``tmp`` to ``final``: replace when ``overwrite``, else link-then-unlink (fails if ``final`` exists)."""
    if overwrite:
        os.replace(tmp, final)
        return
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise OutputError(f"{final}: a file appeared at the output path during the run; it was left as it "
                          "is (pass overwrite=True / --overwrite to replace it)") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if final.exists():  # no hard links on this file system: the race window is between this check and the rename
            raise OutputError(f"{final}: a file appeared at the output path during the run; it was left as it is") from None
        os.replace(tmp, final)
        return
    tmp.unlink()


class AtomicFile:
    """A file being written under a partial name, published at :meth:`commit`.

    Args:
        path: the final file. Its folder must exist.
        overwrite: replace a file at ``path``; when False, :meth:`commit` fails if one exists (even one
            created after this object).
        verify: called with the partial file after it is fsynced and before it is published; raises
            :class:`~tfvsdk.errors.OutputError` (or any exception) to refuse it.

    Attributes:
        final: the final path.
        path: the partial file to write to (created empty, mode ``0o666 & ~umask``).

    Raises:
        OutputError: the folder is missing or not writable.
    """

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = True, verify: Callable[[Path], None] | None = None) -> None:
        self.final = Path(path)
        self.overwrite = overwrite
        self.verify = verify
        folder = self.final.parent
        clean_leftovers_once(folder)
        self.path = partial_path(self.final)
        _live[self.path] = os.getpid()
        try:
            _create_empty(self.path)
        except OSError as exc:
            _live.pop(self.path, None)
            raise OutputError(f"{self.final}: cannot create a file in {folder} ({exc.strerror or exc})") from exc
        self._open = True

    def commit(self) -> Path:
        """fsync, verify and publish the partial file; returns :attr:`final`.

        Raises:
            OutputError: writing to disk failed (e.g. the disk is full), ``verify`` refused the file, or
                (without ``overwrite``) a file exists at the final path. The partial file is deleted and the
                final path is untouched.
        """
        if not self._open:
            raise OutputError(f"{self.final}: already committed or discarded")
        try:
            _fsync_path(self.path)
            if self.verify is not None:
                self.verify(self.path)
            os.chmod(self.path, 0o666 & ~_umask())
            _publish(self.path, self.final, self.overwrite)
        except OutputError:
            self.discard()
            raise
        except OSError as exc:
            self.discard()
            raise OutputError(f"{self.final}: could not be written ({exc.strerror or exc}); nothing was published") from exc
        except BaseException:
            self.discard()
            raise
        self._open = False
        _live.pop(self.path, None)
        _fsync_folder(self.final.parent)
        return self.final

    def discard(self) -> None:
        """Delete the partial file; the final path is left as it was."""
        self._open = False
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        _live.pop(self.path, None)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def move_into_place(source: str | os.PathLike, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Publish ``source``, a complete file written in ``path``'s folder under a name of the caller's (e.g. a
    resumable download), as ``path``: fsync, mode ``0o666 & ~umask``, the same atomic step as
    :meth:`AtomicFile.commit`, fsync of the folder.

    Raises:
        OutputError: the file could not be published (``source`` is left in place for the caller).
    """
    source, final = Path(source), Path(path)
    try:
        _fsync_path(source)
        os.chmod(source, 0o666 & ~_umask())
        _publish(source, final, overwrite)
    except OSError as exc:
        raise OutputError(f"{final}: could not be written ({exc.strerror or exc}); nothing was published") from exc
    _fsync_folder(final.parent)
    return final


def write_file(
    path: str | os.PathLike,
    write: Callable[[Path], object],
    *,
    overwrite: bool = True,
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Publish the file that ``write(partial_path)`` writes, atomically (see the module docstring).

    Args:
        path: the final file (its folder must exist).
        write: writes the whole file to the path it is given (e.g. ``lambda p: torch.save(state, p)``).
        overwrite: replace an existing ``path``.
        verify: optional check of the written file before publishing.

    Raises:
        OutputError: the file could not be written, verified or published; ``path`` is untouched.
    """
    with AtomicFile(path, overwrite=overwrite, verify=verify) as pending:
        try:
            write(pending.path)
        except OSError as exc:
            raise OutputError(f"{pending.final}: could not be written ({exc.strerror or exc}); nothing was published") from exc
    return pending.final


def write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> Path:
    """Publish ``data`` as the file ``path``, atomically (see :func:`write_file`)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    return write_file(path, write, overwrite=overwrite)


def link_file(existing: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Publish a second name ``path`` for the published file ``existing`` (a hard link; a copy where the file
    system has none), replacing ``path`` atomically."""
    existing, final = Path(existing), Path(path)
    tmp = partial_path(final)
    try:
        os.link(existing, tmp)
    except OSError:
        return write_bytes(final, existing.read_bytes())
    try:
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_folder(final.parent)
    return final
