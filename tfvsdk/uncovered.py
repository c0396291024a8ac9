"""The frame's own face where an edit moved the face away from it: a reenacted head's old eyes, nose, mouth.

Editing pastes the rendered face R over the frame X it takes the appearance from. When the composition
keeps X's head pose (a swap's target, a remix's pose source), R covers X's face; when it turns the head (a
reenactment takes the driver's rotation), the parts of X's face that R no longer covers stay in the output —
a second nose and mouth beside the new ones. :func:`fill_uncovered_features` removes them: X's facial
features (the brows–eyes–nose–mouth region of its own fitted face, grown by ``grow`` of the face's size)
that R's mask M̂ leaves uncovered (within X's own face: beyond its outline is hair or background) are replaced by a smooth fill of X's skin around them
(:func:`~tfvsdk.texture.push_pull` of the own face's pixels outside the grown features), blended in over
a few pixels.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .checks import check_tensor
from .interfaces import Renderer
from .morphable import MorphableModel
from .texture import push_pull
from .texture_confidence import BROW_MARGIN, FEATURES, in_uv_polygon


@functools.lru_cache(maxsize=4)
def _features_texture(model: MorphableModel, size: int) -> torch.Tensor:
    """(1, 3, size, size) texture, 1 inside the model's features polygon (as the skin mask's), else 0."""
    centres = (torch.arange(size, dtype=model.uv.dtype, device=model.uv.device) + 0.5) / size
    v, u = torch.meshgrid(centres, centres, indexing="ij")
    inside = in_uv_polygon(model, FEATURES, u, v, brow_margin=BROW_MARGIN)
    return inside.to(model.uv.dtype).expand(1, 3, -1, -1).contiguous()


def fill_uncovered_features(
    frames: torch.Tensor,
    own_vertices: torch.Tensor,
    mask: torch.Tensor,
    model: MorphableModel,
    renderer: Renderer,
    *,
    grow: float = 0.06,
    texture_size: int = 128,
) -> torch.Tensor:
    """``frames`` with the facial features of their own fitted face filled where ``mask`` does not cover them.

    Args:
        frames: (B, 3, H, W) the frames an edit pastes onto, in [0, 1].
        own_vertices: (B, N, 3) the frames' own fitted mesh in their screen space.
        mask: (B, 1, H, W) the rendered face's mask M̂ that will be pasted.
        model: the morphable model (triangles, uv, landmarks).
        renderer: renders the features' texture on the own mesh.
        grow: the features grown by this fraction of the own face's size (√ of its pixel area), in pixels
            at least 1: the fitted features' outline is off by a few pixels, and shadows lie around them.
        texture_size: side of the features' UV texture.

    Returns:
        (B, 3, H, W) frames; unchanged where no own feature is left uncovered. A still (every frame and
        mesh the same) is rendered and filled once.
    """
    sizes: dict[str, int] = {}
    check_tensor("frames", frames, ("B", 3, "H", "W"), sizes)
    check_tensor("own_vertices", own_vertices, ("B", None, 3), sizes)
    check_tensor("mask", mask, ("B", 1, "H", "W"), sizes)
    still = len(frames) > 1 and torch.equal(frames, frames[:1].expand_as(frames)) and torch.equal(own_vertices, own_vertices[:1].expand_as(own_vertices))
    features, face, filled = _own_features(frames[:1] if still else frames, own_vertices[:1] if still else own_vertices, model, renderer, grow, texture_size)
    uncovered = features * face * (1 - mask)
    if not bool((uncovered > 0.5).any()):
        return frames
    weight = F.avg_pool2d(uncovered, 5, stride=1, padding=2, count_include_pad=False)
    return frames + weight * (filled - frames)


def _own_features(
    frames: torch.Tensor, own_vertices: torch.Tensor, model: MorphableModel, renderer: Renderer, grow: float, texture_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The grown features and the face mask of the frames' own fitted face, each (B, 1, H, W), and the
    (B, 3, H, W) smooth fill of the face's skin outside those features."""
    texture = _features_texture(model, texture_size).to(frames).expand(len(frames), -1, -1, -1)
    rendering = renderer.render(own_vertices, model.triangles, tuple(frames.shape[-2:]), uv=model.uv, texture=texture)
    face = rendering.mask
    radius = int(max(1.0, grow * float(face.flatten(1).sum(1).sqrt().max())))
    features = F.max_pool2d(rendering.image[:, :1] * face, 2 * radius + 1, stride=1, padding=radius)
    skin = face * (1 - features)
    return features, face, push_pull(frames, (skin > 0.5).to(frames.dtype))
