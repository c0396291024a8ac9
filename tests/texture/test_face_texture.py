"""face_texture on synthetic heads: hair is kept out, a half-seen face is completed from its mirror only where
the mirror was seen better, a side light is removed, and the unseen mouth interior is marked for the target's."""

from __future__ import annotations

import math

import pytest
import torch

import tfvsdk
from tfvsdk.data.synth import SynthConfig, Synthesizer, backgrounds
from tfvsdk.texture import unwrap_texture
from tfvsdk.texture_confidence import face_texture, in_uv_polygon

SIZE = 160


@pytest.fixture(scope="module")
def synth() -> Synthesizer:
    torch.set_num_threads(1)
    return Synthesizer(SynthConfig(size=SIZE))


def head(synth: Synthesizer, yaw_degrees: float, light=(0.3, 0.2, 0.9, 0.5)):
    """A synthetic photo (1, 3, SIZE, SIZE) and its exact screen-space mesh."""
    model = synth.model
    g = torch.Generator().manual_seed(4)
    camera = synth.cameras(torch.tensor([[math.radians(yaw_degrees), 0.0, 0.0]]), torch.tensor([0.6]), torch.zeros(1, 2))
    alpha_id = torch.randn(1, model.n_id, generator=g).clamp(-2, 2)
    vertices = camera.project(model.shape(alpha_id, torch.zeros(1, model.n_exp)))
    fit = tfvsdk.FaceFit(alpha_id, torch.zeros(1, model.n_exp), camera, (SIZE, SIZE))
    image = synth.render(fit, torch.tensor([[0.85, 0.65, 0.55]]), torch.tensor([light]), backgrounds(1, SIZE, g))
    return image, vertices


def test_dark_hair_over_the_forehead_is_not_taken_into_the_texture(synth):
    model = synth.model
    image, vertices = head(synth, 0.0)
    brows = model.landmarks(vertices)[0, 17:27, :2]
    top = int(brows[:, 1].min()) - 2
    hair = image.clone()
    hair[..., :top, :] = torch.tensor([0.1, 0.08, 0.07]).view(1, 3, 1, 1)  # a dark fringe down to the brows

    plain = unwrap_texture(hair, vertices, model.triangles, model.uv, 128, symmetry=model.symmetry)[0]
    result = face_texture(hair, vertices, model, 128)
    forehead = (model.uv[model.landmark_indices[17:27]][:, 1].min() * 128).int()
    band = (..., slice(int(forehead) - 12, int(forehead) - 4), slice(50, 78))
    skin = torch.tensor([0.85, 0.65, 0.55]).view(1, 3, 1, 1)

    assert float(result.skin[band].mean()) < 0.2
    assert float((result.texture[band] - skin * 0.8).abs().mean()) < 0.5 * float((plain[band] - skin * 0.8).abs().mean())


def test_the_forehead_under_a_fringe_is_marked_for_the_targets_own(synth):
    """Hair over the forehead on both sides leaves nothing to mirror: those texels are marked to be taken from
    the frame the face is pasted into; a bare forehead and the cheeks are not."""
    model = synth.model
    image, vertices = head(synth, 0.0)
    brows = model.landmarks(vertices)[0, 17:27, :2]
    fringe = image.clone()
    fringe[..., : int(brows[:, 1].min()) - 2, :] = torch.tensor([0.1, 0.08, 0.07]).view(1, 3, 1, 1)
    size = 128
    forehead = int(model.uv[model.landmark_indices[17:27]][:, 1].min() * size)
    band = (..., slice(forehead - 12, forehead - 4), slice(50, 78))
    (row, column), _ = cheek_texels(model, size)

    covered = face_texture(fringe, vertices, model, size).forehead
    bare = face_texture(image, vertices, model, size).forehead

    assert float(covered[band].mean()) > 0.8
    assert float(bare[band].max()) < 0.05
    assert float(covered[0, 0, row, column]) == 0


