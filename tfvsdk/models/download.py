"""HTTP(S) downloads with the standard library: resumed with a Range request, shown with a progress bar.

A download appends to a ``.part`` file. When one is already there, the request asks for the rest
(``Range: bytes=N-``); a ``206 Partial Content`` answer whose ``Content-Range`` starts at N is appended, a
``200`` answer (a server that ignores ranges) restarts the file, a ``416`` (nothing left to send) restarts
it once from zero. A connection that ends early leaves the ``.part`` file for the next attempt.
"""

from __future__ import annotations

import http.client
import logging
import re
import urllib.error
import urllib.request
from pathlib import Path

from .. import __version__
from ..errors import ModelFileError

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class Interrupted(ModelFileError):
    """The connection ended before the whole file arrived; the bytes received so far are kept."""


def download(url: str, partial: Path, *, size: int | None = None, progress: bool = False, label: str = "", timeout: float = 60.0) -> None:
    """Download ``url`` into ``partial``, continuing what is already there.

    Args:
        url: http(s) address.
        partial: the file to append to (created when missing).
        size: the expected total size in bytes, when known (a longer ``partial`` is restarted).
        progress: show a tqdm progress bar on stderr.
        label: the progress bar's label.
        timeout: seconds to wait for the server at connect and between reads.

    Raises:
        Interrupted: the connection broke off (run again to resume).
        ModelFileError: HTTP error status, unreachable server, or an answer that does not fit the request.
    """
    have = partial.stat().st_size if partial.exists() else 0
    if size is not None and have > size:
        partial.unlink()
        have = 0
    if size is not None and have == size:
        return
    try:
        response = _open(url, have, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            logger.info("%s: the server has nothing after byte %d; restarting the download", url, have)
            partial.unlink()
            return download(url, partial, size=size, progress=progress, label=label, timeout=timeout)
        raise ModelFileError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ModelFileError(f"{url}: cannot download ({getattr(exc, 'reason', exc)})") from None
    with response:
        start = _start_of(response, have, url)
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else size
        with open(partial, "ab" if start else "wb") as out:
            if start == 0:
                out.truncate()
            _copy(response, out, start, total, progress, label or partial.name, url)


def _open(url: str, have: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": f"tfvsdk/{__version__}", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _start_of(response: http.client.HTTPResponse, have: int, url: str) -> int:
    """Byte offset at which the response's body starts in the file."""
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != have:
            raise ModelFileError(f"{url}: asked for bytes from {have}, got Content-Range {response.headers.get('Content-Range')!r}")
        return have
    if response.status == 200:
        if have:
            logger.info("%s: the server ignored the range request; downloading from the start", url)
        return 0
    raise ModelFileError(f"{url}: unexpected HTTP status {response.status}")


def _copy(response: http.client.HTTPResponse, out, start: int, total: int | None, progress: bool, label: str, url: str) -> None:
    from tqdm.auto import tqdm

    written = start
    with tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=label, disable=not progress, leave=False) as bar:
        while True:
            try:
                block = response.read(CHUNK)
            except (http.client.IncompleteRead, OSError) as exc:
                out.write(getattr(exc, "partial", b""))
                out.flush()
                raise Interrupted(f"{url}: the download broke off after {out.tell()} bytes ({exc!r}); run the fetch again to resume") from None
            if not block:
                break
            out.write(block)
            written += len(block)
            bar.update(len(block))
    out.flush()
    if total is not None and written < total:
        raise Interrupted(f"{url}: the download broke off after {written} of {total} bytes; run the fetch again to resume")
