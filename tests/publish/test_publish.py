import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from tfvsdk import OutputError
from tfvsdk import publish


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_written_file_appears_whole_with_the_umask_mode(tmp_path, umask_022):
    out = publish.write_bytes(tmp_path / "report.json", b'{"ok": true}')
    assert out.read_bytes() == b'{"ok": true}'
    assert mode(out) == 0o644
    assert names(tmp_path) == ["report.json"]


def test_the_umask_is_honoured_when_replacing_a_file(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"old")
    os.chmod(tmp_path / "a.bin", 0o600)
    old = os.umask(0o027)
    try:
        publish.write_bytes(tmp_path / "a.bin", b"new")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").read_bytes() == b"new"
    assert mode(tmp_path / "a.bin") == 0o640


def test_the_partial_name_is_hidden_and_names_its_writer(tmp_path):
    partial = publish.partial_path(tmp_path / "out.mp4")
    assert partial.name.startswith(".out.mp4.") and partial.suffix == ".mp4"
    assert publish.leftover_owner(partial) == os.getpid()
    assert publish.leftover_owner(tmp_path / "out.mp4") is None


def test_without_overwrite_a_file_that_appeared_meanwhile_is_kept(tmp_path):
    with pytest.raises(OutputError, match="appeared at the output path"):
        with publish.AtomicFile(tmp_path / "out.bin", overwrite=False) as pending:
            pending.path.write_bytes(b"ours")
            (tmp_path / "out.bin").write_bytes(b"theirs")
    assert (tmp_path / "out.bin").read_bytes() == b"theirs"
    assert names(tmp_path) == ["out.bin"]


def test_a_failing_writer_leaves_nothing_and_the_old_file_intact(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"previous")

    def write(path):
        path.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="No space left on device"):
        publish.write_file(tmp_path / "w.pt", write)
    assert (tmp_path / "w.pt").read_bytes() == b"previous"
    assert names(tmp_path) == ["w.pt"]


def test_a_refused_verification_publishes_nothing(tmp_path):
    def verify(path):
        raise OutputError(f"{path}: wrong frame count")

    with pytest.raises(OutputError, match="wrong frame count"):
        publish.write_file(tmp_path / "v.mp4", lambda p: p.write_bytes(b"x"), verify=verify)
    assert names(tmp_path) == []


def test_an_interrupt_while_writing_removes_the_partial_file(tmp_path):
    def write(path):
        path.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        publish.write_file(tmp_path / "i.bin", write)
    assert names(tmp_path) == []


def test_a_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="cannot create a file"):
        publish.write_bytes(tmp_path / "nope" / "x.bin", b"")


def test_leftovers_of_a_killed_process_are_removed_by_the_next_writer(tmp_path):
    child = subprocess.run(
        [sys.executable, "-c", f"from tfvsdk import publish; p = publish.AtomicFile({str(tmp_path / 'out.mp4')!r}); "
         "p.path.write_bytes(b'half'); import os; os.kill(os.getpid(), 9)"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert child.returncode == -9
    (leftover,) = tmp_path.iterdir()
    assert publish.leftovers(tmp_path) == [leftover]
    (tmp_path / "mine").mkdir()
    ours = publish.AtomicFile(tmp_path / "mine" / "x")
    assert publish.leftovers(tmp_path) == [leftover]  # only the folder written into is cleaned
    ours.discard()
    publish.write_bytes(tmp_path / "other.bin", b"1")
    assert names(tmp_path) == ["mine", "other.bin"]


def test_a_second_name_is_a_link_to_the_same_file(tmp_path):
    publish.write_bytes(tmp_path / "last.pt", b"state")
    publish.link_file(tmp_path / "last.pt", tmp_path / "step-1.pt")
    assert (tmp_path / "step-1.pt").read_bytes() == b"state"
    assert os.stat(tmp_path / "step-1.pt").st_ino == os.stat(tmp_path / "last.pt").st_ino
    assert names(tmp_path) == ["last.pt", "step-1.pt"]


def dead_pid():
    """A process id that no process has now (a child that has exited and been reaped)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(child.stdout)


def test_checking_an_output_cleans_the_folder_before_any_work_once(tmp_path, caplog):
    from tfvsdk import io

    leftover = tmp_path / f".out.mp4.{dead_pid()}-0badc0de{publish.PARTIAL_MARK}.mp4"
    leftover.write_bytes(b"half a video")
    with caplog.at_level("WARNING", logger="tfvsdk.publish"):
        io.check_output(tmp_path / "out.mp4", kind="video")
    assert names(tmp_path) == []
    assert [r.getMessage() for r in caplog.records] == [f"removed {leftover}, left by an interrupted run (process {leftover_pid(leftover)})"]

    leftover.write_bytes(b"another, after the folder was cleaned")
    assert publish.clean_leftovers_once(tmp_path) == []  # once per process and folder
    assert publish.clean_leftovers(tmp_path) == [leftover]


def leftover_pid(path):
    return publish.leftover_owner(path)


def test_a_partial_file_its_writer_never_held_is_deleted_at_exit(tmp_path):
    held = publish.AtomicFile(tmp_path / "held.bin")
    held.commit()
    lost = publish.AtomicFile(tmp_path / "lost.bin")  # as if an interrupt came before the caller kept it
    assert lost.path.exists()
    assert lost.path in publish.discard_partials()
    assert names(tmp_path) == ["held.bin"]


def test_a_forked_child_leaves_its_parents_partial_files_alone(tmp_path, monkeypatch):
    pending = publish.AtomicFile(tmp_path / "out.bin")
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)
    assert publish.discard_partials() == [] and pending.path.exists()
    monkeypatch.undo()
    pending.discard()
    assert publish.discard_partials() == []


def test_signals_sent_inside_a_deferred_block_arrive_after_it():
    seen = []

    def mine(signum, frame):
        seen.append(signum)

    previous = signal.signal(signal.SIGTERM, mine)
    busy = threading.Event()
    other = threading.Thread(target=busy.wait)  # a second thread may be the one the signal reaches
    other.start()
    try:
        with publish.signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            inside = list(seen)
        assert inside == [] and seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        busy.set()
        other.join()
        signal.signal(signal.SIGTERM, previous)
