"""The contract kit catches each way a component can break its interface's contract, naming the component."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

import tfvsdk
from tfvsdk import Composition, FaceFit, PluginError
from tfvsdk.testing import check_blender, check_composer, check_reconstructor, check_trainable_blender

# -- blenders ---------------------------------------------------------------------------------------------


class Paste(tfvsdk.Blender):
    """A correct blender: R inside the mask, the appearance frame outside."""

    def _blend(self, rendered, appearance, hint, mask):
        return rendered * mask + appearance * (1 - mask)


class Mutating(Paste):
    def _blend(self, rendered, appearance, hint, mask):
        return rendered.mul_(mask).add_(appearance * (1 - mask))


class MixingBatch(Paste):
    def _blend(self, rendered, appearance, hint, mask):
        return (super()._blend(rendered, appearance, hint, mask) + appearance.mean(0, keepdim=True)) / 2


class Grey(Paste):
    def _blend(self, rendered, appearance, hint, mask):
        return torch.full_like(appearance, 0.5)


class Float64(Paste):
    def _blend(self, rendered, appearance, hint, mask):
        return super()._blend(rendered, appearance, hint, mask).double()


def test_a_correct_blender_passes():
    check_blender(Paste())


@pytest.mark.parametrize(
    ("blender", "message"),
    [
        (Mutating(), r"modified its input\(s\) \['rendered'\] in place"),
        (MixingBatch(), "batch items are not independent"),
        (Grey(), "does not depend on the rendered face"),
        (Float64(), "returned torch.float64 for torch.float32 inputs"),
    ],
)
def test_the_kit_catches_a_broken_blender(blender, message):
    with pytest.raises(AssertionError, match=message):
        check_blender(blender)


class GreyPlugin:
    @tfvsdk.hookimpl
    def register_blenders(self, register):
        register("grey", Grey)


def test_a_kit_failure_names_the_plugin_and_the_component(fresh_plugins):
    fresh_plugins.register(GreyPlugin(), name="grey-plugin")
    with pytest.raises(AssertionError, match=r"^plugin 'grey-plugin' \(blender 'grey'\): .*rendered face"):
        check_blender(tfvsdk.create("blender", "grey"))


def test_a_wrong_output_is_a_plugin_error_when_the_pipeline_calls_the_blender(fresh_plugins):
    fresh_plugins.register(type("P", (), {"register_blenders": tfvsdk.hookimpl(lambda self, register: register("f64", Float64))})(), name="f64-plugin")
    blender = tfvsdk.create("blender", "f64")
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(PluginError, match="plugin 'f64-plugin' \\(blender 'f64'\\) broke its contract") as info:
        blender.blend(x, x, x, torch.ones(1, 1, 8, 8))
    assert (info.value.plugin, info.value.kind, info.value.name) == ("f64-plugin", "blender", "f64")


# -- trainable blenders -----------------------------------------------------------------------------------


class Embed(nn.Module):
    """E(appearance, hint): one conv over both."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(6, width, 3, padding=1)

    def forward(self, appearance, hint):
        return self.conv(torch.cat([appearance, hint], 1))


class ListOf(nn.Module):
    """D: one PatchGAN layer, returned as a list of one logit map."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 4, stride=2)

    def forward(self, image):
        return [self.conv(image)]


class Tiny(tfvsdk.TrainableBlender):
    """The smallest trainable blender: E and G one conv each, D one conv."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.width = width
        self.embedder = Embed(width)
        self.head = nn.Conv2d(3 + width + 1, 3, 3, padding=1)
        self.discriminator = None

    def get_config(self):
        return {"width": self.width}

    def build_discriminator(self):
        return ListOf()

    def _blend(self, rendered, appearance, hint, mask):
        face = torch.sigmoid(self.head(torch.cat([rendered, self.embedder(appearance, hint), mask], 1)))
        return face * mask + appearance * (1 - mask)


class TensorD(Tiny):
    def build_discriminator(self):
        return nn.Conv2d(3, 1, 4, stride=2)


class ForgetsItsConfig(Tiny):
    def get_config(self):
        return {}


def test_a_trainable_blender_passes_and_round_trips_through_a_pretrained_folder(tmp_path):
    torch.manual_seed(0)
    check_trainable_blender(Tiny(width=5))
    saved = Tiny(width=5).save_pretrained(tmp_path / "tiny")
    assert Tiny.from_pretrained(saved).width == 5


@pytest.mark.parametrize(
    ("blender", "message"),
    [
        (TensorD(), "must return a non-empty list of logit maps"),
        (ForgetsItsConfig(width=6), "weights do not fit"),
        (Paste(), "not a tfvsdk.TrainableBlender"),
    ],
)
def test_the_kit_catches_a_broken_trainable_blender(blender, message):
    with pytest.raises(AssertionError, match=message):
        check_trainable_blender(blender)


def test_a_pretrained_folder_of_a_newer_format_is_refused(tmp_path):
    import json

    saved = Tiny().save_pretrained(tmp_path / "tiny")
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(tfvsdk.ModelFileError, match="format_version 99"):
        Tiny.from_pretrained(saved)


