"""docs/images/several_faces.png: ``python docs/images/make_faces_figure.py`` (needs the ``faces`` extra).

Top: a still with two synthetic heads and the astronaut (NASA, public domain): the input, ``--face 2`` and
``--all-faces`` (identity: a synthetic head). Bottom: the crossing clip of tests/editing/test_several_faces.py (head 0 walks behind
head 1 and leaves), swapped with ``--face 0`` (identity: the astronaut), every third frame, over the pixels
that changed (white).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from tfvsdk import io
from tfvsdk.editor import Editor

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "editing"))

from scenes import ASTRONAUT, astronaut, heads, write_clip  # noqa: E402

SIZE = 160


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        face, _ = heads(SIZE, [[(0.0, 0.0)]], zoom=0.6, seed=5)
        identity = io.write_image(tmp / "identity.png", io.to_uint8(face)[0])
        frames, _ = heads(SIZE, [[(-40.0, 0.0)], [(40.0, 0.0)]])
        still = io.write_image(tmp / "still.png", io.to_uint8(torch.cat([frames[0], astronaut(SIZE)], 2)[None])[0])
        editor = Editor("swap")
        top = [io.read_rgb(still)]
        for name, choice in (("face2", {"face": 2}), ("all", {"all_faces": True})):
            editor.run({"identity": identity, "target": still}, tmp / f"{name}.png", **choice)
            top.append(io.read_rgb(tmp / f"{name}.png"))

        count = 16
        clip, _ = heads(SIZE, [[(-50.0 + 13 * t, 5.0) for t in range(count)], [(45.0 - 3 * t, -5.0) for t in range(count)]])
        target = write_clip(tmp / "crossing.mp4", clip)
        written: list[np.ndarray] = []
        write = io.VideoWriter.write
        io.VideoWriter.write = lambda self, frame: (written.append(frame.copy()), write(self, frame))[1]
        try:
            Editor("swap").run({"identity": ASTRONAUT, "target": target}, tmp / "out.mp4", face=0)
        finally:
            io.VideoWriter.write = write
        decoded = list(io.iter_frames(target))
        shown = range(0, count, 3)
        outputs = np.concatenate([written[t] for t in shown], 1)
        changed = np.concatenate([np.repeat((written[t] != decoded[t]).any(-1, keepdims=True), 3, -1) * 255 for t in shown], 1)
    width = outputs.shape[1]
    first = np.concatenate(top, 1)
    first = np.pad(first, ((0, 0), (0, width - first.shape[1]), (0, 0)), constant_values=255) if first.shape[1] < width else first[:, :width]
    sheet = np.concatenate([first, outputs, changed.astype(np.uint8)], 0)
    io.write_image(HERE / "several_faces.png", sheet)


if __name__ == "__main__":
    main()
