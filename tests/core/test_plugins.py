import json
import os
import subprocess
import sys

import pytest
import torch

import tfvsdk
from tfvsdk import PluginError, StartupError
from tfvsdk.testing import check_renderer

THIRD_PARTY_PLUGIN = '''
import torch
import tfvsdk
from tfvsdk.records import Rendering


class FlatRenderer(tfvsdk.Renderer):
    """Paints every pixel with the mean vertex depth: a deliberately useless renderer for the test."""

    def __init__(self, colour=0.5):
        self.colour = colour

    def render(self, vertices, triangles, image_size, *, uv=None, texture=None):
        b, (h, w) = vertices.shape[0], image_size
        return Rendering(
            image=torch.full((b, 3, h, w), self.colour),
            mask=torch.zeros(b, 1, h, w),
            depth=torch.full((b, 1, h, w), float("-inf")),
            triangle_id=torch.full((b, h, w), -1, dtype=torch.int64),
            barycentrics=torch.zeros(b, h, w, 3),
            vertices=vertices,
        )


@tfvsdk.hookimpl
def register_renderers(register):
    register("flat", FlatRenderer, description="flat colour")
'''


@pytest.fixture
def installed_third_party_plugin(tmp_path, monkeypatch, fresh_plugins):
    """A plugin package 'tfv_flat' installed outside tfvsdk, found through the 'tfvsdk' entry-point group."""
    (tmp_path / "tfv_flat.py").write_text(THIRD_PARTY_PLUGIN)
    dist = tmp_path / "tfv_flat-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tfv-flat\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[tfvsdk]\nflat = tfv_flat\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("TFVSDK_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    return fresh_plugins


def test_a_third_party_plugin_registers_a_renderer_found_by_name(installed_third_party_plugin):
    assert "flat" in tfvsdk.available("renderer")
    renderer = tfvsdk.create("renderer", "flat", colour=0.25)
    out = renderer.render(torch.zeros(2, 3, 3), torch.tensor([[0, 1, 2]]), (4, 5))
    assert out.image.shape == (2, 3, 4, 5) and out.image.max() == 0.25
    info = {p["name"]: p for p in installed_third_party_plugin.plugin_info()}
    assert info["flat"]["version"] == "1.2.3" and info["flat"]["components"] == {"renderer": ["flat"]}


def test_the_environment_variable_turns_entry_point_autoloading_off(installed_third_party_plugin, monkeypatch):
    monkeypatch.setenv("TFVSDK_DISABLE_PLUGIN_AUTOLOAD", "1")
    installed_third_party_plugin.reset()
    assert "flat" not in tfvsdk.available("renderer")
    assert "default" in tfvsdk.available("model")


def test_the_contract_check_catches_a_renderer_that_breaks_the_contract(installed_third_party_plugin):
    with pytest.raises(AssertionError, match="triangle ids differ"):
        check_renderer(tfvsdk.create("renderer", "flat"))


def test_unknown_names_list_what_exists_with_a_close_match():
    with pytest.raises(PluginError, match=r"unknown model 'defualt'; did you mean 'default'\? Available: .*sfm"):
        tfvsdk.create("model", "defualt")
    with pytest.raises(PluginError, match="unknown component kind 'renderers'"):
        tfvsdk.available("renderers")


class Raising:
    @tfvsdk.hookimpl
    def register_blenders(self, register):
        raise RuntimeError("boom")


def test_an_exception_inside_a_registration_hook_names_the_plugin(fresh_plugins):
    fresh_plugins.register(Raising(), name="raising-plugin")
    with pytest.raises(PluginError, match=r"plugin 'raising-plugin' raised in register_blenders: RuntimeError\('boom'\)"):
        tfvsdk.available("blender")


class BrokenFactory:
    @tfvsdk.hookimpl
    def register_composers(self, register):
        def factory(**config):
            raise KeyError("missing weights")

        register("broken", factory)
        register("not-a-composer", lambda: object())


def test_a_factory_that_raises_or_returns_the_wrong_type_names_the_plugin(fresh_plugins):
    fresh_plugins.register(BrokenFactory(), name="broken-plugin")
    with pytest.raises(PluginError, match="plugin 'broken-plugin' failed to create composer 'broken': KeyError"):
        tfvsdk.create("composer", "broken")
    with pytest.raises(PluginError, match="'not-a-composer' is a object, not a TaskComposer"):
        tfvsdk.create("composer", "not-a-composer")


class FailingRendererPlugin:
    class Failing(tfvsdk.Renderer):
        def render(self, vertices, triangles, image_size, *, uv=None, texture=None):
            raise ZeroDivisionError("oops")

    @tfvsdk.hookimpl
    def register_renderers(self, register):
        register("failing", self.Failing)


