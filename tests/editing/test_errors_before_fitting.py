"""Everything that can be checked is checked before the first frame is fitted, and tfv says it in one line;
a run stopped by SIGTERM or a racing file keeps the output path as it was."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tfvsdk.cli import main
from tfvsdk.editor import Editor


@pytest.fixture
def no_fitting(monkeypatch):
    """Fail the test if any frame gets fitted."""
    from tfvsdk_3ddfa.reconstructor import TDDFAReconstructor as reconstructor

    def refuse(*args, **kwargs):
        raise AssertionError("a frame was fitted before the error")

    monkeypatch.setattr(reconstructor, "fit", refuse)
    monkeypatch.setattr(reconstructor, "fit_video", refuse)


@pytest.fixture
def landmark_files(clips, tmp_path):
    paths = {}
    for name in ("alice", "bob"):
        paths[name] = tmp_path / f"{name}.npy"
        np.save(paths[name], clips[name].landmarks)
    return paths


def tfv_swap(clips, landmark_files, out, *extra, target=None):
    args = ["swap", "--identity", str(clips["alice"].path), "--target", str(target or clips["bob"].path), "-o", str(out),
            "--landmarks", f"identity={landmark_files['alice']}", "--landmarks", f"target={landmark_files['bob']}", *extra]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code


@pytest.mark.parametrize(("name", "extra", "message"), [
    ("out", (), r"out: unsupported video format; expected a name ending in \.m4v, \.mkv, \.mov, \.mp4"),
    ("out.webm", (), r"out\.webm: unsupported video format"),
    ("x.png", (), r"x\.png: the output of a video edit must be a video"),
    ("out.mp4", ("--smoothing", "-1"), r"Invalid value for '--smoothing': -1\.0 is not in the range x>=0"),
    ("out.mp4", ("--device", "foo"), r"Invalid value for '--device': 'foo' is not a torch device"),
    ("out.mp4", ("--device", "cuda"), r"Invalid value for '--device': device 'cuda' is not available here"),
])
def test_bad_options_fail_before_fitting(clips, landmark_files, tmp_path, capsys, no_fitting, name, extra, message):
    code = tfv_swap(clips, landmark_files, tmp_path / name, *extra)
    error = capsys.readouterr().err.strip().splitlines()
    assert code in (1, 2) and error[-1].startswith("Error: ") and "Traceback" not in "\n".join(error)
    assert re.search(message, error[-1]), error[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice.npy", "bob.npy"]


def test_a_missing_target_or_a_read_only_folder_fail_before_fitting(clips, landmark_files, tmp_path, capsys, no_fitting, monkeypatch):
    assert tfv_swap(clips, landmark_files, tmp_path / "out.mp4", target=tmp_path / "nobody.mp4") == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"Error: {tmp_path / 'nobody.mp4'}: file not found"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):  # root: permissions do not stop it, so the folder answers as a user's would
            from tfvsdk import io

            access = io.os.access
            monkeypatch.setattr(io.os, "access", lambda path, mode: False if Path(path) == locked else access(path, mode))
        assert tfv_swap(clips, landmark_files, locked / "out.mp4") == 1
        assert capsys.readouterr().err.strip().endswith("locked: output folder is not writable")
    finally:
        locked.chmod(0o755)


def test_a_read_only_folder_is_refused_by_check_output(tmp_path, monkeypatch):
    from tfvsdk import InputError, io

    monkeypatch.setattr(io.os, "access", lambda path, mode: False)
    with pytest.raises(InputError, match="output folder is not writable"):
        io.check_output(tmp_path / "out.mp4", kind="video")


def test_a_file_created_at_the_output_during_the_run_is_kept(clips, tmp_path, monkeypatch):
    out = tmp_path / "out.mp4"
    edit_chunk = Editor._edit_chunk

    def meanwhile(self, *args, **kwargs):
        if not out.exists():
            out.write_bytes(b"written by someone else meanwhile")
        return edit_chunk(self, *args, **kwargs)

    monkeypatch.setattr(Editor, "_edit_chunk", meanwhile)
    from tfvsdk import OutputError

    with pytest.raises(OutputError, match="appeared at the output path"):
        Editor("swap").run({"identity": clips["alice"].path, "target": clips["bob"].path}, out,
                           landmarks={"identity": clips["alice"].landmarks, "target": clips["bob"].landmarks})
    assert out.read_bytes() == b"written by someone else meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_while_writing_leaves_nothing(clips, landmark_files, tmp_path, sig):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    script = (
        "import time, sys\n"
        "from tfvsdk import io\n"
        "write = io.VideoWriter.write\n"
        "def slow(self, frame):\n"
        "    write(self, frame)\n"
        "    time.sleep(0.5)\n"
        "io.VideoWriter.write = slow\n"
        "from tfvsdk.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    args = ["swap", "--identity", str(clips["alice"].path), "--target", str(clips["bob"].path), "-o", str(out_dir / "out.mp4"),
            "--landmarks", f"identity={landmark_files['alice']}", "--landmarks", f"target={landmark_files['bob']}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", script, *args], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not any(out_dir.iterdir()) and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert any(out_dir.iterdir()), "the partial video never appeared"
    child.send_signal(sig)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 128 + sig
    assert err.strip().splitlines()[-1] == f"Error: interrupted by {signal.Signals(sig).name}; no partial output was kept"
    assert list(out_dir.iterdir()) == []
