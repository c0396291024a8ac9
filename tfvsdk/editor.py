"""The editing pipeline: sources → fits → composition → rendering → blending → output video (§3.2–3.3).

The :class:`Editor` is task-agnostic: the composer (a plugin) names the sources it needs and chooses what each
supplies; the editor only streams frames, fits, renders and blends. Adding a task is adding a composer.

Two passes over the inputs keep memory flat whatever the video length: the first streams each source once
to fit it (only the fits — a few hundred bytes per frame — are kept), the second streams the frames again,
chunk by chunk, to render, blend and write. A video whose face is the texture of another's (a swap's or
remix's identity clip) is streamed once more in between, chunk by chunk, to fuse its texture (one texture
is kept).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
import torch.nn.functional as F

from . import io, plugins
from .checks import check_device
from .errors import InputError, NoFaceError, PluginError
from .faces import FaceChoice, choose_faces, face_regions, reference_descriptor, scan_faces
from .head_motion import carry_back, face_similarity, follow_face
from .interfaces import Blender, IdentityEmbedder, LandmarkDetector, Reconstructor, Renderer, TaskComposer
from .metrics.pose import rotation_angle
from .morphable import vertices
from .records import Composition, Detection, FaceFit
from .smoothing import bridge_gaps, smooth_fit
from .lighting import pixel_normals, relight
from .texture_confidence import FaceTexture, face_texture
from .uncovered import fill_uncovered_features
from .timeline import LENGTH_POLICIES, FrameCursor, output_length, source_index

logger = logging.getLogger(__name__)

MOVED_PIXELS = 0.05
"""A composition that puts a vertex of the appearance frame's own face (its own shape and expression) more
than this many pixels from where the frame's fit has it moves that frame's head with the face
(:func:`~tfvsdk.head_motion.follow_face`); a swap's or remix's target, posed as fitted, is left as it is."""

TURNED_DEGREES = 2.0
"""A composition whose head rotation differs from its appearance frame's own by more than this (degrees)
gets that frame's uncovered features filled (:func:`~tfvsdk.uncovered.fill_uncovered_features`)."""


@attrs.frozen
class EditSummary:
    """What an edit produced.

    Attributes:
        output: the written file.
        frames: number of output frames.
        fps: output frame rate (None for an image output).
        missing: output frame indices copied through unedited: where the frame's own face (the source
            pasted into, e.g. a swap's target) or the face its texture comes from was not found; with a face
            choice, where none of the chosen faces could be edited. A driving source's missed face (a
            reenactment's driver, a remix's expression) does not count: its pose and expression are
            interpolated between the frames where it was found (:func:`~tfvsdk.smoothing.bridge_gaps`).
        seconds: wall-clock time of the whole edit.
    """

    output: Path
    frames: int
    fps: float | None
    missing: tuple[int, ...]
    seconds: float

    def line(self) -> str:
        """A one-line summary for the command line."""
        rate = f" at {self.fps:g} fps" if self.fps else ""
        speed = self.frames / self.seconds if self.seconds > 0 else float("inf")
        missing = f"faces missing in {len(self.missing)} frames" if self.missing else "no face missing"
        return f"{self.output}: {self.frames} frames{rate} in {self.seconds:.1f} s ({speed:.1f} frames/s); {missing}"


@attrs.frozen
class FittedSource:
    """A source after the first pass.

    Attributes:
        role: the composer role it plays.
        info: what :func:`tfvsdk.io.probe` found.
        fit: its fits, one row per frame (smoothed over time for a video).
    """

    role: str
    info: io.SourceInfo
    fit: FaceFit


def _component(kind: str, value: Any, config: Mapping[str, Any] | None) -> Any:
    return plugins.create(kind, value, **(config or {})) if isinstance(value, str) else value