def test_an_exception_while_a_component_runs_names_its_plugin(fresh_plugins):
    fresh_plugins.register(FailingRendererPlugin(), name="failing-plugin")
    renderer = tfvsdk.create("renderer", "failing")
    with pytest.raises(PluginError, match=r"plugin 'failing-plugin' \(renderer 'failing'\) raised while rendering: ZeroDivisionError"):
        with fresh_plugins.reporting(renderer, "rendering"):
            renderer.render(torch.zeros(1, 3, 3), torch.tensor([[0, 1, 2]]), (1, 1))


class Duplicate:
    @tfvsdk.hookimpl
    def register_morphable_models(self, register):
        register("default", lambda: None)


def test_a_duplicate_component_name_is_a_startup_error(fresh_plugins):
    fresh_plugins.register(Duplicate(), name="dup")
    with pytest.raises(StartupError, match="model 'default' is registered by both plugin 'tfvsdk_models' and plugin 'dup'"):
        tfvsdk.available("model")


class Misspelled:
    @tfvsdk.hookimpl
    def register_renderer(self, register):  # missing the final "s"
        pass


def test_a_misspelled_hook_is_refused(fresh_plugins):
    with pytest.raises(PluginError, match="register_renderer"):
        fresh_plugins.register(Misspelled(), name="typo")


def test_hook_implementations_may_take_fewer_arguments(fresh_plugins):
    class NoArgs:
        @tfvsdk.hookimpl
        def on_train_step_end(self, step):
            self.seen = step

    plugin = NoArgs()
    fresh_plugins.register(plugin, name="no-args")
    fresh_plugins.get_plugin_manager().hook.on_train_step_end(trainer=None, step=7, metrics={})
    assert plugin.seen == 7


def test_tfv_plugins_json_lists_the_default_plugins(fresh_plugins):
    from click.testing import CliRunner

    from tfvsdk.cli import cli

    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    info = {p["name"]: p for p in json.loads(result.output)}
    kinds = {kind for p in info.values() for kind in p["components"]}
    assert kinds == set(fresh_plugins.KINDS), "every kind of component has a default plugin"
    assert all(info[name]["builtin"] for name in fresh_plugins.DEFAULT_PLUGINS)
    components = {kind: set(names) for p in info.values() for kind, names in p["components"].items()}
    assert components["model"] >= {"default", "sfm", "bfm"}
    assert components["reconstructor"] >= {"landmarks"} and components["renderer"] >= {"raster"}
    deprecated = {kind: set(names) for p in info.values() for kind, names in p["deprecated_names"].items()}
    assert deprecated["reconstructor"] >= {"3ddfa"} and deprecated["renderer"] >= {"nvdiffrast"}
    assert components["blender"] >= {"bsn", "classical"} and components["composer"] >= {"swap", "reenact", "remix"}
    assert components["detector"] >= {"dlib"}


def _fake_distribution(folder, name: str, module: str, source: str, version: str = "0.1") -> None:
    """An installed distribution ``name`` whose ``tfvsdk`` entry point is the module ``module``."""
    (folder / f"{module}.py").write_text(source)
    dist = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[tfvsdk]\n{module} = {module}\n")


