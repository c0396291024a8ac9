"""Deliberately broken variants of the package's components, one per kind, for its tests: each fails the
contract kit with a message naming this plugin (``tests/test_plugin.py`` registers the module at run time;
the entry point does not load it)."""

from __future__ import annotations


import tfvsdk
from tfvsdk import Composition

from .blender import UNetLite
from .composer import Mimic


class BatchMixing(UNetLite):
    """Adds the batch's mean appearance to every item: items are no longer independent."""

    def _blend(self, rendered, appearance, hint, mask):
        return (super()._blend(rendered, appearance, hint, mask) + appearance.mean(0, keepdim=True)) / 2


class ForgetfulSave(UNetLite):
    """Records no settings, so ``from_pretrained`` rebuilds another architecture than the one saved."""

    def get_config(self):
        return {}


class Averaging(Mimic):
    """Averages the two identities: it computes instead of choosing."""

    def _compose(self, fits):
        composition = super()._compose(fits)
        mean_id = (fits["target"].alpha_id + fits["driver"].alpha_id) / 2
        return Composition(mean_id, composition.alpha_exp, composition.camera, composition.image_size,
                           texture_role="target", appearance_role="target", hint_role="target")


@tfvsdk.hookimpl
def register_blenders(register):
    register("mixing", BatchMixing)
    register("forgetful", ForgetfulSave)


@tfvsdk.hookimpl
def register_composers(register):
    register("averaging", Averaging)


__all__ = ["Averaging", "BatchMixing", "ForgetfulSave"]
