"""What the DTSS sampler draws (:class:`SampleSpec`) and what the trainer consumes (:class:`TrainingBatch`).

A sample names, for each role of the paper — identity X_i, pose X_p, expression X_e — the frame at time
t−1 and the frame at time t. :class:`SampleDataset` loads the frames and cached fits of a spec;
:func:`collate` stacks samples into a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import attrs
import torch

from ..errors import InputError
from ..records import FaceFit
from .folders import ImageFolder, VideoFolder

ROLES = ("identity", "pose", "expression")
"""The roles of a training sample, in the paper's order (X_i, X_p, X_e)."""


@attrs.frozen
class FrameRef:
    """One frame of a dataset.

    Attributes:
        part: ``"image"`` (image ``index`` of the image part) or ``"video"`` (frame ``frame`` of clip
            ``index`` of the video part).
        index: image index or clip index.
        frame: frame index inside the clip (0 for images).
    """

    part: Literal["image", "video"] = attrs.field(validator=attrs.validators.in_(("image", "video")))
    index: int
    frame: int = 0


@attrs.frozen
class SampleSpec:
    """One draw of the DTSS sampler (§3.1): the (t−1, t) frames of each role.

    Attributes:
        is_video: True for a video sample (self-supervised, L_rec applies), False for an image sample.
        identity: (t−1, t) frames of X_i.
        pose: (t−1, t) frames of X_p.
        expression: (t−1, t) frames of X_e.
    """

    is_video: bool
    identity: tuple[FrameRef, FrameRef]
    pose: tuple[FrameRef, FrameRef]
    expression: tuple[FrameRef, FrameRef]

    def role(self, name: str) -> tuple[FrameRef, FrameRef]:
        """The (t−1, t) frames of role ``name`` (one of :data:`ROLES`)."""
        if name not in ROLES:
            raise InputError(f"role {name!r}: expected one of {ROLES}")
        return getattr(self, name)


@attrs.frozen(eq=False)
class RoleFrames:
    """One role's frames at t−1 and t for a batch of B samples, with their cached fits.

    Attributes:
        prev: (B, 3, H, W) frames at t−1, float32 in [0, 1].
        cur: (B, 3, H, W) frames at t.
        fit_prev: fits of ``prev`` (batch B).
        fit_cur: fits of ``cur`` (batch B).
    """

    prev: torch.Tensor
    cur: torch.Tensor
    fit_prev: FaceFit
    fit_cur: FaceFit

    def to(self, device: torch.device | str) -> RoleFrames:
        return RoleFrames(self.prev.to(device), self.cur.to(device), self.fit_prev.to(device), self.fit_cur.to(device))


SourceKey = tuple[str, int]
"""A sample's source: (part, index) of an image or a clip, as in :class:`FrameRef`."""


@attrs.frozen(eq=False)
class TrainingBatch:
    """A batch of B DTSS samples, ready for a training step.

    Attributes:
        identity: frames and fits of X_i.
        pose: frames and fits of X_p.
        expression: frames and fits of X_e.
        is_video: (B,) bool, True for video samples.
        specs: the B sample specs the batch was loaded from.
        sources: per sample, the fits of every source its frames come from, whole: a clip's fits (batch =
            its frames) or an image's (batch 1), by (part, index). Kept on the CPU by :meth:`to`.
    """

    identity: RoleFrames
    pose: RoleFrames
    expression: RoleFrames
    is_video: torch.Tensor
    specs: tuple[SampleSpec, ...] = attrs.field(converter=tuple, default=())
    sources: tuple[dict[SourceKey, FaceFit], ...] = attrs.field(converter=tuple, default=())

    @property
    def batch_size(self) -> int:
        return self.is_video.shape[0]

    def role(self, name: str) -> RoleFrames:
        """The frames of role ``name`` (one of :data:`ROLES`)."""
        if name not in ROLES:
            raise InputError(f"role {name!r}: expected one of {ROLES}")
        return getattr(self, name)

    def source(self, sample: int, ref: FrameRef) -> FaceFit:
        """The whole source's fits of frame ``ref`` of sample ``sample`` (see :attr:`sources`)."""
        return self.sources[sample][(ref.part, ref.index)]

    def to(self, device: torch.device | str) -> TrainingBatch:
        return TrainingBatch(
            self.identity.to(device), self.pose.to(device), self.expression.to(device), self.is_video.to(device),
            self.specs, self.sources,
        )


@attrs.frozen(eq=False)
class LoadedSample:
    """What :class:`SampleDataset` loads for one spec.

    Attributes:
        spec: the sample spec.
        frames: (3, H, W) float32 frame in [0, 1] of every frame the spec names.
        sources: the whole fits of every source the spec's frames come from (see :attr:`TrainingBatch.sources`).
    """

    spec: SampleSpec
    frames: dict[FrameRef, torch.Tensor]
    sources: dict[SourceKey, FaceFit]

    def fit(self, ref: FrameRef) -> FaceFit:
        """The fit of frame ``ref`` (batch 1)."""
        return self.sources[(ref.part, ref.index)][ref.frame]


class SampleDataset(torch.utils.data.Dataset):
    """Loads the frames and fits a :class:`SampleSpec` names (use with a DataLoader and :func:`collate`).

    Args:
        images: the image part, or None.
        videos: the video part, or None.
    """

    def __init__(self, images: ImageFolder | None, videos: VideoFolder | None) -> None:
        self.images = images
        self.videos = videos

    def _load(self, ref: FrameRef) -> tuple[torch.Tensor, FaceFit]:
        """Frame ``ref`` and the fits of its whole source."""
        if ref.part == "image":
            if self.images is None:
                raise InputError("sample refers to the image part, but the dataset has none")
            return self.images.image(ref.index), self.images.fit(ref.index)
        if self.videos is None:
            raise InputError("sample refers to the video part, but the dataset has none")
        return self.videos.frame(ref.index, ref.frame), self.videos.fits(ref.index)

    def __getitem__(self, spec: SampleSpec) -> LoadedSample:
        frames: dict[FrameRef, torch.Tensor] = {}
        sources: dict[SourceKey, FaceFit] = {}
        for role in ROLES:
            for ref in spec.role(role):
                if ref not in frames:
                    frames[ref], sources[(ref.part, ref.index)] = self._load(ref)
        return LoadedSample(spec, frames, sources)


def collate(samples: Sequence[LoadedSample]) -> TrainingBatch:
    """Stack the samples :class:`SampleDataset` loads into a :class:`TrainingBatch`."""
    roles = {}
    for role in ROLES:
        parts = []
        for time in (0, 1):
            refs = [(sample.spec.role(role)[time], sample) for sample in samples]
            images = torch.stack([sample.frames[ref] for ref, sample in refs])
            fit = FaceFit.cat([sample.fit(ref) for ref, sample in refs])
            parts.append((images, fit))
        roles[role] = RoleFrames(parts[0][0], parts[1][0], parts[0][1], parts[1][1])
    is_video = torch.tensor([sample.spec.is_video for sample in samples], dtype=torch.bool)
    return TrainingBatch(**roles, is_video=is_video, specs=[s.spec for s in samples], sources=[s.sources for s in samples])
