"""Colour outliers: blotches of a colour no source shows, on the astronaut's face (NASA, public domain)."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import pytest
import torch

from tfvsdk.errors import InputError
from tfvsdk.metrics import colour_outlier_map, colour_outliers

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture(scope="module")
def face() -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 3, 256, 256) the astronaut's face crop in [0, 1] and (1, 1, 256, 256) an ellipse on her face."""
    image = torch.from_numpy(iio.imread(ASSETS / "astronaut_face.png")).permute(2, 0, 1)[None].double() / 255
    y, x = torch.meshgrid(torch.arange(256.0) + 0.5, torch.arange(256.0) + 0.5, indexing="ij")
    mask = ((((x - 128) / 36) ** 2 + ((y - 104) / 48) ** 2) <= 1).double()[None, None]
    return image, mask


def disc(centre: tuple[float, float], radius: float) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(256.0) + 0.5, torch.arange(256.0) + 0.5, indexing="ij")
    return ((x - centre[0]) ** 2 + (y - centre[1]) ** 2 <= radius**2)[None, None]


def test_a_face_judged_against_itself_has_at_most_one_percent_outliers(face):
    image, mask = face

    assert float(colour_outliers(image, mask, [(image, mask)])) <= 0.01


def test_a_green_blotch_on_the_cheek_is_found_where_it_is(face):
    image, mask = face
    blotch = disc((108, 118), 10)
    edited = torch.where(blotch, image * image.new_tensor([0.6, 1.0, 0.7]).view(1, 3, 1, 1), image)

    outliers = colour_outlier_map(edited, mask, [(image, mask)])

    assert float(outliers[blotch].double().mean()) >= 0.9
    beyond_its_blur = ~disc((108, 118), 10 + 3)
    assert float(outliers[beyond_its_blur].double().sum() / mask.sum()) <= 0.01
    share = float(blotch.double().sum() / mask.sum())
    assert float(colour_outliers(edited, mask, [(image, mask)])) == pytest.approx(share, abs=0.02)


def test_light_is_not_an_outlier_but_a_turned_colour_is(face):
    image, mask = face

    assert float(colour_outliers(image * 0.7, mask, [(image, mask)])) <= 0.02
    assert float(colour_outliers(image[:, [2, 1, 0]], mask, [(image, mask)])) >= 0.9


def test_each_reference_adds_its_usual_colours(face):
    """A face with the identity's tone (here: a bluer one) is no outlier once the identity is a reference."""
    image, mask = face
    identity = image * image.new_tensor([0.8, 1.0, 1.2]).view(1, 3, 1, 1)

    alone = float(colour_outliers(identity, mask, [(image, mask)]))
    both = float(colour_outliers(identity, mask, [(image, mask), (identity, mask)]))

    assert alone >= 0.5
    assert both <= 0.01


def test_per_frame_references_judge_each_frame_by_its_own(face):
    image, mask = face
    frames = torch.cat([image, image[:, [2, 1, 0]]])
    masks = mask.expand(2, -1, -1, -1)

    own = colour_outliers(frames, masks, [(frames, masks)])
    first = colour_outliers(frames, masks, [(image, mask)])

    assert own.tolist() == pytest.approx([0.0, 0.0], abs=0.01)
    assert first[0] <= 0.01 and first[1] >= 0.9


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda i, m: colour_outliers(i, m, []), "references: expected at least one"),
        (lambda i, m: colour_outliers(i, m, [(i, torch.zeros_like(m))]), "has no face pixel"),
        (lambda i, m: colour_outliers(i, m, [(i.expand(3, -1, -1, -1), m.expand(3, -1, -1, -1))]), "expected 1 or 1 images"),
        (lambda i, m: colour_outliers(i[:, :1], m, [(i, m)]), "image"),
        (lambda i, m: colour_outliers(i, m, [(i, m)], coverage=1.0), "coverage"),
    ],
)
def test_bad_input_is_named(face, call, message):
    with pytest.raises(InputError, match=message):
        call(*face)