# -- composers --------------------------------------------------------------------------------------------


def test_a_timeline_role_outside_the_roles_fails_when_the_class_is_defined():
    with pytest.raises(TypeError, match="timeline_role 'pose' is not one of its roles"):

        class Wrong(tfvsdk.TaskComposer):
            roles = ("identity", "target")
            timeline_role = "pose"

            def _compose(self, fits): ...


def test_roles_that_clash_with_the_command_options_are_refused():
    with pytest.raises(TypeError, match="roles must be distinct lower-case names"):

        class Clash(tfvsdk.TaskComposer):
            roles = ("identity", "output")
            timeline_role = "identity"

            def _compose(self, fits): ...


class RolesInInit(tfvsdk.TaskComposer):
    def __init__(self):
        self.roles = ("identity", "target")
        self.timeline_role = "target"

    def _compose(self, fits): ...


def test_roles_set_in_init_are_refused():
    with pytest.raises(TypeError, match="roles and timeline_role must be class attributes"):
        RolesInInit()


class NamesAnUnknownRole(tfvsdk.TaskComposer):
    roles = ("identity", "target")
    timeline_role = "target"

    def _compose(self, fits):
        target = fits["target"]
        return Composition(fits["identity"].alpha_id, target.alpha_exp, target.camera, target.image_size, texture_role="nope")


def test_a_composition_naming_an_unknown_role_fails_the_kit():
    with pytest.raises(AssertionError, match=r"named roles the task does not have: \{'texture_role': 'nope'"):
        check_composer(NamesAnUnknownRole())


# -- reconstructors ---------------------------------------------------------------------------------------


class FromLandmarks(tfvsdk.Reconstructor):
    """Coefficients from the landmarks' centroid; with ``shared=False`` it ignores ``clip`` (a broken clip fit)."""

    def __init__(self, shared: bool = True) -> None:
        self.shared = shared
        self._model = tfvsdk.create("model", "default")

    @property
    def model(self):
        return self._model

    def _fit(self, images, *, clip, detection):
        if detection is None:
            raise tfvsdk.InputError("this reconstructor needs landmarks: pass detection=")
        b = images.shape[0]
        centre = detection.landmarks.nanmean(1)
        alpha_id = centre[:, :1].expand(b, self.model.n_id) / 100
        if clip and self.shared:
            alpha_id = alpha_id[:1].expand(b, -1)
        camera = tfvsdk.Camera.from_euler(torch.zeros(b), torch.zeros(b), torch.zeros(b), scale=torch.ones(b), translation=centre)
        return FaceFit(alpha_id.contiguous(), torch.zeros(b, self.model.n_exp), camera, tuple(images.shape[-2:]))


def _detection(b: int = 3) -> tfvsdk.Detection:
    landmarks = torch.rand(b, 68, 2) * 32 + torch.arange(b)[:, None, None] * 5
    return tfvsdk.Detection(landmarks, torch.ones(b, dtype=torch.bool), (64, 64))


def test_check_reconstructor_passes_given_landmarks_through():
    fit = check_reconstructor(FromLandmarks(), torch.rand(3, 3, 64, 64), detection=_detection(), clip=True)
    assert fit.batch_size == 3


def test_a_clip_fit_with_different_identity_rows_fails_the_kit():
    with pytest.raises(AssertionError, match="must share one identity"):
        check_reconstructor(FromLandmarks(shared=False), torch.rand(3, 3, 64, 64), detection=_detection(), clip=True)


class Float64Coefficients(FromLandmarks):
    def _fit(self, images, *, clip, detection):
        fit = super()._fit(images, clip=clip, detection=detection)
        return FaceFit(fit.alpha_id.double(), fit.alpha_exp.double(), fit.camera, fit.image_size)


def test_coefficients_of_another_dtype_than_the_model_fail_the_kit():
    with pytest.raises(AssertionError, match=r"Float64Coefficients broke its contract: fit\(\) returned coefficients of dtype .*float64.* for a model of dtype torch.float32"):
        check_reconstructor(Float64Coefficients(), torch.rand(3, 3, 64, 64), detection=_detection())


# -- the kit without hypothesis ---------------------------------------------------------------------------

WITHOUT_HYPOTHESIS = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "hypothesis" or name.startswith("hypothesis."):
            raise ModuleNotFoundError("No module named 'hypothesis'")
sys.meta_path.insert(0, Block())
import tfvsdk.testing as kit
kit.check_blender
try:
    kit.cameras
except ImportError as exc:
    print("ImportError:", exc)
"""


def test_the_kit_imports_without_hypothesis_and_says_what_the_strategies_need():
    result = subprocess.run([sys.executable, "-c", WITHOUT_HYPOTHESIS], capture_output=True, text=True, check=True)
    assert "tfvsdk.testing.cameras needs hypothesis: pip install 'tfvsdk[testing]'" in result.stdout
