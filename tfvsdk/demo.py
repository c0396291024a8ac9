"""``tfv demo``: the three editing tasks on synthetic clips, with no download.

Three people are synthesised from the built-in model (:class:`~tfvsdk.data.synth.Synthesizer`: textured, lit,
on a background, with head motion and changing expressions) and written as videos, with their 68 landmarks
projected from the true fits plus Gaussian noise (standing in for a detector). Swap, reenact and remix are
run with the default plugins, each twice — with and without coefficient smoothing — and the temporal error
E_tmp (:func:`~tfvsdk.flow.temporal_error`) of every output is measured with the 3-D flow of the *true*
composition (the true identity of the identity source, the true pose and expression of the others). Jitter of
the fitted coefficients then shows up as warping error, which smoothing should lower.

Every output is also scored as a user would score it, with :class:`~tfvsdk.evaluate.Evaluator` (``tfv eval``):
E_tmp with the flow of the output's own refit, E_id against the identity source, E_pose and E_exp against the
pose and expression sources (each under ``"eval"`` in the report; metrics dlib cannot compute on small
frames are null with the reason).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from . import io, publish
from .editor import Editor
from .errors import InputError
from .evaluate import Evaluator
from .metrics import fit_flows, temporal_error
from .plugins import create
from .records import FaceFit

logger = logging.getLogger(__name__)

PEOPLE = ("alice", "bob", "carol")
TASKS: dict[str, dict[str, str]] = {
    "swap": {"identity": "alice", "target": "bob"},
    "reenact": {"source": "alice", "driver": "carol"},
    "remix": {"identity": "alice", "pose": "bob", "expression": "carol"},
}


@attrs.frozen
class DemoClip:
    """A synthetic source video.

    Attributes:
        path: the written video.
        landmarks: (frames, 68, 2) noisy landmarks in pixels (NaN where the model has none).
        truth: the fits the clip was rendered from.
    """

    path: Path
    landmarks: np.ndarray
    truth: FaceFit


def synth_clips(
    out: str | os.PathLike,
    *,
    size: int = 160,
    frames: int = 48,
    fps: float = 24.0,
    noise: float = 1.0,
    seed: int = 0,
) -> dict[str, DemoClip]:
    """Render and write one clip per name of :data:`PEOPLE` (``<out>/<name>.mp4``).

    Args:
        out: the folder (created with its parents if missing).
        size: side of the square frames, pixels.
        frames: frames per clip.
        fps: frame rate of the written videos.
        noise: standard deviation of the landmark noise, pixels per axis.
        seed: seed of the people, their motion and the noise.
    """
    from .data.synth import SynthConfig, Synthesizer

    Path(out).mkdir(parents=True, exist_ok=True)
    synth = Synthesizer(SynthConfig(frames=frames, size=size, seed=seed))
    rng = np.random.default_rng(seed)
    clips = {}
    with torch.no_grad():
        for index, name in enumerate(PEOPLE):
            images, truth = synth.clip(index)
            path = Path(out) / f"{name}.mp4"
            with io.VideoWriter(path, fps) as writer:
                for frame in io.to_uint8(images):
                    writer.write(frame)
            landmarks = truth.landmarks.numpy() + rng.normal(0.0, noise, truth.landmarks.shape)
            clips[name] = DemoClip(path, landmarks.astype(np.float32), truth)
    return clips


EVAL_KEYS = ("e_tmp", "e_id", "e_pose", "e_exp", "faces_found", "unavailable")


def evaluation_sources(roles: dict[str, str], clips: dict[str, DemoClip]) -> dict[str, Path]:
    """The :meth:`~tfvsdk.evaluate.Evaluator.evaluate` sources of a task: its identity source (``identity`` or
    ``source``) and its pose and expression sources (``target``/``driver``, or ``pose`` and ``expression``)."""
    by_role = {role: clips[name].path for role, name in roles.items()}
    sources = {"identity": by_role.get("identity", by_role.get("source")), "target": by_role.get("target", by_role.get("driver")),
               "pose": by_role.get("pose"), "expression": by_role.get("expression")}
    return {role: path for role, path in sources.items() if path is not None}


def _read_video(path: Path) -> torch.Tensor:
    return io.to_tensor(list(io.iter_frames(path)))


def _label(image: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, 8 + 7 * len(text), 14), fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255))
    return np.asarray(picture)


def contact_sheet(rows: list[tuple[str, list[tuple[str, np.ndarray]]]], frame_indices: list[int]) -> np.ndarray:
    """One row per task: its sources then its output, each at ``frame_indices`` side by side.

    Args:
        rows: ``(task, [(label, (T, H, W, 3) uint8 frames), ...])``.
        frame_indices: frames shown of every clip.

    Returns:
        (H_total, W_total, 3) uint8 picture.
    """
    lines = []
    for task, clips in rows:
        cells = [
            _label(frames[min(k, len(frames) - 1)], f"{task}: {label} #{k}" if i == 0 else f"{label} #{k}")
            for k in frame_indices
            for i, (label, frames) in enumerate(clips)
        ]
        lines.append(np.concatenate(cells, axis=1))
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0))) for line in lines]
    return np.concatenate(lines, axis=0)


def demo_outputs(root: Path) -> list[Path]:
    """Every file :func:`run_demo` writes into ``root``."""
    names = [f"sources/{name}.mp4" for name in PEOPLE]
    names += [f"{task}{suffix}.mp4" for task in TASKS for suffix in ("", "_unsmoothed")]
    return [root / name for name in names + ["contact_sheet.png", "report.json"]]


def run_demo(
    out: str | os.PathLike,
    *,
    size: int = 160,
    frames: int = 48,
    fps: float = 24.0,
    noise: float = 1.0,
    smoothing: float = 2.0,
    blender: str = "classical",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
    evaluate: bool = True,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Synthesise the sources, run every task of :data:`TASKS` and write videos, a contact sheet and a report.

    Writes into ``out`` (created if missing; other files in it are left alone): ``sources/<name>.mp4``,
    ``<task>.mp4`` (smoothed), ``<task>_unsmoothed.mp4``, ``contact_sheet.png`` and ``report.json``.

    Args:
        out: output folder.
        size: side of the square frames, pixels.
        frames: frames per clip.
        fps: frame rate.
        noise: landmark noise, pixels per axis.
        smoothing: σ in frames of the coefficient smoothing of the smoothed run.
        blender: blender name.
        seed: seed of the synthetic people.
        overwrite: replace files of those names that ``out`` already holds.
        progress: show progress bars.
        evaluate: score every output with :class:`~tfvsdk.evaluate.Evaluator` too (needs the ``faces`` extra).
        configs: keyword settings of the components by kind (``reconstructor``, ``renderer``, ``blender``),
            as ``tfv demo --opt KIND.KEY=VALUE`` gives them.

    Returns:
        The report (also written as ``report.json``).

    Raises:
        InputError: ``out`` already holds a file the demo writes, and ``overwrite`` is false, or ``smoothing``
            is negative (nothing is written).
        PluginError: an unknown ``blender``, or one that cannot be built (a network blender without weights);
            nothing is written.
    """
    root = Path(out)
    existing = [path for path in demo_outputs(root) if path.exists()]
    if existing and not overwrite:
        names = ", ".join(str(path.relative_to(root)) for path in existing)
        raise InputError(f"{root}: already holds {names}; choose another folder or overwrite (tfv demo --overwrite)")
    settings = {f"{kind}_config": dict(config) for kind, config in (configs or {}).items() if config}

    def editor(task: str, sigma: float) -> Editor:
        # the demo turns its source to the driver's pose on purpose (eq. 3): the reenactment's pose is chosen
        composer = create("composer", task, pose="absolute") if task == "reenact" else task
        return Editor(composer, blender=blender, smoothing=sigma, **settings)

    for task in TASKS:  # the components and σ are checked before any clip is synthesised
        editor(task, smoothing)
    (root / "sources").mkdir(parents=True, exist_ok=True)
    clips = synth_clips(root / "sources", size=size, frames=frames, fps=fps, noise=noise, seed=seed)
    renderer = create("renderer", "raster")
    evaluator = Evaluator() if evaluate else None
    report: dict[str, Any] = {"size": size, "frames": frames, "fps": fps, "landmark_noise_px": noise, "tasks": {}}
    rows = []
    for task, roles in TASKS.items():
        entry: dict[str, Any] = {"sources": roles}
        outputs = {}
        for variant, sigma in (("smoothed", smoothing), ("unsmoothed", 0.0)):
            edit = editor(task, sigma)
            path = root / (f"{task}.mp4" if variant == "smoothed" else f"{task}_unsmoothed.mp4")
            summary = edit.run(
                {role: clips[name].path for role, name in roles.items()},
                path,
                overwrite=True,
                landmarks={role: clips[name].landmarks for role, name in roles.items()},
                progress=progress,
            )
            video = _read_video(path)[..., :size, :size]
            with torch.no_grad():
                truth = edit.composer.compose(edit.composer.prepare({role: clips[name].truth for role, name in roles.items()}))
                flows, visible = fit_flows(truth, edit.model, renderer)
                e_tmp = float(temporal_error(video[: len(flows) + 1], flows[: len(video) - 1], visible[: len(video) - 1]))
            entry[variant] = {"output": path.name, "E_tmp": round(e_tmp, 3), "seconds": round(summary.seconds, 2),
                              "frames_per_second": round(summary.frames / summary.seconds, 2), "faces_missing": len(summary.missing)}
            if evaluator is not None:
                scores = evaluator.evaluate(path, progress=progress, **evaluation_sources(roles, clips)).summary
                entry[variant]["eval"] = {key: scores[key] for key in EVAL_KEYS}
            entry["frames"] = summary.frames
            outputs[variant] = io.to_uint8(video)
            logger.info("%s (%s): %s; E_tmp %.3f", task, variant, summary.line(), e_tmp)
        entry["E_tmp_lower_with_smoothing"] = entry["smoothed"]["E_tmp"] < entry["unsmoothed"]["E_tmp"]
        report["tasks"][task] = entry
        sources = [(f"{role}={name}", io.to_uint8(_read_video(clips[name].path))) for role, name in roles.items()]
        rows.append((task, sources + [("output", outputs["smoothed"])]))
    picks = [0, frames // 2, frames - 1]
    io.write_image(root / "contact_sheet.png", contact_sheet(rows, picks))
    publish.write_bytes(root / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    return report
