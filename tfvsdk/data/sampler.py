"""Dynamic training sample selection, DTSS (paper §3.1).

With probability σ a draw is an **image sample**: X_i, X_p and X_e are images of three different
identities, and each role's frame at t−1 is the same image as at t (the paper: "X_p^t and X_p^{t−1} are set
to be the same frame"). Otherwise it is a **video sample**: consecutive frames (t−1, t) of one clip.

How the video case is read: the paper samples "three pairs of consecutive frames" from one clip and then
supervises with L_rec = ‖Y^t − X_i^t‖₁ (eq. 7). Y^t is rendered with the pose of X_p^t and the expression
of X_e^t, so X_i^t is a valid ground truth for Y^t only when X_i^t shows that pose and expression. This
sampler therefore uses **one** pair (t−1, t) for all three roles of a video sample — X_i = X_p = X_e, the
self-driving reenactment of §4.1 — which makes eq. 7 exact. (With the hint rule of §3.2 this also makes the
video hint X_i(1 − M̂) equal X_p(1 − M̂).)

Determinism and resuming: draw ``n`` of rank ``r`` is a pure function of ``(seed, r, n)`` (its own
``numpy`` generator seeded by that triple), so a sampler is restored by its position alone, a DataLoader
that prefetches ahead cannot change what a step sees, and ranks draw independent streams.

The paper's "reenactment alone" ablation (§4.2: "image datasets are regarded as single-frame videos") is
``still_clips=True``: every image of the image part also counts as a clip of one frame, drawn for video
samples like any clip, with t−1 = t.

Distributed training: each rank samples only its own shard — every ``world_size``-th identity of the
image part and every ``world_size``-th clip of the video part (in sorted order), starting at ``rank``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from .folders import ImageFolder, VideoFolder
from .samples import FrameRef, SampleSpec


class DTSSSampler:
    """An endless, seeded stream of :class:`SampleSpec` (paper §3.1).

    Args:
        images: the image part (needed when ``sigma > 0``).
        videos: the video part (needed when ``sigma < 1``); clips with fewer than 2 frames are ignored.
        sigma: probability σ ∈ [0, 1] of an image sample (the paper uses 0.5; 1 = image-only training,
            0 = video-only).
        seed: non-negative seed of the stream.
        rank: this process's rank in distributed training.
        world_size: number of processes; each samples its own shard.
        still_clips: images also serve as single-frame clips for video samples (see the module docstring).
        exclude_clips: indices of clips of the video part never drawn (a held-out evaluation split).

    Raises:
        InputError: σ outside [0, 1], a bad rank, or a shard without the data σ requires (fewer than 3
            identities for image samples, no clip of ≥ 2 frames for video samples).

    Example:
        >>> sampler = DTSSSampler(ImageFolder(root), VideoFolder(root), sigma=0.5, seed=0)  # doctest: +SKIP
        >>> spec = next(iter(sampler))                                                      # doctest: +SKIP
    """

    def __init__(
        self,
        images: ImageFolder | None,
        videos: VideoFolder | None,
        *,
        sigma: float = 0.5,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        still_clips: bool = False,
        exclude_clips: Sequence[int] = (),
    ) -> None:
        if not 0.0 <= sigma <= 1.0:
            raise InputError(f"sigma: expected a probability in [0, 1], got {sigma}")
        if seed < 0:
            raise InputError(f"seed: expected a non-negative integer, got {seed}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise InputError(f"rank {rank} / world_size {world_size}: expected 0 <= rank < world_size")
        self.sigma = float(sigma)
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.position = 0
        """Index of the next draw."""

        self._identities: list[tuple[int, ...]] = []
        if images is not None:
            self._identities = [images.by_identity[k] for k in images.identities[rank::world_size]]
        self._clips: list[tuple[str, int, int]] = []
        if videos is not None:
            excluded = set(exclude_clips)
            usable = [
                ("video", c, videos.num_frames(c))
                for c in range(len(videos))
                if videos.num_frames(c) >= 2 and c not in excluded
            ]
            self._clips = usable[rank::world_size]
        if still_clips and images is not None:
            self._clips += [("image", i, 1) for k in self._identities for i in k]
        shard = f" in the shard of rank {rank}/{world_size}" if world_size > 1 else ""
        if self.sigma > 0 and len(self._identities) < 3:
            raise InputError(
                f"sigma={self.sigma} needs image samples of 3 different identities, but the image part has "
                f"{len(self._identities)} identities{shard}"
            )
        if self.sigma < 1 and not self._clips:
            raise InputError(
                f"sigma={self.sigma} needs video samples, but there is no clip with 2 or more frames{shard} "
                "(still_clips=True lets images serve as single-frame clips)"
            )

    def draw(self, index: int) -> SampleSpec:
        """Draw ``index`` of this rank's stream (does not move :attr:`position`)."""
        rng = np.random.default_rng([self.seed, self.rank, index])
        if rng.random() < self.sigma:
            chosen = rng.choice(len(self._identities), size=3, replace=False)
            refs = []
            for identity in chosen:
                images = self._identities[identity]
                ref = FrameRef("image", int(images[rng.integers(len(images))]))
                refs.append((ref, ref))
            return SampleSpec(False, *refs)
        part, clip, frames = self._clips[rng.integers(len(self._clips))]
        if part == "image":
            pair = (FrameRef("image", clip), FrameRef("image", clip))
            return SampleSpec(True, pair, pair, pair)
        t = int(rng.integers(1, frames))
        pair = (FrameRef("video", clip, t - 1), FrameRef("video", clip, t))
        return SampleSpec(True, pair, pair, pair)

    def __iter__(self) -> Iterator[SampleSpec]:
        while True:
            spec = self.draw(self.position)
            self.position += 1
            yield spec

    def batches(self, batch_size: int) -> Iterator[list[SampleSpec]]:
        """Endless lists of ``batch_size`` specs from :attr:`position` on (a DataLoader ``batch_sampler``)."""
        if batch_size < 1:
            raise InputError(f"batch_size: expected >= 1, got {batch_size}")
        stream = iter(self)
        while True:
            yield [next(stream) for _ in range(batch_size)]

    def state_dict(self, position: int | None = None) -> dict[str, Any]:
        """The sampler's state; pass ``position`` to record the draws *consumed* rather than prefetched."""
        return {
            "seed": self.seed,
            "sigma": self.sigma,
            "world_size": self.world_size,
            "position": self.position if position is None else int(position),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the stream saved by :meth:`state_dict` (of any rank: all ranks consume equally many draws).

        Raises:
            InputError: the state belongs to a different seed, σ or number of processes.
        """
        for key in ("seed", "sigma", "world_size"):
            if state[key] != getattr(self, key):
                raise InputError(f"sampler state: {key} is {state[key]!r}, this sampler has {getattr(self, key)!r}")
        self.position = int(state["position"])
