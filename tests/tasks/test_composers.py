import math

import attrs
import pytest
import torch

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


@pytest.mark.parametrize("task, driving, shown", [("reenact", "driver", "source"), ("remix", "expression", "identity")])
def test_a_relative_expression_is_the_drivers_change_on_the_shown_faces_rest(task, driving, shown):
    composer = tfvsdk.create("composer", task, expression="relative")
    check_composer(composer, expected={"alpha_exp": driving, "alpha_id": shown})
    roles = {role: i for i, role in enumerate(composer.roles)}
    fits = {role: _fit(torch.full((3 if role == driving else 1, 2), float(i))) for role, i in roles.items()}
    fits[driving].alpha_exp[1] += torch.tensor([0.5, -0.25])
    prepared = composer.prepare(fits)
    composition = composer.compose({role: fit[torch.arange(3) % fit.batch_size] for role, fit in prepared.items()})
    expected = torch.full((3, 2), float(roles[shown]))
    expected[1] += torch.tensor([0.5, -0.25])
    assert torch.allclose(composition.alpha_exp, expected)
    with pytest.raises(tfvsdk.InputError, match=r"expression: expected one of \('absolute', 'relative'\)"):
        tfvsdk.create("composer", task, expression="mirrored")


def test_a_relative_pose_turns_the_source_by_the_drivers_turns_from_its_rest():
    from tfvsdk.metrics.pose import rotation_angle

    composer = tfvsdk.create("composer", "reenact", pose="relative")
    check_composer(composer, expected={"alpha_exp": "driver", "scale": "source", "translation": "source"})
    yaw = torch.tensor([0.5, 0.5, 0.8])
    driver = tfvsdk.Camera.from_euler(yaw, torch.zeros(3), torch.zeros(3), scale=torch.ones(3), translation=torch.zeros(3, 2))
    fits = {"source": _fit(torch.zeros(1, 2)), "driver": attrs.evolve(_fit(torch.zeros(3, 2)), camera=driver)}
    prepared = composer.prepare(fits)
    composition = composer.compose({role: fit[torch.arange(3) % fit.batch_size] for role, fit in prepared.items()})
    angle = rotation_angle(composition.camera.rotation, fits["source"].camera.rotation.expand(3, -1, -1))
    assert angle.tolist() == pytest.approx([0.0, 0.0, math.degrees(0.3)], abs=0.05)
    with pytest.raises(tfvsdk.InputError, match=r"pose: expected one of \('absolute', 'relative'\)"):
        tfvsdk.create("composer", "reenact", pose="mirrored")


def test_a_reenactment_whose_driver_rests_far_from_the_source_suggests_the_relative_pose(caplog):
    def fits(driver_yaw: float) -> dict:
        yaw = torch.full((3,), driver_yaw)
        driver = tfvsdk.Camera.from_euler(yaw, torch.zeros(3), torch.zeros(3), scale=torch.ones(3), translation=torch.zeros(3, 2))
        return {"source": _fit(torch.zeros(1, 2)), "driver": attrs.evolve(_fit(torch.zeros(3, 2)), camera=driver)}

    with caplog.at_level("WARNING"):
        tfvsdk.create("composer", "reenact").prepare(fits(math.radians(10)))
        tfvsdk.create("composer", "reenact", pose="relative").prepare(fits(math.radians(35)))
        tfvsdk.create("composer", "reenact", pose="absolute").prepare(fits(math.radians(35)))  # chosen: no warning
        assert not caplog.records
        reenact = tfvsdk.create("composer", "reenact")
        reenact.prepare(fits(math.radians(35)))
        reenact.prepare(fits(math.radians(35)))
    assert len(caplog.records) == 1, "once per composer"
    assert "rests 35° from the source's" in caplog.text and "composer.pose=relative" in caplog.text


def test_a_composer_whose_prepare_breaks_the_fits_is_named():
    from tfvsdk_tasks import Swap

    class Dropping(Swap):
        def _prepare(self, fits):
            return {"identity": fits["identity"]}

    class Shortening(Swap):
        def _prepare(self, fits):
            return {**fits, "target": fits["target"][:1]}

    fits = {"identity": _fit(torch.zeros(1, 2)), "target": _fit(torch.zeros(3, 2))}
    with pytest.raises(tfvsdk.PluginError, match=r"one fit per role \['identity', 'target'\], got \['identity'\]"):
        Dropping().prepare(fits)
    with pytest.raises(tfvsdk.PluginError, match=r"changed the \(batch, K_id, K_exp\) of roles \{'target': \(1, 3, 2\)\}"):
        Shortening().prepare(fits)


def _fit(alpha_exp):
    b = alpha_exp.shape[0]
    camera = tfvsdk.Camera.from_euler(torch.zeros(b), torch.zeros(b), torch.zeros(b), scale=torch.ones(b),
                                      translation=torch.zeros(b, 2))
    return tfvsdk.FaceFit(alpha_id=torch.zeros(b, 3), alpha_exp=alpha_exp.clone(), camera=camera, image_size=(64, 64))


def test_a_missing_source_is_named():
    swap = tfvsdk.create("composer", "swap")
    with pytest.raises(tfvsdk.InputError, match=r"missing fits for roles \['target'\]"):
        swap.compose({"identity": None})
