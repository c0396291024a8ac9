"""The abstract components of the editing pipeline (see docs/concepts.md for the data flow).

Every default implementation is a plugin and registers exactly as a third-party plugin does (see
:mod:`tfvsdk.hookspecs`). Images are (B, 3, H, W) float tensors in [0, 1]; screen space is described in
:mod:`tfvsdk.camera`. Implementations follow the device of their inputs.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from typing import ClassVar

import torch

from .errors import PluginError
from .morphable import MorphableModel
from .records import Composition, Detection, FaceFit, Rendering


class LandmarkDetector(abc.ABC):
    """Finds 68 iBUG landmarks in images.

    Contract: ``detect`` returns one :class:`Detection` row per input image in input order; an image with
    no face has ``found = False`` and NaN landmarks (never dropped). A detector used on consecutive
    frames of a video may track (``video=True``); :meth:`reset` forgets the tracked state.
    """

    @abc.abstractmethod
    def detect(self, images: torch.Tensor, *, video: bool = False) -> Detection:
        """Landmarks of (B, 3, H, W) images in [0, 1]; ``video=True`` means consecutive frames of one clip."""

    def reset(self) -> None:
        """Forget any state carried between calls (the tracked face box)."""


class IdentityEmbedder(abc.ABC):
    """Maps face images to identity vectors of a face-recognition model (E_id, paper §4 and ref. [33]).

    Contract: ``embed`` returns one (D,) row per input image in input order, :attr:`dim` = D; an image with
    no face gets a NaN row (never dropped). Vectors of one person point in similar directions: the SDK
    compares them by cosine similarity (:func:`tfvsdk.metrics.identity_distance`).
    """

    dim: ClassVar[int]

    @abc.abstractmethod
    def embed(self, images: torch.Tensor, *, detection: Detection | None = None, video: bool = False) -> torch.Tensor:
        """(B, D) identity vectors of (B, 3, H, W) images in [0, 1].

        Args:
            images: the images.
            detection: their 68 landmarks when already known (an embedder that aligns faces with
                landmarks uses them instead of detecting); others may ignore it.
            video: the images are consecutive frames of one clip (a detector may track the face).
        """


_CONSOLIDATE = 8
"""Chunk fits kept apart at most, in :meth:`Reconstructor.fit_video`: each chunk's small tensors, held while the
next chunks' large transient ones come and go, split glibc's heap into holes it cannot reuse (resident memory
grew by ~2.4 MB per 16-frame chunk at 128²); joined every few chunks, the holes merge again."""


class Reconstructor(abc.ABC):
    """Fits a 3DMM to images (paper §3.2): identity α_id, expression α_exp and camera C per image.

    Contract: ``fit`` returns a :class:`FaceFit` with batch B, coefficients sized for :attr:`model`, and
    ``found`` False for images where no face was found (never dropped, never an exception for a
    partially empty batch). With ``clip=True`` the images are consecutive frames of one person and the
    fit shares one identity across them (α_id rows equal). A landmark-driven reconstructor uses
    ``detection`` when it is given instead of detecting landmarks itself (precomputed or annotated
    landmarks); others may ignore it.
    """

    @property
    @abc.abstractmethod
    def model(self) -> MorphableModel:
        """The morphable model whose coefficients :meth:`fit` returns."""

    @abc.abstractmethod
    def fit(self, images: torch.Tensor, *, clip: bool = False, detection: Detection | None = None) -> FaceFit:
        """Fit (B, 3, H, W) images in [0, 1] (with their landmarks ``detection`` when known)."""

    def pose_spread(self, fit: FaceFit) -> torch.Tensor:
        """(B,) expected error of each frame's fitted head rotation in degrees (NaN where no face): how well
        the image evidence determines the pose. Optional: the default raises.

        Raises:
            PluginError: this reconstructor does not estimate the uncertainty of its poses.
        """
        raise PluginError(f"reconstructor {type(self).__name__} does not estimate the uncertainty of its poses (pose_spread)")

    def fit_video(self, chunks: Iterable[tuple[torch.Tensor, Detection | None]]) -> FaceFit:
        """Fit a whole clip streamed as chunks of consecutive frames ``(images, detection or None)``.

        Only the fits are kept, so memory grows with the clip's length by a few hundred bytes per frame.
        The default fits each chunk with ``clip=True`` and concatenates; implementations override it to
        share one identity across the whole clip.
        """
        fits: list[FaceFit] = []
        for images, detection in chunks:
            fits.append(self.fit(images, clip=True, detection=detection))
            if len(fits) == _CONSOLIDATE:
                fits = [FaceFit.cat(fits)]
        return FaceFit.cat(fits)


class Renderer(abc.ABC):
    """Rasterizes a textured triangle mesh given in screen space (eq. 3, R = P(S, T^i, C^p)).

    Contract: the returned :class:`Rendering` has the buffers described there, with the semantics of
    :mod:`tfvsdk.raster` (nearest surface wins; pixel centres at +0.5; no back-face culling). ``image`` is
    the texture looked up through ``uv`` (bilinear), or a plain shading when ``texture`` is None, and is
    differentiable w.r.t. ``vertices`` (through the barycentrics) and ``texture``.
    """

    @abc.abstractmethod
    def render(
        self,
        vertices: torch.Tensor,
        triangles: torch.Tensor,
        image_size: tuple[int, int],
        *,
        uv: torch.Tensor | None = None,
        texture: torch.Tensor | None = None,
    ) -> Rendering:
        """Render a mesh.

        Args:
            vertices: (B, N, 3) screen-space vertices (pixels; z toward the viewer).
            triangles: (T, 3) integer vertex indices.
            image_size: (height, width) of the output.
            uv: (N, 2) texture coordinates in [0, 1], v downward (row 0 of the texture image at v = 0).
            texture: (B, C, Ht, Wt) texture images in [0, 1].
        """


class Blender(abc.ABC):
    """Fuses the rendered face with the appearance frame (paper §3.3): Y = G(R, E(X_p, M), M̂).

    Contract: inputs share batch and size; the output is (B, 3, H, W) in [0, 1]. A trainable blender is
    also a ``torch.nn.Module`` (see :attr:`trainable`).
    """

    trainable: ClassVar[bool] = False

    @abc.abstractmethod
    def blend(
        self,
        rendered: torch.Tensor,
        appearance: torch.Tensor,
        hint: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """Blend.

        Args:
            rendered: (B, 3, H, W) rendered face R.
            appearance: (B, 3, H, W) appearance frame X_p.
            hint: (B, 3, H, W) appearance hint M = X (1 − M̂).
            mask: (B, 1, H, W) face mask M̂.

        Returns:
            (B, 3, H, W) output frame Y in [0, 1].
        """


class TaskComposer(abc.ABC):
    """Chooses which source supplies identity, expression, pose and appearance (eq. 2, §3.2).

    Contract: :attr:`roles` names the sources the task takes (in the order the command line asks for
    them); :attr:`timeline_role` is the role whose frame rate, length, frame size and audio the output
    follows; :meth:`compose` takes one :class:`FaceFit` per role, all of batch B (frame-aligned), and only
    *chooses*: it computes nothing the model or the renderer already does.
    """

    roles: ClassVar[tuple[str, ...]]
    timeline_role: ClassVar[str]

    @abc.abstractmethod
    def compose(self, fits: Mapping[str, FaceFit]) -> Composition:
        """Build the composition from ``fits[role]`` for every role in :attr:`roles`."""
