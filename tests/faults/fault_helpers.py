"""Fault injection for tests/faults: the writer stages and a monkeypatch that fails one of them."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tfvsdk import io, publish

STAGES = ("create", "write", "sync", "verify", "publish")
"""Where a write can fail: creating the partial file, writing it (the encoder or serialiser), flushing it to
disk, checking it (videos: the frame count read back), moving it to the output name."""


def disk_full(*_: object, **__: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def inject(monkeypatch: pytest.MonkeyPatch, stage: str, suffix: str) -> None:
    """Make ``stage`` fail for every output whose name ends in ``suffix`` (others are written normally)."""

    def only(real, path_of):
        def patched(*args, **kwargs):
            if str(path_of(*args)).endswith(suffix):
                disk_full()
            return real(*args, **kwargs)

        return patched

    if stage == "create":
        monkeypatch.setattr(publish, "_create_empty", only(publish._create_empty, lambda p: p))
    elif stage == "sync":
        monkeypatch.setattr(publish, "_fsync_path", only(publish._fsync_path, lambda p: p))
    elif stage == "publish":
        monkeypatch.setattr(publish, "_publish", only(publish._publish, lambda tmp, final, overwrite: final))
    elif stage == "verify":
        real = io.read_container
        monkeypatch.setattr(io, "read_container", lambda p: io.ContainerInfo(real(p).streams, real(p).video_frames - 1))
    elif stage == "write":
        if suffix == ".mp4":  # the encoder stops: a full disk, as ffmpeg reports it
            monkeypatch.setattr(io.VideoWriter, "_command", lambda self, h, w, tmp: [
                "sh", "-c", f"head -c 100 > '{tmp}'; echo 'Error writing trailer: No space left on device' >&2; exit 1"
            ])
        else:  # the serialiser (torch.save, safetensors, PNG/npz encoders) raises
            real_write = publish.write_file

            def write_file(path, write, **kwargs):
                if str(path).endswith(suffix):
                    def half_then_full(tmp: Path) -> None:
                        write(tmp)
                        with open(tmp, "r+b") as f:
                            f.truncate(max(1, os.path.getsize(tmp) // 2))
                        disk_full()

                    return real_write(path, half_then_full, **kwargs)
                return real_write(path, write, **kwargs)

            monkeypatch.setattr(publish, "write_file", write_file)
    else:
        raise ValueError(stage)


def partial_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` whose name marks it as a partial write."""
    return [p for p in Path(folder).rglob("*") if publish.PARTIAL_MARK in p.name]