def _tfv(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "import sys; from tfvsdk.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def broken_distribution(tmp_path):
    """An environment in which the distribution 'tfv-broken' declares an entry point that cannot import."""
    _fake_distribution(tmp_path, "tfv-broken", "tfv_broken", "import a_module_that_is_not_installed\n", "2.0")
    env = {k: v for k, v in os.environ.items() if k != "TFVSDK_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    return env


def test_an_entry_point_that_cannot_import_is_named_and_skipped_by_tfv(broken_distribution):
    help_ = _tfv("--help", env=broken_distribution)
    assert help_.returncode == 0 and "swap" in help_.stdout, help_.stderr
    assert "plugin 'tfv_broken'" in help_.stderr and "ModuleNotFoundError" in help_.stderr
    listing = _tfv("plugins", env=broken_distribution)
    assert listing.returncode == 0, listing.stderr
    assert "tfv_broken (version 2.0): FAILED to load, skipped: tfv_broken: ModuleNotFoundError" in listing.stdout
    info = {p["name"]: p for p in json.loads(_tfv("plugins", "--json", env=broken_distribution).stdout)}
    assert "a_module_that_is_not_installed" in info["tfv_broken"]["error"] and info["tfvsdk_blenders"]["error"] is None


def test_failed_plugins_are_reported_in_python_too(broken_distribution, monkeypatch, fresh_plugins):
    monkeypatch.syspath_prepend(broken_distribution["PYTHONPATH"].split(os.pathsep)[0])
    monkeypatch.delenv("TFVSDK_DISABLE_PLUGIN_AUTOLOAD")
    fresh_plugins.reset()
    assert "classical" in tfvsdk.available("blender")
    (failure,) = fresh_plugins.failed_plugins()
    assert (failure.name, failure.distribution, failure.version) == ("tfv_broken", "tfv-broken", "2.0")


@pytest.mark.parametrize(
    ("env", "loaded"),
    [
        ({"TFVSDK_DISABLE_PLUGINS": "flat"}, False),
        ({"TFVSDK_PLUGINS": "someone-else"}, False),
        ({"TFVSDK_PLUGINS": "tfv-flat"}, True),  # the distribution's name works as well as the entry point's
        ({"TFVSDK_PLUGINS": "flat,other"}, True),
    ],
)
def test_allow_and_block_lists_choose_the_entry_point_plugins(installed_third_party_plugin, monkeypatch, env, loaded):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    installed_third_party_plugin.reset()
    assert ("flat" in tfvsdk.available("renderer")) is loaded


def test_the_block_list_can_leave_out_a_built_in_plugin(fresh_plugins, monkeypatch):
    monkeypatch.setenv("TFVSDK_DISABLE_PLUGINS", "tfvsdk_dlib")
    fresh_plugins.reset()
    assert tfvsdk.available("detector") == []


def test_tfv_plugins_trace_logs_each_hook_call_per_plugin():
    env = dict(os.environ)
    result = _tfv("plugins", "--kind", "blender", "--trace", env=env)
    assert result.returncode == 0, result.stderr
    assert "hook register_blenders(register) -> tfvsdk_blenders: ok in" in result.stderr
    assert result.stderr.count("register_blenders(register) -> tfvsdk_blenders") == 1, result.stderr  # not again through the root logger
    traced = _tfv("plugins", env={**env, "TFVSDK_TRACE_HOOKS": "1"})
    assert "hook register_renderers(register) -> tfvsdk_raster: ok" in traced.stderr


class InputErrorFactory:
    @tfvsdk.hookimpl
    def register_blenders(self, register):
        def picky(strength: float = 1.0):
            raise tfvsdk.InputError(f"strength: expected <= 1, got {strength}")

        register("picky", picky)


def test_an_sdk_error_from_a_factory_keeps_its_type_and_names_the_plugin(fresh_plugins):
    fresh_plugins.register(InputErrorFactory(), name="picky-plugin")
    with pytest.raises(tfvsdk.InputError, match=r"^plugin 'picky-plugin' \(blender 'picky'\): strength: expected <= 1"):
        tfvsdk.create("blender", "picky", strength=2.0)
    with pytest.raises(tfvsdk.InputError, match=r"has no setting 'strenght'; did you mean 'strength'\?"):
        tfvsdk.create("blender", "picky", strenght=2.0)


class RaisingLosses:
    @tfvsdk.hookimpl
    def training_losses(self, outputs):
        raise ValueError("no such tensor")


def test_a_raising_behaviour_hook_names_the_plugin(fresh_plugins):
    fresh_plugins.register(RaisingLosses(), name="losses-plugin")
    with pytest.raises(PluginError, match=r"plugin 'losses-plugin' raised in training_losses: ValueError") as info:
        fresh_plugins.call_hook("training_losses", trainer=None, sample=None, outputs=None)
    assert (info.value.plugin, info.value.name) == ("losses-plugin", "training_losses")


class NoArgumentRegistration:
    @tfvsdk.hookimpl
    def register_blenders(self):
        self.called = True


def test_registration_hooks_are_called_through_pluggy_with_only_the_arguments_they_take(fresh_plugins):
    plugin = NoArgumentRegistration()
    fresh_plugins.register(plugin, name="no-register-argument")
    tfvsdk.available("blender")
    assert plugin.called


def test_a_deprecated_name_still_builds_the_component_with_a_warning():
    with pytest.warns(DeprecationWarning, match="renderer 'nvdiffrast' is a deprecated name; use 'raster'"):
        renderer = tfvsdk.create("renderer", "nvdiffrast")
    assert type(renderer).__name__ == "RasterRenderer"
    with pytest.warns(DeprecationWarning, match="reconstructor '3ddfa' is a deprecated name; use 'landmarks'"):
        tfvsdk.create("reconstructor", "3ddfa")


def test_opt_values_are_checked_before_anything_runs(tmp_path):
    env = dict(os.environ)
    args = ["swap", "--identity", "a.png", "--target", "b.mp4", "-o", str(tmp_path / "o.mp4")]
    typo = _tfv(*args, "--opt", "blender.feathr=0.1", env=env)
    assert typo.returncode == 1 and "has no setting 'feathr'; did you mean 'feather'?" in typo.stderr
    kind = _tfv(*args, "--opt", "blendr.feather=0.1", env=env)
    assert kind.returncode == 1 and "this command builds no 'blendr'; did you mean 'blender'?" in kind.stderr
