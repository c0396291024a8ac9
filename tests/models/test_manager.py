"""The model manager against a local HTTP server: downloads, verification, resumption, offline, licences."""

from __future__ import annotations

import hashlib
import threading

import pytest

import tfvsdk
from tfvsdk import models


def cache_files(home, name):
    """Every file of artefact ``name`` in the cache except its lock and manifest."""
    folder = home / "models" / name
    return sorted(p.name for p in folder.iterdir() if p.name not in (".lock", ".manifest.json")) if folder.exists() else []


def test_fetch_downloads_verifies_and_hands_out_paths(catalogue, home):
    known, served = catalogue
    got = models.fetch("demo")
    assert set(got) == {"weights.bin", "extra.bin"}
    assert got["weights.bin"].read_bytes() == served.files["/weights.bin"]
    assert got["weights.bin"].parent == home / "models" / "demo"
    assert cache_files(home, "demo") == ["extra.bin", "weights.bin"]
    assert models.paths("demo") == got

    served.requests.clear()
    assert models.fetch("demo") == got
    assert served.requests == []


def test_wrong_checksum_is_refused_and_nothing_is_kept(catalogue, home):
    with pytest.raises(tfvsdk.ModelFileError, match="SHA-256 .* expected 0{64}"):
        models.fetch("tampered")
    assert cache_files(home, "tampered") == []
    assert models.find("tampered") is None


def test_interrupted_download_resumes_with_a_range_request(catalogue, home):
    known, served = catalogue
    cut = 1_000_000
    served.cut_after["/weights.bin"] = cut
    with pytest.raises(tfvsdk.ModelFileError, match=f"broke off after {cut} of"):
        models.fetch("demo", retries=0)
    assert (home / "models" / "demo" / ".weights.bin.part").stat().st_size == cut
    assert models.find("demo") is None

    served.requests.clear()
    got = models.fetch("demo", retries=0)
    assert ("/weights.bin", f"bytes={cut}-") in served.requests
    assert got["weights.bin"].read_bytes() == served.files["/weights.bin"]
    assert cache_files(home, "demo") == ["extra.bin", "weights.bin"]


def test_one_fetch_resumes_by_itself_and_restarts_when_the_server_ignores_ranges(catalogue, home):
    known, served = catalogue
    served.cut_after["/weights.bin"] = 500_000
    models.fetch("demo", retries=1)
    assert [r for r in served.requests if r[0] == "/weights.bin"] == [("/weights.bin", None), ("/weights.bin", "bytes=500000-")]

    models.remove("demo")
    served.ranges = False
    served.cut_after["/weights.bin"] = 500_000
    got = models.fetch("demo", retries=1)
    assert got["weights.bin"].read_bytes() == served.files["/weights.bin"]


def test_http_404_names_the_url(catalogue, home):
    with pytest.raises(tfvsdk.ModelFileError, match=r"gone\.bin: HTTP 404"):
        models.fetch("gone")
    assert cache_files(home, "gone") == []


def test_offline_mode_never_touches_the_network(catalogue, home, monkeypatch):
    known, served = catalogue
    monkeypatch.setenv("TFVSDK_OFFLINE", "1")
    with pytest.raises(tfvsdk.ModelFileError, match="TFVSDK_OFFLINE is set.*tfv models add demo"):
        models.fetch("demo")
    assert served.requests == []
    monkeypatch.setenv("TFVSDK_OFFLINE", "0")
    models.fetch("demo")
    monkeypatch.setenv("TFVSDK_OFFLINE", "1")
    served.requests.clear()
    assert set(models.fetch("demo")) == {"weights.bin", "extra.bin"}
    assert served.requests == []


def test_restricted_licence_needs_acceptance_once(catalogue, home):
    known, served = catalogue
    with pytest.raises(tfvsdk.ModelFileError, match="get it with: tfv models fetch restricted --accept-licence$"):
        models.paths("restricted")
    with pytest.raises(tfvsdk.LicenceError, match="Non-commercial research licence.*--accept-licence"):
        models.fetch("restricted")
    assert served.requests == [] and cache_files(home, "restricted") == []
    models.fetch("restricted", accept_licence=True)
    assert models.licence_accepted(known["restricted"])
    models.remove("restricted")
    models.fetch("restricted")
    assert cache_files(home, "restricted") == ["other.bin"]


def test_concurrent_fetches_of_one_artefact_download_it_once(catalogue, home):
    known, served = catalogue
    results, errors = [], []

    def worker():
        try:
            results.append(models.fetch("demo"))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(r == results[0] for r in results) and len(results) == 4
    assert sorted(r[0] for r in served.requests) == ["/extra.bin", "/weights.bin"]
    assert hashlib.sha256(results[0]["weights.bin"].read_bytes()).hexdigest() == known["demo"].file("weights.bin").sha256


def test_add_imports_a_users_file_and_verifies_it_the_same_way(catalogue, home, tmp_path):
    known, served = catalogue
    mine = tmp_path / "weights.bin"
    mine.write_bytes(served.files["/weights.bin"])
    before = mine.stat()
    got = models.add("demo", [mine])
    assert got["weights.bin"].read_bytes() == mine.read_bytes()
    assert mine.stat().st_mtime_ns == before.st_mtime_ns and served.requests == []
    with pytest.raises(tfvsdk.ModelFileError, match="extra.bin is not in the cache.*tfv models fetch demo"):
        models.paths("demo")

    wrong = tmp_path / "extra.bin"
    wrong.write_bytes(b"TFV not the published file")
    with pytest.raises(tfvsdk.ModelFileError, match="bytes, expected 5003"):
        models.add("demo", [wrong])
    assert cache_files(home, "demo") == ["weights.bin"]
    stray = tmp_path / "other.bin"
    stray.write_bytes(b"TFV")
    with pytest.raises(tfvsdk.InputError, match="no file 'other.bin'"):
        models.add("demo", [stray])


