import pytest

import tfvsdk
from tfvsdk.testing import check_composer

EXPECTED = {
    "swap": {"alpha_id": "identity", "alpha_exp": "target", "camera": "target", "texture_role": "identity",
             "appearance_role": "target", "hint_role": "target"},
    "reenact": {"alpha_id": "source", "alpha_exp": "driver", "rotation": "driver", "scale": "source",
                "translation": "source", "texture_role": "source", "appearance_role": "source", "hint_role": "source"},
    "remix": {"alpha_id": "identity", "alpha_exp": "expression", "camera": "pose", "texture_role": "identity",
              "appearance_role": "pose", "hint_role": "pose"},
}


@pytest.mark.parametrize("task", sorted(EXPECTED))
def test_each_task_picks_the_sources_the_paper_names(task):
    composer = tfvsdk.create("composer", task)
    check_composer(composer, expected=EXPECTED[task])
    assert composer.timeline_role == EXPECTED[task].get("camera", EXPECTED[task].get("rotation"))


def test_reenactment_can_take_the_whole_camera_from_the_driver():
    from tfvsdk_tasks import Reenact

    check_composer(Reenact(placement="driver"), expected={"camera": "driver", "alpha_exp": "driver"})
    with pytest.raises(tfvsdk.InputError, match="placement: expected 'source' or 'driver'"):
        Reenact(placement="nowhere")


def test_a_missing_source_is_named():
    swap = tfvsdk.create("composer", "swap")
    with pytest.raises(tfvsdk.InputError, match=r"missing fits for roles \['target'\]"):
        swap.compose({"identity": None})
