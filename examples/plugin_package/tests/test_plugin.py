"""The example plugin, installed with pip: found through its entry point, keeps the contracts, edits and trains.

Run from this folder after ``pip install -e examples/plugin_package`` (entry-point autoloading must be on).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import torch

import tfvsdk
import tfvsdk.plugins
import tfv_example.broken
from tfvsdk.testing import check_blender, check_composer, check_trainable_blender

os.environ.pop("TFVSDK_DISABLE_PLUGIN_AUTOLOAD", None)


def tfv(*args: str, cwd: Path | None = None) -> str:
    """Run the ``tfv`` command of this environment; its stdout (fails the test on a non-zero exit)."""
    code = "import sys; from tfvsdk.cli import main; main(sys.argv[1:])"
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=600)
    assert result.returncode == 0, f"tfv {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_installed_package_is_listed_by_tfv_plugins():
    info = {p["name"]: p for p in json.loads(tfv("plugins", "--json"))}
    plugin = info["tfv_example"]
    assert plugin["version"] == version("tfv-example") and not plugin["builtin"] and plugin["error"] is None
    assert plugin["components"] == {"blender": ["unet-lite"], "composer": ["mimic"]}
    assert plugin["hooks"] == ["register_blenders", "register_composers"]
    blenders = {row["name"]: row for row in json.loads(tfv("plugins", "--kind", "blender", "--json"))}
    assert blenders["unet-lite"]["settings"] == ["width", "scales"] and blenders["unet-lite"]["trainable"]


def test_the_blender_keeps_the_trainable_blender_contract():
    check_trainable_blender(tfvsdk.create("blender", "unet-lite", width=8))


def test_the_composer_keeps_the_composer_contract():
    expected = {"alpha_id": "target", "alpha_exp": "driver", "camera": "target", "texture_role": "target",
                "appearance_role": "target", "hint_role": "target"}
    check_composer(tfvsdk.create("composer", "mimic"), expected=expected)


@pytest.fixture
def broken():
    """The broken variants, registered as the plugin 'tfv-example-broken' for one test."""
    tfvsdk.plugins.register(tfv_example.broken, name="tfv-example-broken")
    yield
    tfvsdk.plugins.unregister("tfv-example-broken")


@pytest.mark.parametrize(
    ("kind", "name", "settings", "check", "message"),
    [
        ("blender", "mixing", {}, check_blender, "batch items are not independent"),
        ("blender", "forgetful", {"width": 8}, check_trainable_blender, "weights do not fit"),
        ("composer", "averaging", {}, check_composer, "alpha_id is not taken unchanged from any source"),
    ],
)
def test_each_broken_variant_fails_the_kit_naming_the_plugin(broken, kind, name, settings, check, message):
    with pytest.raises(AssertionError, match=rf"^plugin 'tfv-example-broken' \({kind} '{name}'\): .*{message}"):
        check(tfvsdk.create(kind, name, **settings))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two synthetic 64² clips of 6 frames with their landmarks saved as .npy files."""
    from tfvsdk.demo import synth_clips

    folder = tmp_path_factory.mktemp("clips")
    made = synth_clips(folder, size=64, frames=6, fps=10.0, noise=0.5, seed=2)
    for name, clip in made.items():
        np.save(folder / f"{name}.npy", clip.landmarks)
    return folder


def mimic(clips: Path, out: Path, *extra: str) -> str:
    return tfv(
        "mimic", "--target", str(clips / "alice.mp4"), "--driver", str(clips / "bob.mp4"), "-o", str(out),
        "--landmarks", f"target={clips / 'alice.npy'}", "--landmarks", f"driver={clips / 'bob.npy'}", *extra,
    )


def test_tfv_mimic_edits_a_video_with_the_blender_and_its_settings(clips, tmp_path):
    weights = tmp_path / "untrained"
    tfvsdk.create("blender", "unet-lite", width=8).save_pretrained(weights)  # tfv refuses a network without weights
    out = tmp_path / "mimic.mp4"
    line = mimic(clips, out, "--blender", "unet-lite", "--blender-weights", str(weights), "--opt", "blender.width=8",
                 "--opt", "renderer.backend=torch")
    assert "6 frames" in line and out.stat().st_size > 0


TRAIN_TOML = """
[data]
root = "{root}"
batch_size = 2

[components]
blender = "unet-lite"
blender_config = {{ width = 8 }}
composer = "mimic"
role_map = {{ target = "identity", driver = "expression" }}

[run]
out = "{out}"
max_steps = 2
every = 2
log_every = 1
"""


def test_it_trains_two_steps_and_edits_with_the_trained_folder(clips, tmp_path):
    tfv("synth", "--out", str(tmp_path / "data"), "--images", "6", "--videos", "2", "--frames", "4", "--size", "32")
    config = tmp_path / "train.toml"
    config.write_text(TRAIN_TOML.format(root=tmp_path / "data", out=tmp_path / "run"))
    line = tfv("train", "--config", str(config))
    assert line.startswith("step 2:") and "weights" in line
    trained = tmp_path / "run" / "blender"
    assert json.loads((trained / "config.json").read_text())["config"] == {"width": 8, "scales": 2}
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert state["format_version"] == 1 and state["step"] == 2
    restored = tfvsdk.plugins.create_pretrained("blender", "unet-lite", trained)
    check_trainable_blender(restored)
    out = tmp_path / "trained.mp4"
    assert "6 frames" in mimic(clips, out, "--blender", "unet-lite", "--blender-weights", str(trained))