def test_unknown_hash_is_recorded_at_the_first_verified_import(catalogue, home, tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"XYZ no magic")
    with pytest.raises(tfvsdk.ModelFileError, match="not a usable model.bin.*no TFV magic"):
        models.add("unpublished", [bad])
    assert cache_files(home, "unpublished") == []
    with pytest.raises(tfvsdk.ModelFileError, match="cannot be downloaded.*tfv models add unpublished"):
        models.fetch("unpublished")

    first = tmp_path / "first.bin"
    first.write_bytes(b"TFV first")
    models.add("unpublished", [first])
    recorded = models.state("unpublished")[0].sha256
    assert recorded == hashlib.sha256(b"TFV first").hexdigest()
    other = tmp_path / "second.bin"
    other.write_bytes(b"TFV second")
    with pytest.raises(tfvsdk.ModelFileError, match=f"expected {recorded}"):
        models.add("unpublished", [other])
    assert models.paths("unpublished")["model.bin"].read_bytes() == b"TFV first"


def test_verify_rehashes_and_deletes_a_corrupted_file(catalogue, home):
    got = models.fetch("demo")
    assert models.verify("demo")["extra.bin"] == models.get("demo").file("extra.bin").sha256
    with open(got["extra.bin"], "r+b") as handle:
        handle.seek(100)
        handle.write(b"!")
    with pytest.raises(tfvsdk.ModelFileError, match="SHA-256"):
        models.paths("demo")
    assert not got["extra.bin"].exists()


def test_remove_deletes_files_and_partial_downloads(catalogue, home):
    known, served = catalogue
    served.cut_after["/weights.bin"] = 1000
    with pytest.raises(tfvsdk.ModelFileError):
        models.fetch("demo", retries=0)
    removed = models.remove("demo")
    assert [p.name for p in removed] == [".weights.bin.part"]
    assert cache_files(home, "demo") == []


def test_unknown_names_and_bad_records_raise_typed_errors(catalogue):
    with pytest.raises(tfvsdk.PluginError, match="unknown model artefact 'dem'; did you mean 'demo'"):
        models.fetch("dem")
    with pytest.raises(tfvsdk.InputError, match="plain file name"):
        models.ArtefactFile("../escape.bin")
    with pytest.raises(tfvsdk.InputError, match="64 lower-case hex"):
        models.ArtefactFile("a.bin", sha256="abc")


def test_home_defaults_to_the_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("TFVSDK_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert models.home() == tmp_path / "tfvsdk"
    monkeypatch.setenv("TFVSDK_HOME", str(tmp_path / "mine"))
    assert models.home() == tmp_path / "mine"


FETCH_IN_A_PROCESS = """
import sys
import tfvsdk, tfvsdk.plugins
from tfvsdk import models

class Plugin:
    @tfvsdk.hookimpl
    def register_model_artefacts(self, register):
        register(models.Artefact("demo", [models.ArtefactFile("weights.bin", sys.argv[1], sys.argv[2], int(sys.argv[3]))],
                                 licence="MIT", licence_url="https://opensource.org/licenses/MIT", commercial_use=True))

tfvsdk.plugins.register(Plugin(), name="fixture")
print(models.fetch("demo")["weights.bin"])
"""


@pytest.mark.slow
def test_concurrent_processes_download_once(server, home):
    """Three processes fetch at once (each imports torch: ~15 s on the shared machine, hence slow)."""
    import os
    import subprocess
    import sys

    base, served = server
    body = b"TFV" + bytes(range(256)) * 20000
    served.files["/weights.bin"] = body
    args = [sys.executable, "-c", FETCH_IN_A_PROCESS, base + "/weights.bin", hashlib.sha256(body).hexdigest(), str(len(body))]
    env = {**os.environ, "TFVSDK_DISABLE_PLUGIN_AUTOLOAD": "1"}
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert len({out.strip() for out, _ in outputs}) == 1
    assert served.requests == [("/weights.bin", None)]
    assert (home / "models" / "demo" / "weights.bin").read_bytes() == body


class RaisingArtefacts:
    @tfvsdk.hookimpl
    def register_model_artefacts(self, register):
        register("not an artefact")


class NoArgument:
    @tfvsdk.hookimpl
    def register_model_artefacts(self):
        raise KeyError("lost")


@pytest.mark.parametrize(("plugin", "message"), [
    (RaisingArtefacts(), r"^plugin 'bad-artefacts' registered a str, not a tfvsdk.models.Artefact"),
    (NoArgument(), r"^plugin 'bad-artefacts' raised in register_model_artefacts: KeyError\('lost'\)"),
])
def test_a_failing_artefact_hook_names_its_plugin(fresh_plugins, plugin, message):
    """The hook goes through the plugin manager's one call path (pluggy, keyword arguments, named errors)."""
    fresh_plugins.register(plugin, name="bad-artefacts")
    with pytest.raises(tfvsdk.PluginError, match=message) as info:
        models.artefacts()
    assert info.value.plugin == "bad-artefacts"


def test_a_duplicate_artefact_is_a_startup_error_naming_both_plugins(fresh_plugins):
    from tfvsdk_models.artefacts import BFM

    class Again:
        @tfvsdk.hookimpl
        def register_model_artefacts(self, register):
            register(BFM)

    fresh_plugins.register(Again(), name="again")
    with pytest.raises(tfvsdk.StartupError, match="model artefact 'bfm' is registered by both plugin 'tfvsdk_models' and plugin 'again'"):
        models.artefacts()
