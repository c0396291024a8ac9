"""E_id, the identity error of the paper (§4): cosine distance between face-recognition vectors.

The paper feeds X_i^t and Y^t to a face-recognition model (CosFace, ref. [33]) and "evaluates E_id in the
cosine similarity"; Table 1's values (0.10–0.74, lower is better) are read here as the cosine *distance*
``1 − cos(f(Y^t), f(X_i))``. The vectors come from any registered
:class:`~tfvsdk.IdentityEmbedder` (built in: dlib's 128-D ResNet, ``tfvsdk.create("identity_embedder",
"dlib")``; CosFace is not shipped, so figures are comparable across runs of this SDK, not with Table 1).

The identity source may be a still or a video of another moment: its frames are summarised by
:func:`reference_embedding` (the normalised mean of their unit vectors) and every output frame is compared
with that one vector.

An identity source without colour (a black-and-white photo, :func:`has_colour`) is compared in greyscale:
both sides go through :func:`luminance` first. Colour is not part of such a person's picture, and an edit
is meant to colour the face by its target; compared in colour, a photo and its own greyscale copy are
already 0.14–0.20 apart in dlib's Euclidean distance (7 real photos), a third of the 0.6 that separates
people.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..checks import check_tensor
from ..errors import InputError, NoFaceError

__all__ = ["has_colour", "identity_distance", "luminance", "reference_embedding"]


def _found(name: str, embeddings: torch.Tensor) -> torch.Tensor:
    check_tensor(name, embeddings, (None, None), finite=False)
    return torch.isfinite(embeddings).all(1)


def has_colour(images: torch.Tensor, *, tolerance: float = 8 / 255, fraction: float = 0.01) -> bool:
    """Whether ``images`` show colour: more than ``fraction`` of their pixels have channels further apart than
    ``tolerance``. A greyscale photo stored as RGB has none; colour photos of faces have 86–98 %.

    Args:
        images: (B, 3, H, W) images in [0, 1].
    """
    check_tensor("images", images, (None, 3, None, None))
    spread = images.amax(1) - images.amin(1)
    return bool((spread > tolerance).to(images.dtype).mean() > fraction)


def luminance(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) greyscale copies of (B, 3, H, W) images in [0, 1]: Rec. 601 luma Y = 0.299 R + 0.587 G +
    0.114 B in every channel."""
    check_tensor("images", images, (None, 3, None, None))
    weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True).expand_as(images).contiguous()


def reference_embedding(embeddings: torch.Tensor) -> torch.Tensor:
    """One identity vector from several: the unit-length mean of the unit vectors of the rows with a face.

    Args:
        embeddings: (N, D) identity vectors of the identity source's frames, NaN rows where no face.

    Returns:
        (D,) unit vector.

    Raises:
        NoFaceError: no row has a face.
    """
    found = _found("embeddings", embeddings)
    if not bool(found.any()):
        raise NoFaceError(f"embeddings: no face in any of the {len(embeddings)} identity frames")
    return F.normalize(F.normalize(embeddings[found], dim=1).mean(0), dim=0)


def identity_distance(embeddings: torch.Tensor, reference: torch.Tensor, *, metric: str = "cosine") -> torch.Tensor:
    """E_id per frame: the distance of each output frame's identity vector from the reference identity.

    Args:
        embeddings: (T, D) identity vectors of the output frames, NaN rows where no face.
        reference: (D,) the identity's vector (:func:`reference_embedding`) or (T, D) one per frame.
        metric: ``"cosine"`` — ``1 − cos`` in [0, 2], the paper's measure; or ``"euclidean"`` — ‖a − b‖, the
            measure dlib's descriptors are calibrated for (same person below ≈ 0.6).

    Returns:
        (T,) distances, NaN where a frame has no face.
    """
    found = _found("embeddings", embeddings)
    if reference.dim() == 1:
        reference = reference.expand_as(embeddings)
    check_tensor("reference", reference, tuple(embeddings.shape), finite=False)
    if metric == "cosine":
        distance = 1 - F.cosine_similarity(embeddings, reference, dim=1)
    elif metric == "euclidean":
        distance = (embeddings - reference).norm(dim=1)
    else:
        raise InputError(f"metric: expected 'cosine' or 'euclidean', got {metric!r}")
    return torch.where(found & torch.isfinite(reference).all(1), distance, torch.nan)
