"""``tfv models list|fetch|add|verify|remove|path`` against the local server's fixture artefacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfvsdk.cli import main


def tfv(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``tfv ARGS``; returns (exit status, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_shows_licences_and_what_is_cached(catalogue, capsys):
    code, out, _ = tfv(capsys, "models", "list")
    assert code == 0
    assert "[ ] demo" in out and "MIT, commercial use allowed" in out
    assert "restricted" in out and "non-commercial, needs --accept-licence" in out
    assert "3ddfa-v2" in out and "bfm" in out
    tfv(capsys, "models", "fetch", "demo")
    rows = {r["name"]: r for r in json.loads(tfv(capsys, "models", "list", "--json")[1])}
    assert rows["demo"]["present"] and not rows["restricted"]["present"]
    assert rows["bfm"]["commercial_use"] is False and rows["bfm"]["needs_acceptance"] is True


def test_fetch_refuses_a_restricted_licence_without_the_flag(catalogue, capsys):
    code, _, err = tfv(capsys, "models", "fetch", "restricted")
    assert code == 1 and "--accept-licence" in err
    code, out, _ = tfv(capsys, "models", "fetch", "restricted", "--accept-licence")
    assert code == 0 and "1 file verified" in out
    assert "accepted" in tfv(capsys, "models", "list")[1]


def test_add_path_verify_remove(catalogue, capsys, tmp_path):
    known, served = catalogue
    for name in ("weights.bin", "extra.bin"):
        (tmp_path / name).write_bytes(served.files[f"/{name}"])
    code, out, _ = tfv(capsys, "models", "add", "demo", str(tmp_path / "weights.bin"))
    assert code == 0 and "still missing ['extra.bin']" in out
    code, _, err = tfv(capsys, "models", "path", "demo")
    assert code == 1 and "extra.bin is not in the cache" in err
    tfv(capsys, "models", "add", "demo", str(tmp_path / "extra.bin"))
    code, out, _ = tfv(capsys, "models", "path", "demo", "weights.bin")
    assert code == 0 and out.strip().endswith("models/demo/weights.bin")
    code, out, _ = tfv(capsys, "models", "verify")
    assert code == 0 and out.count(" OK sha256:") == 2
    code, out, _ = tfv(capsys, "models", "remove", "demo")
    assert code == 0 and "removed 2 files" in out
    assert served.requests == []


def test_verify_checks_every_artefact_after_one_fails(catalogue, capsys):
    tfv(capsys, "models", "fetch", "demo")
    tfv(capsys, "models", "fetch", "restricted", "--accept-licence")
    weights = tfv(capsys, "models", "path", "demo", "weights.bin")[1].strip()
    Path(weights).write_bytes(b"corrupted")

    code, out, err = tfv(capsys, "models", "verify", "demo", "restricted")

    assert code == 1 and "demo: FAILED" in err and "failed verification: demo" in err
    assert "restricted:" in out and " OK sha256:" in out


@pytest.mark.parametrize("args", [("models", "fetch", "nope"), ("models", "path", "nope")])
def test_unknown_artefact_is_a_one_line_error(catalogue, capsys, args):
    code, _, err = tfv(capsys, *args)
    assert code == 1 and "unknown model artefact 'nope'" in err
