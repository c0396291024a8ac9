"""A local HTTP server with Range support, a cache folder per test, and artefacts that point at the server."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from pathlib import Path

import attrs
import pytest

import tfvsdk
from tfvsdk.errors import ModelFileError
from tfvsdk.models import Artefact, ArtefactFile


@attrs.define
class Served:
    """What the server holds and how it misbehaves; ``requests`` logs (path, Range header) of each GET."""

    files: dict[str, bytes] = attrs.field(factory=dict)
    cut_after: dict[str, int] = attrs.field(factory=dict)
    ranges: bool = True
    requests: list[tuple[str, str | None]] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)


class Handler(http.server.BaseHTTPRequestHandler):
    served: Served

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        served = self.served
        with served.lock:
            served.requests.append((self.path, self.headers.get("Range")))
        body = served.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
        if match and served.ranges:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        cut = served.cut_after.pop(self.path, None)
        self.wfile.write(body[start:cut] if cut is not None else body[start:])


@pytest.fixture
def server():
    """``(base_url, Served)`` of an HTTP server on 127.0.0.1 running in a thread for the test."""
    served = Served()
    handler = type("BoundHandler", (Handler,), {"served": served})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty model cache (TFVSDK_HOME) with downloads allowed and no proxy."""
    root = tmp_path / "tfvsdk-home"
    monkeypatch.setenv("TFVSDK_HOME", str(root))
    monkeypatch.delenv("TFVSDK_OFFLINE", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    return root


def payload(size: int, seed: int) -> bytes:
    """Deterministic bytes of a fixture file."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def starts_with_magic(path: Path) -> None:
    """The ``check`` of the fixture files: a format test that can fail."""
    if not path.read_bytes().startswith(b"TFV"):
        raise ModelFileError(f"{path}: not a fixture model (no TFV magic)")


@pytest.fixture
def catalogue(server, home, fresh_plugins):
    """Artefacts served by ``server``, registered by a test plugin: ``(artefacts by name, Served)``."""
    base, served = server
    weights = b"TFV" + payload(3 * (1 << 20) + 12345, 1)
    extra = b"TFV" + payload(5000, 2)
    served.files.update({"/weights.bin": weights, "/extra.bin": extra, "/other.bin": b"TFV" + payload(100, 3)})

    def record(name: str, url_path: str, body: bytes, **overrides) -> ArtefactFile:
        fields = {"url": base + url_path, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "check": starts_with_magic}
        fields.update(overrides)
        return ArtefactFile(name, **fields)

    known = {
        "demo": Artefact("demo", [record("weights.bin", "/weights.bin", weights), record("extra.bin", "/extra.bin", extra)],
                         licence="MIT", licence_url="https://opensource.org/licenses/MIT", commercial_use=True, needed_by=("tests",)),
        "tampered": Artefact("tampered", [record("weights.bin", "/weights.bin", weights, sha256="0" * 64, size=None)],
                             licence="MIT", licence_url="https://opensource.org/licenses/MIT", commercial_use=True),
        "gone": Artefact("gone", [record("gone.bin", "/gone.bin", b"", size=None)],
                         licence="MIT", licence_url="https://opensource.org/licenses/MIT", commercial_use=True),
        "restricted": Artefact("restricted", [record("other.bin", "/other.bin", served.files["/other.bin"])],
                               licence="Non-commercial research licence", licence_url="https://example.org/licence",
                               commercial_use=False, accept_licence=True),
        "unpublished": Artefact("unpublished", [ArtefactFile("model.bin", None, None, None, starts_with_magic)],
                                licence="MIT", licence_url="https://opensource.org/licenses/MIT", commercial_use=True),
    }

    class FixturePlugin:
        @tfvsdk.hookimpl
        def register_model_artefacts(self, register):
            for artefact in known.values():
                register(artefact)

    fresh_plugins.register(FixturePlugin(), name="fixture-artefacts")
    return known, served