def test_the_shadow_under_a_fringe_is_left_out_of_what_the_edit_shows(synth):
    """Skin just below a fringe's edge is in its shadow (here 10 % darker, enough to pass the skin test):
    its weight ramps up from the hairline, so the edit takes those texels from the target rather than
    drawing the shadow as a dark line across the forehead."""
    model = synth.model
    image, vertices = head(synth, 0.0)
    edge = int(model.landmarks(vertices)[0, 17:27, 1].min()) - 10
    fringe = image.clone()
    fringe[..., :edge, :] = torch.tensor([0.1, 0.08, 0.07]).view(1, 3, 1, 1)
    shadowed = fringe.clone()
    shadowed[..., edge : edge + 3, :] *= 0.9
    size = 128
    seen_fringe = unwrap_texture(fringe, vertices, model.triangles, model.uv, size)[0]
    seen_shadow = unwrap_texture(shadowed, vertices, model.triangles, model.uv, size)[0]
    photo_shadow = (seen_fringe - seen_shadow).abs().amax(1, keepdim=True)
    band = photo_shadow > 0.01

    def shown(result):  # the identity's part of the edit; the rest is the target's forehead
        return result.texture * (1 - result.forehead)

    with_shadow = face_texture(shadowed, vertices, model, size)
    without = face_texture(fringe, vertices, model, size)
    edit_shadow = (shown(with_shadow) - shown(without)).abs().amax(1, keepdim=True)

    assert float(edit_shadow[band].mean()) < 0.2 * float(photo_shadow[band].mean())  # 0.30 without the ramp