class Editor:
    """Edit videos with any composer (task) and any reconstructor, renderer and blender.

    Args:
        task: a composer name (``swap``, ``reenact``, ``remix`` or a plugin's) or a TaskComposer.
        reconstructor: a reconstructor name or instance.
        renderer: a renderer name or instance.
        blender: a blender name or instance (``classical`` needs no weights).
        reconstructor_config: keyword config for a reconstructor given by name.
        renderer_config: keyword config for a renderer given by name.
        blender_config: keyword config for a blender given by name (e.g. ``{"weights": "bsn.safetensors"}``).
        smoothing: σ in frames of the Gaussian smoothing of each video's coefficients (0 = off).
        length: ``"shortest"`` or ``"loop"`` (see :mod:`tfvsdk.timeline`).
        chunk_size: frames processed together in the second pass.
        texture_size: side of the UV texture unwrapped from the identity frames.
        texture_views: at most this many frames of a video texture source (a swap's or remix's identity clip)
            are fused into its texture, evenly spaced from the first frame the output uses to the last (those
            that show the face); None: every one. On 240-frame identity clips 64 views edited 1.3–1.6×
            faster than all 240 with D(identity) within ±0.008 (docs/editing.md, "Texture").
        relight: de-light the texture (SH light fitted to the texture source) and render it under the
            appearance frame's SH light (:func:`tfvsdk.lighting.relight`). Off by default: on five real-face
            swaps it raised the identity distance D by 0.03–0.22 (docs/editing.md, "Real faces").
        device: torch device for fitting, rendering and blending.
        face_detector: the detector (name or instance) that finds every face when :meth:`run` is given a face
            choice (``dlib``; ``dlib-cnn`` finds turned and small faces, slowly).
        identity_embedder: the embedder (name or instance) that tells faces apart for tracking and
            ``face_ref``.

    Example:
        >>> editor = Editor("swap")  # doctest: +SKIP
        >>> editor.run({"identity": "me.jpg", "target": "clip.mp4"}, "out.mp4").line()  # doctest: +SKIP
    """

    def __init__(
        self,
        task: str | TaskComposer,
        *,
        reconstructor: str | Reconstructor = "landmarks",
        renderer: str | Renderer = "raster",
        blender: str | Blender = "classical",
        reconstructor_config: Mapping[str, Any] | None = None,
        renderer_config: Mapping[str, Any] | None = None,
        blender_config: Mapping[str, Any] | None = None,
        smoothing: float = 2.0,
        length: str = "shortest",
        chunk_size: int = 16,
        texture_size: int = 256,
        texture_views: int | None = 64,
        relight: bool = False,
        device: str | torch.device = "cpu",
        face_detector: str | LandmarkDetector = "dlib",
        identity_embedder: str | IdentityEmbedder = "dlib",
    ) -> None:
        if length not in LENGTH_POLICIES:
            raise InputError(f"length: expected one of {LENGTH_POLICIES}, got {length!r}")
        if not (isinstance(chunk_size, int) and chunk_size >= 1):
            raise InputError(f"chunk_size: expected an integer >= 1, got {chunk_size!r}")
        if not (isinstance(smoothing, (int, float)) and math.isfinite(smoothing) and smoothing >= 0):
            raise InputError(f"smoothing: expected a finite σ >= 0 (frames), got {smoothing!r}")
        if not (isinstance(texture_size, int) and texture_size >= 8):
            raise InputError(f"texture_size: expected an integer >= 8, got {texture_size!r}")
        if texture_views is not None and not (isinstance(texture_views, int) and not isinstance(texture_views, bool) and texture_views >= 1):
            raise InputError(f"texture_views: expected an integer >= 1 or None (every frame), got {texture_views!r}")
        self.device = check_device("device", device)
        self.composer: TaskComposer = _component("composer", task, None)
        self.reconstructor: Reconstructor = _component("reconstructor", reconstructor, reconstructor_config)
        self.renderer: Renderer = _component("renderer", renderer, renderer_config)
        self.blender: Blender = _component("blender", blender, blender_config)
        if isinstance(blender, str) and getattr(self.blender, "trainable", False) and not (blender_config or {}).get("weights"):
            raise InputError(
                f"blender {blender!r} is a network and no trained weights were given, so it would edit with random "
                "weights; pass its trained weights (blender_config={'weights': PATH}; --blender-weights PATH on tfv's "
                "editing commands; tfv demo edits with the classical or another untrained blender only), or pass a "
                "blender instance to edit with it as it is"
            )
        self.smoothing = smoothing
        self.length = length
        self.chunk_size = chunk_size
        self.texture_size = texture_size
        self.texture_views = texture_views
        self.relight = relight
        self.model = self.reconstructor.model.to(self.device)
        self._face_tools = (face_detector, identity_embedder)
        self._textures: dict[tuple[str, str], torch.Tensor] = {}
        self._followed: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self._show_progress = False

    # -- pass 1: fitting -------------------------------------------------------------------------------

    def _chunks(
        self, info: io.SourceInfo, landmarks: np.ndarray | None, bar: Any = None
    ) -> Iterator[tuple[torch.Tensor, Detection | None]]:
        batch: list[np.ndarray] = []
        start = 0

        def emit() -> tuple[torch.Tensor, Detection | None]:
            images = io.to_tensor(batch, self.device)
            detection = None
            if landmarks is not None:
                if start + len(batch) > len(landmarks):
                    raise InputError(f"{info.path}: {len(landmarks)} landmark rows given for a video of more frames")
                rows = torch.as_tensor(landmarks[start : start + len(batch)], dtype=torch.float32, device=self.device)
                detection = Detection(rows, torch.isfinite(rows).all(-1).all(-1), info.size)
            if bar is not None:
                bar.update(len(batch))
            return images, detection

        for frame in io.iter_frames(info.path):
            batch.append(frame)
            if len(batch) == self.chunk_size:
                yield emit()
                start += len(batch)
                batch = []
        if batch:
            yield emit()
            start += len(batch)
        if landmarks is not None and len(landmarks) != start:
            raise InputError(f"{info.path}: {len(landmarks)} landmark rows given for a video of {start} frames")

    def fit_source(
        self, role: str, path: str | os.PathLike | io.SourceInfo, landmarks: np.ndarray | None = None, *, progress: bool = False
    ) -> FittedSource:
        """Fit one source (clip fitting for a video, then smoothing) — the editor's first pass.

        Args:
            role: the composer role the source plays.
            path: the image or video (or its :func:`tfvsdk.io.probe` description).
            landmarks: optional (frames, L, 2) landmarks in pixels (NaN = no face) instead of detection.
            progress: show a progress bar over the decoded frames (stderr).
        """
        info = path if isinstance(path, io.SourceInfo) else io.probe(path)
        _check_landmarks(role, landmarks)
        with plugins.reporting(self.reconstructor, f"fitting {info.path}"):
            if info.is_image:
                (images, detection), = self._chunks(info, landmarks)
                fit = self.reconstructor.fit(images, clip=False, detection=detection)
            else:
                bar = _progress(info.n_frames, f"fitting {info.path.name}") if progress else None
                try:
                    fit = self.reconstructor.fit_video(self._chunks(info, landmarks, bar))
                finally:
                    if bar is not None:
                        bar.close()
        found = fit.found_mask
        if not bool(found.any()):
            where = "" if info.is_image else f" in any of its {fit.batch_size} frames"
            raise NoFaceError(f"{info.path}: no face found{where}")
        if not info.is_image:
            fit = smooth_fit(fit, self.smoothing)
        logger.info("%s: fitted %d frames, face found in %d", info.path, fit.batch_size, int(found.sum()))
        return FittedSource(role, info, fit)

    # -- pass 2: render, blend, write ------------------------------------------------------------------

    def _frames(self, cursor: FrameCursor, indices: np.ndarray, size: tuple[int, int] | None = None) -> torch.Tensor:
        images = io.to_tensor([cursor.get(int(i)) for i in indices], self.device)
        if size is not None and images.shape[-2:] != size:
            images = torch.nn.functional.interpolate(images, size=size, mode="bilinear", align_corners=False)
        return images

    def _texture(
        self, source: FittedSource, fit: FaceFit, frames: Callable[[], torch.Tensor], face: int = 0, *, follow: bool = False,
        used: np.ndarray,
    ) -> torch.Tensor:
        """(B or 1, 4, S, S) UV textures T^i for a chunk's fits of the texture source (eq. 3,
        :func:`~tfvsdk.texture_confidence.face_texture`) and, as a 4th channel, the weight of the texels
        taken from the appearance frame: the unseen mouth interior and the forehead under hair
        (:attr:`~tfvsdk.texture_confidence.FaceTexture.mouth`, ``.forehead``).

        An image is unwrapped once. A video's texture is fused once over the whole clip, before the first
        chunk needs it (:meth:`_fused_texture`), so every output frame shows the same texture, built from the
        best view of each texel, whatever frame it comes from. With ``follow`` (the texture source is the frame
        pasted into, as a reenacted video) each frame's texels seen well in that frame (confidence ≥ 0.5) are
        its own instead, with their own light, and the others keep their most confident view so far.
        Unlike an average over frames, neither blends misregistered views of the same texel into a ghost.

        Args:
            frames: decodes the chunk's frames of the texture source at their own size.
            face: the chosen face's number: a followed source keeps a texture per face; otherwise textures are
                kept by the source's fit, so faces edited with the same identity share its texture.
            used: the texture source's frame indices the whole output uses.
        """
        if follow and not source.info.is_image:
            return self._followed_texture((source.role, face), fit, frames())
        whole = fit[:1] if source.info.is_image else source.fit
        key = (source.role, _fit_key(whole, used))
        if key not in self._textures:
            self._textures[key] = (self._unwrap(frames()[:1], whole, delit=False)[0] if source.info.is_image
                                   else self._fused_texture(source, used))
        texture = self._textures[key]
        return texture if source.info.is_image else texture.expand(fit.batch_size, -1, -1, -1)

    def _unwrap(self, frames: torch.Tensor, fit: FaceFit, *, delit: bool) -> tuple[torch.Tensor, torch.Tensor, FaceTexture]:
        """(B, 4, S, S) textures of ``frames`` (colour, divided by its own shading if ``delit``; the appearance
        frame's weight), (B, 1, S, S) confidence × the view's resolution (0 where the face was missed) and
        the whole :class:`~tfvsdk.texture_confidence.FaceTexture`."""
        unwrapped = face_texture(frames, vertices(self.model, fit), self.model, size=self.texture_size, delight=self.relight,
                                 complete_delit=delit)
        colour = unwrapped.texture / unwrapped.shading if delit else unwrapped.texture
        textures = torch.cat([colour, torch.maximum(unwrapped.mouth, unwrapped.forehead)], 1)
        confidence = unwrapped.confidence * unwrapped.resolution[:, None, None, None]
        return textures, confidence * fit.found_mask.view(-1, 1, 1, 1).to(confidence.dtype), unwrapped

    def _fused_texture(self, source: FittedSource, used: np.ndarray) -> torch.Tensor:
        """(1, 4, S, S): each texel of a video source from its most confident view among the frames ``used``
        that show its face (at most ``texture_views`` of them, evenly spaced; confidence × the view's
        resolution; the earliest of equally confident ones), decoded chunk by chunk.

        The views are fused de-lit — each frame completed de-lit (``complete_delit``) and divided by its own
        shading, which undoes the re-lighting exactly where ``delight=True`` would clip de-lit colours above 1
        — and the result is lit by the shading of the clip's most confident frame (the largest summed
        confidence), so views under different light make no patchwork and the face does not change with the
        identity clip's own expression and light. With the editor's ``relight`` the views are de-lit by
        ``face_texture`` and fused as they are.
        """
        delit = not self.relight
        used = used[source.fit.found_mask.cpu().numpy()[used]]  # a frame whose face was missed adds nothing
        if self.texture_views is not None and len(used) > self.texture_views:
            used = used[np.unique(np.linspace(0, len(used) - 1, self.texture_views).round().astype(int))]
        cursor = FrameCursor(source.info.path)
        memory = known = light = None
        anchor = -1.0
        bar = _progress(len(used), f"texture of {source.info.path.name}") if self._show_progress else None
        try:
            for start in range(0, len(used), self.chunk_size):
                rows = used[start : start + self.chunk_size]
                fit = source.fit[torch.as_tensor(rows, device=source.fit.alpha_id.device)]
                textures, confidence, unwrapped = self._unwrap(self._frames(cursor, rows), fit, delit=delit)
                texture, conf = _most_confident(textures, confidence)
                if memory is None:
                    memory, known = texture, conf
                else:
                    better = conf > known
                    memory, known = torch.where(better, texture, memory), torch.where(better, conf, known)
                totals = confidence.flatten(1).sum(1)
                if delit and float(totals.max()) > anchor:
                    anchor, light = float(totals.max()), unwrapped.shading[int(totals.argmax())][None]
                if bar is not None:
                    bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()
        return memory if light is None else torch.cat([(memory[:, :3] * light).clamp(0, 1), memory[:, 3:]], 1)

    def _followed_texture(self, key: tuple[str, int], fit: FaceFit, frames: torch.Tensor) -> torch.Tensor:
        """(B, 4, S, S) textures of the frames pasted into: each frame's well-seen texels its own, the others
        from the most confident view so far (the first chunk's best seeds that memory)."""
        textures, confidence, unwrapped = self._unwrap(frames, fit, delit=False)
        if key not in self._followed:
            self._followed[key] = _most_confident(textures, confidence)
        memory, known = self._followed[key]
        out = []
        for texture, conf, seen_well, found in zip(textures[:, None], confidence[:, None], unwrapped.confidence[:, None] >= 0.5, fit.found_mask):
            own = (seen_well | (conf > known)) & found
            memory, known = torch.where(own, texture, memory), torch.where(own, conf, known)
            out.append(memory)
        self._followed[key] = (memory, known)
        return torch.cat(out)

    def run(
        self,
        sources: Mapping[str, str | os.PathLike],
        output: str | os.PathLike,
        *,
        overwrite: bool = False,
        landmarks: Mapping[str, np.ndarray] | None = None,
        progress: bool = False,
        face: int | None = None,
        face_ref: str | os.PathLike | None = None,
        all_faces: bool = False,
        source_faces: Mapping[str, int] | None = None,
    ) -> EditSummary:
        """Edit: read ``sources`` (one image or video per role of the task) and write ``output``.

        Args:
            sources: ``{role: path}`` for every role of the composer (e.g. ``identity``, ``target``).
            output: the video (or, when the timeline source is an image, image) to write.
            overwrite: replace an existing output.
            landmarks: optional precomputed landmarks per role, (frames, 68, 2) pixels, NaN = no face; the
                reconstructor uses them instead of detecting.
            progress: show progress bars over the frames of each pass (stderr).
            face: edit only this face of the edited source (the composer's :attr:`~TaskComposer.edited_role`,
                e.g. the swap's target): 0 = leftmost in the first frame that shows a face.
            face_ref: edit only the face nearest in identity to the face of this photo.
            all_faces: edit every face of the edited source.
            source_faces: ``{role: N}`` for sources other than the edited one (e.g. a group photo as the
                swap's identity): use their face N, numbered as ``face`` and tracked through a video.

        Without ``face``, ``face_ref`` or ``all_faces`` the edited source's face is the reconstructor's (its
        detector's main face, tracked). With one of them, every face is detected in every frame and
        tracked (:mod:`tfvsdk.tracking`); each chosen face is fitted and edited on its own, and every pixel
        outside the chosen faces' rendered masks is the input's. Other sources use their main face
        (:func:`tfvsdk.faces.main_face`), or the face ``source_faces`` names. Each edited face's fits of the
        whole sources, misses bridged, go through the composer's
        :meth:`~tfvsdk.interfaces.TaskComposer.prepare` (e.g. a relative expression) before its chunks are
        composed.

        Everything that can be checked is checked before the first frame is fitted: every source exists and
        its first frame decodes, the landmark arrays have the right shape, and the output name is a writable
        format of the right kind (a video unless the timeline source is an image) in a writable folder.

        Raises:
            InputError: a missing/unreadable/truncated source or face reference, more than one face choice, a
                face number beyond the faces of the first frame, wrong roles, a ``source_faces`` entry for the
                edited role or for a role that also has landmarks, an existing output, an output name of the
                wrong format, a missing or read-only output folder.
            NoFaceError: a source with no face at all (or a face reference with none).
            OutputError: the output could not be written or verified (e.g. the disk is full), or without
                ``overwrite`` a file appeared at the output path during the run; the output path is untouched.
        """
        started = time.perf_counter()
        self._textures.clear()
        self._followed.clear()
        self._show_progress = progress
        roles = tuple(self.composer.roles)
        if set(sources) != set(roles):
            raise InputError(f"sources: the task needs {list(roles)}, got {sorted(sources)}")
        landmarks = dict(landmarks or {})
        for role, rows in landmarks.items():
            _check_landmarks(role, rows)
        choice = FaceChoice.from_options(face, face_ref, all_faces)
        infos = {role: io.probe(sources[role]) for role in roles}
        if face_ref is not None:
            io.probe(face_ref)
        timeline = infos[self.composer.timeline_role]
        image_output = timeline.is_image and io.is_image_path(output)
        inputs = (*sources.values(), *([face_ref] if face_ref is not None else []))
        out = io.check_output(output, overwrite=overwrite, inputs=inputs, kind="image" if image_output else "video")
        source_faces = _check_source_faces(source_faces, roles, self.composer.edited_role, landmarks)
        edited = self.composer.edited_role if choice is not None else None
        if edited is not None and edited in landmarks:
            raise InputError(f"landmarks[{edited!r}]: give the edited source's landmarks or a face choice, not both")
        for role, number in source_faces.items():
            (landmarks[role],), _ = self._chosen_faces(infos[role], FaceChoice(index=number), option=f"source_faces[{role!r}]")
        chosen, others = self._chosen_faces(infos[edited], choice) if edited is not None else ([], [])
        fitted = {role: self.fit_source(role, infos[role], landmarks.get(role), progress=progress) for role in roles if role != edited}
        faces = [{**fitted, edited: self.fit_source(edited, infos[edited], rows, progress=progress)} for rows in chosen] or [fitted]
        faces = [{role: attrs.evolve(s, fit=bridge_gaps(s.fit)) for role, s in f.items()} for f in faces]
        faces = [{role: attrs.evolve(f[role], fit=fit) for role, fit in self.composer.prepare({r: s.fit for r, s in f.items()}).items()}
                 for f in faces]
        fitted = faces[0]

        fps_out = timeline.fps or 25.0
        counts = {r: (s.info.fps, s.fit.batch_size) for r, s in fitted.items()}
        n_out = output_length(self.length, fps_out, self.composer.timeline_role, counts)
        loop = self.length == "loop"
        index_of = {
            r: source_index(np.arange(n_out), fps_out, s.info.fps, s.fit.batch_size, loop) for r, s in fitted.items()
        }
        cursors = {r: FrameCursor(s.info.path) for r, s in fitted.items()}
        missing: list[int] = []
        bar = _progress(n_out, out.name) if progress else None
        audio = timeline.path if timeline.has_audio and not loop else None
        writer = None if image_output else io.VideoWriter(out, fps_out, audio_from=audio, overwrite=overwrite, frames=n_out)
        try:
            for start in range(0, n_out, self.chunk_size):
                ks = np.arange(start, min(start + self.chunk_size, n_out))
                frames, decoded, edited_any = None, {}, np.zeros(len(ks), bool)
                for number, face_sources in enumerate(faces):
                    frames, found = self._edit_chunk(ks, face_sources, index_of, cursors, decoded, base=frames, face=number,
                                                     only_masks=choice is not None, keep=others)
                    edited_any |= found
                missing.extend(int(k) for k in ks[~edited_any])
                for frame in io.to_uint8(frames):
                    if writer is None:
                        io.write_image(out, frame, overwrite=overwrite)
                    else:
                        writer.write(frame)
                if bar is not None:
                    bar.update(len(ks))
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        finally:
            if bar is not None:
                bar.close()
        if writer is not None:
            writer.close()
        return EditSummary(out, n_out, None if writer is None else fps_out, tuple(missing), time.perf_counter() - started)

    @torch.no_grad()
    def _edit_chunk(
        self,
        ks: np.ndarray,
        fitted: Mapping[str, FittedSource],
        index_of: Mapping[str, np.ndarray],
        cursors: Mapping[str, FrameCursor],
        frames: dict[tuple[str, bool], torch.Tensor],
        *,
        base: torch.Tensor | None = None,
        face: int = 0,
        only_masks: bool = False,
        keep: Sequence[np.ndarray] = (),
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Output frames ``ks`` (B, 3, H, W) at the composition's image size (other sources are resized to it)
        and the (B,) bool frames edited: where the appearance and texture sources had a face (the other sources'
        misses are bridged by :func:`~tfvsdk.smoothing.bridge_gaps`); the others are the appearance frames.

        Args:
            frames: decoded frames of this chunk by (role, resized), shared by the chosen faces' passes.
            base: the frames so far (earlier chosen faces edited), in place of the appearance role's frames.
            face: the chosen face's number (its texture memory).
            only_masks: keep every pixel outside the rendered mask M̂ exactly the appearance frame's.
            keep: (frames, 68, 2) landmarks of faces of the appearance source not to touch (NaN where absent):
                their regions (:func:`tfvsdk.faces.face_regions`) are taken out of M̂.
        """
        fits = {r: s.fit[torch.as_tensor(index_of[r][ks], device=s.fit.alpha_id.device)] for r, s in fitted.items()}
        comp = self.composer.compose(fits)
        size = comp.image_size
        if base is not None and comp.appearance_role != self.composer.edited_role:
            raise PluginError(f"composer {type(self.composer).__name__}: its compositions show {comp.appearance_role!r}, "
                              f"not its edited_role {self.composer.edited_role!r}")

        def frames_of(role: str, resize: bool) -> torch.Tensor:
            if resize and base is not None and role == comp.appearance_role:
                return base
            if (role, resize) not in frames:
                if (role, not resize) in frames and fitted[role].info.size == size:
                    frames[(role, resize)] = frames[(role, not resize)]
                else:
                    frames[(role, resize)] = self._frames(cursors[role], index_of[role][ks], size if resize else None)
            return frames[(role, resize)]

        appearance = frames_of(comp.appearance_role, True)
        # a frame is edited where the face to paste over and the face to texture from were found; the other
        # sources' misses are bridged (bridge_gaps)
        found = fits[comp.appearance_role].found_mask & fits[comp.texture_role].found_mask
        if not bool(found.any()):
            return appearance, found.cpu().numpy()
        role = comp.texture_role
        texture = self._texture(fitted[role], fits[role], lambda: frames_of(role, False), face, follow=role == comp.appearance_role,
                                used=np.unique(index_of[role]))
        with plugins.reporting(self.renderer, "rendering"):
            rendering = self.renderer.render(vertices(self.model, comp), self.model.triangles, comp.image_size, uv=self.model.uv, texture=texture)
        rendered, mask = rendering.image[:, :3], rendering.mask
        kept = None
        if len(keep):
            rows = index_of[comp.appearance_role][ks]
            h, w = fitted[comp.appearance_role].info.size
            scale = np.array([size[1] / w, size[0] / h], np.float32)
            kept = face_regions(np.concatenate([other[rows] * scale for other in keep]), size).to(mask)
            kept = kept.view(len(keep), len(ks), 1, *size).amax(0)
        pasted = mask if kept is None else mask * (1 - kept)
        pasted_onto = appearance
        if not only_masks:
            appearance, pasted_onto = self._repose(appearance, fits[comp.appearance_role], comp, found, pasted, kept)
        if self.relight:
            normals = pixel_normals(rendering.vertices, self.model.triangles, rendering.triangle_id, rendering.barycentrics)
            rendered = relight(rendered, appearance, normals, mask)
        # the unseen mouth interior and the forehead under hair, their edge softened over 3 output pixels
        from_frame = F.avg_pool2d(rendering.image[:, 3:4] * mask, 3, stride=1, padding=1, count_include_pad=False) * mask
        rendered = rendered + from_frame * (appearance - rendered)
        mask = pasted
        hint = (pasted_onto if comp.hint_role == comp.appearance_role else frames_of(comp.hint_role, True)) * (1 - mask)
        with plugins.reporting(self.blender, "blending"):
            blended = self.blender.blend(rendered, pasted_onto, hint, mask)
        unedited = frames_of(comp.appearance_role, True)
        if only_masks:
            blended = torch.where(mask > 0, blended, unedited)
        return torch.where(found[:, None, None, None], blended, unedited), found.cpu().numpy()

    def _repose(
        self, appearance: torch.Tensor, own: FaceFit, comp: Composition, found: torch.Tensor, mask: torch.Tensor, kept: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The (B, 3, H, W) appearance frames with their head moved where the composition poses the face
        elsewhere than the frame's own fit (:func:`~tfvsdk.head_motion.follow_face`: roll, shift and size of the
        face; other faces' regions ``kept`` stay), and the same frames with their own features that the
        pasted mask M̂ leaves uncovered filled first where the head turns (:func:`~tfvsdk.uncovered.fill_uncovered_features`,
        in the frame's own geometry, M̂ carried back to it: a still photo's features are rendered and filled
        once). Frames whose face keeps its pose (a swap's or remix's target) are returned as they are."""
        own_vertices = vertices(self.model, own)
        posed = vertices(self.model, attrs.evolve(own, camera=comp.camera))  # the frame's own face, posed as composed
        device = own_vertices.device
        moves = found.to(device) & ((posed - own_vertices)[..., :2].abs().flatten(1).amax(1) > MOVED_PIXELS)
        turned = found.to(device) & (rotation_angle(own.camera.rotation, comp.camera.rotation) > TURNED_DEGREES).to(device)
        if not bool(moves.any()):
            return appearance, appearance
        rows = moves.nonzero()[:, 0]
        matrix, shift = face_similarity(own_vertices[rows], posed[rows])
        filled = appearance[rows]
        fill = turned[rows]
        if bool(fill.any()):
            at = fill.nonzero()[:, 0]
            mask_back = carry_back(mask[rows][at], matrix[at], shift[at])
            filled = filled.index_copy(0, at.to(filled.device), fill_uncovered_features(
                filled[at], own_vertices[rows][at], mask_back, self.model, self.renderer))
        own_mask = self.renderer.render(_once_if_still(own_vertices[rows]), self.model.triangles, comp.image_size).mask
        moved = follow_face(torch.cat([appearance[rows], filled], 1), matrix, shift,
                            torch.maximum(own_mask.expand(len(rows), -1, -1, -1), mask[rows]), fixed=None if kept is None else kept[rows])
        index = rows.to(appearance.device)
        return appearance.index_copy(0, index, moved[:, :3]), appearance.index_copy(0, index, moved[:, 3:])

    def _chosen_faces(self, info: io.SourceInfo, choice: FaceChoice, *, option: str = "face") -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(frames, 68, 2) landmarks (NaN where absent) of each face ``choice`` picks in ``info``'s source, and
        of the faces it does not pick; ``option`` names the choice in errors."""
        detector = _component("detector", self._face_tools[0], None)
        embedder = _component("identity_embedder", self._face_tools[1], None)
        with plugins.reporting(detector, f"finding every face in {info.path}"):
            tracks = scan_faces(info.path, detector, embedder)
            reference = reference_descriptor(choice.reference, detector, embedder) if choice.reference is not None else None
        chosen = choose_faces(tracks, choice, reference, source=str(info.path), option=option)
        logger.info("%s: %d face(s) tracked, %d chosen", info.path, len(tracks), len(chosen))
        rest = [track for track in tracks if not any(track is c for c in chosen)]
        return [t.landmarks.astype(np.float32) for t in chosen], [t.landmarks.astype(np.float32) for t in rest]


def _once_if_still(vertices: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) ``vertices``, or their first row alone (1, N, 3) when every row is the same (a still photo)."""
    return vertices[:1] if torch.equal(vertices, vertices[:1].expand_as(vertices)) else vertices


def _fit_key(fit: FaceFit, rows: np.ndarray) -> str:
    """A digest of ``fit`` (coefficients, camera, found frames) and the frame indices ``rows`` used from it:
    equal for a texture source fitted and used alike."""
    digest = hashlib.sha1(np.asarray(rows, np.int64).tobytes())
    camera = fit.camera
    for tensor in (fit.alpha_id, fit.alpha_exp, camera.scale, camera.rotation, camera.translation, fit.found_mask):
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _most_confident(textures: torch.Tensor, confidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, C, S, S) each texel of (B, C, S, S) ``textures`` from the view where its (B, 1, S, S)
    ``confidence`` is highest (the earliest of equal ones), and (1, 1, S, S) that confidence."""
    best = confidence.argmax(0, keepdim=True)
    return textures.gather(0, best.expand(-1, textures.shape[1], -1, -1)), confidence.gather(0, best)


def _check_source_faces(
    source_faces: Mapping[str, int] | None, roles: Sequence[str], edited: str, landmarks: Mapping[str, np.ndarray]
) -> dict[str, int]:
    """``source_faces`` as a dict, checked against the task's roles and the landmarks given."""
    source_faces = dict(source_faces or {})
    for role, number in source_faces.items():
        if role not in roles:
            raise InputError(f"source_faces: {role!r} is not a role of the task ({', '.join(roles)})")
        if role == edited:
            raise InputError(f"source_faces[{role!r}]: the edited source's faces are chosen with face, face_ref or all_faces "
                             "(--face, --face-ref, --all-faces)")
        if role in landmarks:
            raise InputError(f"source_faces[{role!r}]: give this source's landmarks or its face number, not both")
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or number < 0:
            raise InputError(f"source_faces[{role!r}]: expected a face number >= 0 (left to right in the first frame), got {number!r}")
    return {role: int(number) for role, number in source_faces.items()}


def _check_landmarks(role: str, landmarks: np.ndarray | None) -> None:
    if landmarks is not None and (landmarks.ndim != 3 or landmarks.shape[2] != 2):
        raise InputError(f"landmarks[{role!r}]: expected (frames, L, 2), got {landmarks.shape}")


def _progress(total: int, name: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="frame", desc=name, leave=False)
