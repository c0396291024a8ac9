"""``tfv swap`` with the writer failing at each stage: a non-zero exit, one error line, no output (or the
previous output intact) and no partial file."""

from __future__ import annotations

import pytest

from tfvsdk.cli import main

from fault_helpers import STAGES, inject, partial_files


def swap(sources, out, *extra):
    args = ["swap", "--identity", str(sources / "alice.mp4"), "--target", str(sources / "bob.mp4"), "-o", str(out),
            "--landmarks", f"identity={sources / 'alice.npy'}", "--landmarks", f"target={sources / 'bob.npy'}", *extra]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code


@pytest.mark.parametrize("stage", STAGES)
def test_a_failing_writer_leaves_no_output(sources, tmp_path, monkeypatch, capsys, stage):
    inject(monkeypatch, stage, ".mp4")
    out = tmp_path / "out.mp4"
    assert swap(sources, out) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("Error: ") and "out.mp4" in error[-1] and "Traceback" not in "\n".join(error)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("stage", STAGES)
def test_a_failing_writer_keeps_the_previous_output_with_overwrite(sources, tmp_path, monkeypatch, capsys, stage):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the previous good video")
    inject(monkeypatch, stage, ".mp4")
    assert swap(sources, out, "--overwrite") == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("Error: ")
    assert out.read_bytes() == b"the previous good video"
    assert partial_files(tmp_path) == []