def test_a_single_strand_over_the_forehead_is_filled_not_taken_from_the_target(synth):
    model = synth.model
    image, vertices = head(synth, 0.0)
    brows = model.landmarks(vertices)[0, 17:27, :2]
    middle = int(brows[:, 0].mean())
    strand = image.clone()
    strand[..., : int(brows[:, 1].min()) - 4, middle - 1 : middle + 1] = torch.tensor([0.1, 0.08, 0.07]).view(1, 3, 1, 1)
    size = 128
    result = face_texture(strand, vertices, model, size, delight=False)
    plain = face_texture(image, vertices, model, size, delight=False).texture
    forehead = int(model.uv[model.landmark_indices[17:27]][:, 1].min() * size)
    gap = (..., slice(forehead - 16, forehead - 8), slice(size // 2 - 3, size // 2 + 3))

    assert float(result.skin[..., forehead - 16 : forehead - 8, size // 2 - 2 : size // 2 + 2].min()) < 0.5  # seen as hair
    assert float(result.forehead[..., forehead - 16 : forehead - 8, size // 2 - 10 : size // 2 + 10].max()) < 0.05
    assert float((result.texture[gap] - plain[gap]).abs().max()) < 1.5 / 255  # filled from the skin beside it


def texel_centres(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(u, v), each (size, size): the texture coordinates of every texel's centre."""
    v, u = torch.meshgrid((torch.arange(size) + 0.5) / size, (torch.arange(size) + 0.5) / size, indexing="ij")
    return u, v


def cheek_texels(model: tfvsdk.MorphableModel, size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(row, col) of a texel on each cheek (between landmarks 2 and 31, and 14 and 35)."""
    out = []
    for jaw, nose in ((2, 31), (14, 35)):
        u, v = (model.uv[model.landmark_indices[[jaw, nose]]].mean(0) * size).round().long().tolist()
        out.append((v, u))
    return tuple(out)


def test_a_half_seen_face_takes_the_mirror_only_where_the_mirror_was_seen_better(synth):
    model = synth.model
    near, far = cheek_texels(model, 128)

    image, vertices = head(synth, 55.0, light=(0.8, 0.1, 0.6, 0.3))
    turned = face_texture(image, vertices, model, 128, delight=False)
    seen_side, hidden_side = (near, far) if turned.confidence[0, 0][near] > turned.confidence[0, 0][far] else (far, near)
    assert float(turned.confidence[0, 0][seen_side]) > 0.5
    assert (turned.texture[0, :, hidden_side[0], hidden_side[1]] - turned.texture[0, :, seen_side[0], seen_side[1]]).abs().max() < 0.05

    image, vertices = head(synth, 0.0, light=(0.9, 0.0, 0.4, 0.2))  # lit from one side: the cheeks differ
    frontal = face_texture(image, vertices, model, 128, delight=False)
    plain = unwrap_texture(image, vertices, model.triangles, model.uv, 128)[0]
    for texel in (near, far):
        assert (frontal.texture[0, :, texel[0], texel[1]] - plain[0, :, texel[0], texel[1]]).abs().max() < 0.03
    assert (plain[0, :, near[0], near[1]] - plain[0, :, far[0], far[1]]).abs().max() > 0.1


def test_completed_de_lit_a_mirrored_side_takes_the_light_where_it_lies(synth):
    """``complete_delit``: what the photo shows stays as it shows it; a hidden side mirrored from the seen one
    takes the shading of where it lies (the seen side's de-lit colour under the hidden side's shading),
    where the default copies the seen colour, shading and all."""
    model = synth.model
    near, far = cheek_texels(model, 128)
    image, vertices = head(synth, 55.0, light=(0.8, 0.1, 0.6, 0.3))
    photo = face_texture(image, vertices, model, 128)
    delit = face_texture(image, vertices, model, 128, complete_delit=True)
    seen, hidden = (near, far) if photo.seen[0, 0][near] > photo.seen[0, 0][far] else (far, near)
    assert photo.seen[0, 0][seen] == 1 and photo.seen[0, 0][hidden] == 0

    def at(texture: torch.Tensor, texel: tuple[int, int]) -> torch.Tensor:
        return texture[0, :, texel[0], texel[1]]

    relit = (at(photo.texture, seen) / at(delit.shading, seen) * at(delit.shading, hidden)).clamp(0, 1)
    assert (at(delit.texture, seen) - at(photo.texture, seen)).abs().max() < 0.02
    assert (at(delit.texture, hidden) - relit).abs().max() < 0.05
    assert (at(photo.texture, hidden) - relit).abs().max() > 0.1, "the two places are lit differently"


def test_delighting_evens_out_a_side_light(synth):
    model = synth.model
    near, far = cheek_texels(model, 128)
    image, vertices = head(synth, 0.0, light=(0.9, 0.0, 0.4, 0.2))
    lit = face_texture(image, vertices, model, 128, delight=False).texture[0]
    flat = face_texture(image, vertices, model, 128, delight=True).texture[0]

    def difference(texture: torch.Tensor) -> float:
        return float((texture[:, near[0], near[1]] - texture[:, far[0], far[1]]).abs().mean())

    assert difference(flat) < 0.5 * difference(lit)


def test_the_closed_mouths_interior_is_marked_and_seen_skin_is_confident(synth):
    model = synth.model
    image, vertices = head(synth, 0.0)
    result = face_texture(image, vertices, model, 128)
    lips = model.uv[model.landmark_indices[60:68]] * 128
    centre = lips.mean(0).round().long()

    assert float(result.mouth[0, 0, centre[1], centre[0]]) > 0.5
    cheek = (model.uv[model.landmark_indices[[2, 31]]].mean(0) * 128).round().long()
    assert float(result.confidence[0, 0, cheek[1], cheek[0]]) > 0.5
    assert float(result.mouth[0, 0, cheek[1], cheek[0]]) == 0
    lips = in_uv_polygon(model, (48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59), *texel_centres(128))
    inside = in_uv_polygon(model, (60, 61, 62, 63, 64, 65, 66, 67), *texel_centres(128))
    assert float(result.mouth[0, 0][lips & ~inside].max()) == 0  # the lips keep their own texels


@pytest.mark.parametrize("shift", [0.0, 3.0])
def test_dark_brows_are_kept_and_do_not_make_the_forehead_hair(synth, shift):
    """Dark brows drawn 4 px thick on the brow landmarks (which iBUG puts on the brow's centre line), and
    drawn ``shift`` px higher (a fit that placed the brows low): the brows' upper half stays in the
    texture, and the skin of the forehead above them is not taken for hair (a dark brow is a feature, not
    the lower edge of a fringe)."""
    model = synth.model
    image, vertices = head(synth, 0.0)
    points = model.landmarks(vertices)[0, :, :2] - torch.tensor([0.0, shift])
    yy, xx = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    pixels = torch.stack([xx, yy], -1).reshape(-1, 2)
    near = torch.zeros(SIZE * SIZE, dtype=torch.bool)
    for side in (range(17, 22), range(22, 27)):
        line = points[list(side)]
        for a, b in zip(line[:-1], line[1:]):
            t = ((pixels - a) @ (b - a) / (b - a).dot(b - a)).clamp(0, 1)
            near |= (pixels - (a + t[:, None] * (b - a))).norm(dim=1) <= 2.0
    brows = image.clone()
    brows[..., near.view(SIZE, SIZE)] = torch.tensor([0.12, 0.09, 0.08]).view(3, 1)

    size = 128
    result = face_texture(brows, vertices, model, size, delight=False)
    uv = model.uv[model.landmark_indices]
    for landmark in (18, 19, 20, 23, 24, 25):
        column, row = (uv[landmark] * size).long().tolist()
        assert float(result.texture[0, :, row - 1, column].mean()) < 0.3  # above the centre line: still brow
        assert float(result.skin[0, 0, row - 16 : row - 10, column].min()) == 1.0  # forehead skin above it


def test_a_photo_re_rendered_at_its_own_pose_keeps_its_seen_pixels(synth):
    """A turned, side-lit head rendered back with its own texture (the default, as the editor textures an
    identity: the photo's shading kept): the texels the photo shows keep the photo's colours (own view over
    mirror and prior), so the re-rendering matches the photo inside the face."""
    model = synth.model
    renderer = tfvsdk.create("renderer", "raster")
    image, vertices = head(synth, 25.0, light=(0.9, 0.0, 0.4, 0.2))
    texture = face_texture(image, vertices, model, 128).texture
    rendering = renderer.render(vertices, model.triangles, (SIZE, SIZE), uv=model.uv, texture=texture)
    inside = -torch.nn.functional.max_pool2d(-rendering.mask, 5, stride=1, padding=2) > 0.5

    error = (rendering.image[:, :3] - image).abs().mean(1, keepdim=True)[inside]

    assert float(error.mean()) * 255 < 5.5


@pytest.mark.parametrize("yaw", [40.0, 60.0])
def test_the_noses_occluding_edge_on_a_turned_head_counts_as_silhouette(synth, yaw):
    """Beside the nose of a turned head the photo shows the nose's other side or its shadow, and the fitted
    nose is as far off as the outline: those texels lose confidence as next to the outline — and only
    those, between the brows and the nose's tip, never on the cheeks or the jaw."""
    model = synth.model
    image, vertices = head(synth, yaw)
    with_edges = face_texture(image, vertices, model, 128, delight=False).confidence[0, 0]
    outline_only = face_texture(image, vertices, model, 128, delight=False, occlusion_fraction=None).confidence[0, 0]

    rows, columns = ((outline_only > 0.9) & (with_edges < 0.5)).nonzero(as_tuple=True)
    uv = model.uv[model.landmark_indices] * 128
    nose_tip = float(uv[27:36, 1].max())
    brows = float(uv[17:27, 1].min())
    eye_corners = sorted(float(uv[k, 0]) for k in (36, 45))
    assert len(rows) > 40
    assert brows <= float(rows.min()) and float(rows.max()) <= nose_tip + 2
    assert eye_corners[0] <= float(columns.min()) and float(columns.max()) <= eye_corners[1]


def test_the_forehead_blur_is_the_square_average_in_two_passes():
    from tfvsdk.texture_confidence import _box_blur

    x = torch.rand(2, 1, 64, 48, generator=torch.Generator().manual_seed(0))
    square = torch.nn.functional.avg_pool2d(x, 13, stride=1, padding=6, count_include_pad=False)
    torch.testing.assert_close(_box_blur(x, 6), square, atol=1e-6, rtol=0)
