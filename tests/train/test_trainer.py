"""The trainer: component validation, outputs, hooks, ablation switches and bit-exact resume on CPU."""

from __future__ import annotations

import json

import attrs
import imageio.v3 as iio
import pytest
import torch
from train_helpers import SIZE, make_config

import tfvsdk
from tfvsdk.errors import InputError, PluginError
from tfvsdk.train import Trainer, load_checkpoint


def test_a_blender_that_cannot_be_trained_is_a_clear_error(synth_root, tmp_path):
    config = make_config(synth_root, tmp_path, components={"blender": "classical", "blender_config": {}})
    with pytest.raises(PluginError, match="'classical'.*not trainable"):
        Trainer(config)


def test_unknown_component_names_list_the_available_ones(synth_root, tmp_path):
    with pytest.raises(PluginError, match="unknown renderer 'nvdifrast'; did you mean 'nvdiffrast'"):
        Trainer(make_config(synth_root, tmp_path, components={"renderer": "nvdifrast"}))


def test_composer_roles_must_map_to_sample_roles(synth_root, tmp_path):
    with pytest.raises(InputError, match="role_map"):
        Trainer(make_config(synth_root, tmp_path, components={"composer": "swap"}))
    trainer = Trainer(make_config(synth_root, tmp_path, components={"composer": "swap", "role_map": {"target": "pose"}}))
    assert trainer.components.role_map == {"identity": "identity", "target": "pose"}


def test_fit_writes_metrics_samples_and_loadable_checkpoints(synth_root, tmp_path):
    trainer = Trainer(make_config(synth_root, tmp_path / "run"))
    metrics = trainer.fit(progress=False)
    assert trainer.step == 4
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4]
    for key in ("loss/adversarial", "loss/appearance", "loss/reconstruction", "loss/temporal", "loss/d", "time/render_flow", "time/networks"):
        assert key in metrics and key in lines[-1]
    grid = iio.imread(tmp_path / "run" / "samples" / "step-00000004.png")
    tile = 3 * SIZE  # tiles are enlarged to at least 96 px
    assert grid.shape[:2] == (2 + 2 * (tile + 2), 2 + 7 * (tile + 2))  # 2 samples × (X_i, X_p, X_e, R, M, Y^t, Y^t−1)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 4
    assert {key.split(".")[0] for key in state["blender"]} == {"embedder", "generator", "discriminator"}
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("step-*.pt")) == ["step-00000002.pt", "step-00000004.pt"]


def test_resume_continues_bit_exactly(synth_root, tmp_path):
    straight = Trainer(make_config(synth_root, tmp_path / "a", run={"every": 100}))
    straight.fit(progress=False)
    first = Trainer(make_config(synth_root, tmp_path / "b", run={"every": 2}))
    first.fit(2, progress=False)
    del first
    resumed = Trainer(make_config(synth_root, tmp_path / "b", run={"every": 2}, data={"num_workers": 1}))  # loading in a worker changes nothing
    assert resumed.step == 2
    resumed.fit(progress=False)
    a, b = straight.state_dict(), resumed.state_dict()
    for key, value in a["blender"].items():
        assert torch.equal(value, b["blender"][key]), key
    for sa, sb in zip(a["opt_g"]["state"].values(), b["opt_g"]["state"].values()):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"])
    lines = [json.loads(line)["step"] for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert lines == [1, 2, 3, 4]


class Recorder:
    def __init__(self):
        self.steps = []

    @tfvsdk.hookimpl
    def training_losses(self, trainer, sample, outputs):
        return {"brightness": (0.5, (outputs.output.mean() - 0.5).abs())}

    @tfvsdk.hookimpl
    def on_train_step_end(self, trainer, step, metrics):
        self.steps.append((step, metrics["loss/brightness"]))


def test_hooks_add_losses_and_see_every_step(synth_root, tmp_path, fresh_plugins):
    recorder = Recorder()
    fresh_plugins.register(recorder, name="recorder")
    Trainer(make_config(synth_root, tmp_path, run={"max_steps": 3})).fit(progress=False)
    assert [s for s, _ in recorder.steps] == [1, 2, 3]
    assert all(value >= 0 for _, value in recorder.steps)


def test_ablations_switch_off_temporal_loss_and_video_samples(synth_root, tmp_path):
    no_tmp = Trainer(make_config(synth_root, tmp_path / "a", loss={"use_temporal": False}, run={"max_steps": 1}))
    metrics = no_tmp.fit(progress=False)
    assert metrics["loss/temporal"] == 0.0
    assert no_tmp._last[1].output_prev is None
    images_only = Trainer(make_config(synth_root, tmp_path / "b", data={"sigma": 1.0}, run={"max_steps": 2}))
    metrics = images_only.fit(progress=False)
    assert metrics["loss/reconstruction"] == 0.0 and metrics["data/video_fraction"] == 0.0
    adain = Trainer(make_config(synth_root, tmp_path / "c", components={"blender_config": {"preset": "small", "norm": "adain"}}, run={"max_steps": 1}))
    assert adain.components.blender.generator.config.norm == "adain"


def test_datasets_of_another_model_are_refused(synth_root, tmp_path):
    manifest = json.loads((synth_root / "manifest.json").read_text())
    other = tmp_path / "other"
    other.mkdir()
    manifest["model"]["n_exp"] += 1
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="fits were made with model"):
        Trainer(make_config(other, tmp_path / "run"))


def test_logged_metrics_are_means_over_the_log_interval(synth_root, tmp_path, fresh_plugins):
    recorder = Recorder()
    fresh_plugins.register(recorder, name="recorder")
    Trainer(make_config(synth_root, tmp_path, run={"max_steps": 4, "log_every": 2})).fit(progress=False)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    per_step = dict(recorder.steps)
    assert [line["step"] for line in lines] == [2, 4]
    for line in lines:
        expected = (per_step[line["step"] - 1] + per_step[line["step"]]) / 2
        assert line["loss/brightness"] == pytest.approx(expected, rel=1e-6)


def test_resume_restores_every_random_generator_exactly(synth_root, tmp_path):
    import random

    import numpy as np

    draws = {}
    for name, steps in (("straight", (4,)), ("resumed", (2, 4))):
        for n in steps:
            trainer = Trainer(make_config(synth_root, tmp_path / name, run={"every": 2}))
            trainer.fit(n, progress=False)
        draws[name] = (torch.rand(3), np.random.random(), random.random())
    assert torch.equal(draws["straight"][0], draws["resumed"][0])
    assert draws["straight"][1:] == draws["resumed"][1:]
    after_init = []
    for other_seed in (0, 1):
        np.random.seed(other_seed)
        random.seed(other_seed)
        Trainer(make_config(synth_root, tmp_path / f"s{other_seed}"))
        after_init.append((np.random.random(), random.random()))
    assert after_init[0] == after_init[1], "numpy's and Python's generators are seeded from run.seed"


def test_resume_refuses_changed_components_and_applies_changed_weights(synth_root, tmp_path, caplog):
    Trainer(make_config(synth_root, tmp_path, run={"max_steps": 2})).fit(progress=False)
    with pytest.raises(InputError, match=r"components\.blender_config .*--no-resume"):
        Trainer(make_config(synth_root, tmp_path, components={"blender_config": {"preset": "small", "norm": "adain"}}))
    with pytest.raises(InputError, match=r"run\.seed 3 → 4"):
        Trainer(make_config(synth_root, tmp_path, run={"seed": 4}))
    with caplog.at_level("WARNING"):
        trainer = Trainer(make_config(synth_root, tmp_path, loss={"temporal": 50.0}, optim={"lr_g": 3e-4}))
    assert "loss.temporal 5.0 → 50.0" in caplog.text and "optim.lr_g 0.0001 → 0.0003" in caplog.text
    assert trainer.weights.temporal == 50.0
    assert {group["lr"] for group in trainer.opt_g.param_groups} == {3e-4}


def test_gradient_norms_of_each_term_are_logged_and_tmp_has_a_share_at_the_paper_weights(synth_root, tmp_path):
    trainer = Trainer(make_config(synth_root, tmp_path, data={"sigma": 0.0, "batch_size": 4}, run={"grad_every": 1}))
    assert trainer.weights == tfvsdk.losses.LossWeights(10, 1, 10, 5)
    metrics = trainer.train_step(next(iter(trainer._loader())))
    norms = {term: metrics[f"grad/{term}"] for term in ("adv", "app", "rec", "tmp")}
    assert all(value > 0 for value in norms.values()), norms
    assert norms["tmp"] / sum(norms.values()) >= 0.05, norms
    assert max(norms.values()) / min(norms.values()) < 30, "every term's gradient is of the same order at step 0"
    assert metrics["grad/total"] <= sum(norms.values()) + 1e-6


def test_feature_matching_is_logged_trains_g_and_e_only_and_joins_the_adaptive_scale(synth_root, tmp_path):
    loss = {"adversarial": 10.0, "appearance": 0.0, "reconstruction": 0.0, "use_temporal": False, "feature_matching": 2.0}
    trainer = Trainer(make_config(synth_root, tmp_path, data={"sigma": 0.0}, loss=loss, run={"grad_every": 1}))
    d_params, g_params = trainer.components.discriminator_parameters(), trainer.components.generator_parameters()
    seen = {}
    step_g = trainer.scaler_g.step

    def spy(optimizer):  # G and E's update: only their gradients may be set
        seen["d"] = [p.grad for p in d_params]
        seen["g"] = [p.grad for p in g_params]
        return step_g(optimizer)

    trainer.scaler_g.step = spy
    metrics = trainer.train_step(next(iter(trainer._loader())))
    assert metrics["loss/feature_matching"] > 0 and metrics["grad/fm"] > 0
    assert all(g is None for g in seen["d"])
    assert any(g is not None and g.abs().sum() > 0 for g in seen["g"])
    # s = ‖∇ μ L_FM‖ / (μ ‖∇ L_adv‖) here (β = γ = λ = 0), so α s ‖∇ L_adv‖ = α ‖∇ μ L_FM‖ / μ
    assert metrics["grad/adv"] == pytest.approx(10.0 * metrics["grad/fm"] / 2.0, rel=1e-4)
    assert metrics["loss/total"] == pytest.approx(
        10.0 * metrics["loss/adversarial_scale"] * metrics["loss/adversarial"] + 2.0 * metrics["loss/feature_matching"], rel=1e-5
    )
    off = Trainer(make_config(synth_root, tmp_path / "off", run={"max_steps": 1}))
    assert "loss/feature_matching" not in off.train_step(next(iter(off._loader())))


def test_gradients_are_only_measured_every_grad_every_steps(synth_root, tmp_path):
    trainer = Trainer(make_config(synth_root, tmp_path, run={"grad_every": 2, "max_steps": 3}))
    loader = iter(trainer._loader())
    logged = ["grad/tmp" in trainer.train_step(next(loader)) for _ in range(3)]
    assert logged == [True, False, True]


def test_held_out_clips_are_never_trained_on_and_evaluated_during_fit(synth_root, tmp_path):
    config = make_config(synth_root, tmp_path, data={"eval_clips": 1}, run={"eval_every": 2, "max_steps": 2})
    trainer = Trainer(config)
    held_out = trainer.eval_clips
    assert held_out == [len(trainer.videos) - 1]
    specs = [trainer.sampler.draw(i) for i in range(400)]
    drawn = {spec.identity[1].index for spec in specs if spec.is_video}
    assert len(drawn) == len(trainer.videos) - 1
    assert held_out[0] not in drawn
    trainer.fit(progress=False)
    last = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()][-1]
    assert last["step"] == 2
    assert 0 < last["eval/face_mae"] < 255 and -1 <= last["eval/ssim"] <= 1 and last["eval/e_tmp"] >= 0
    assert last["eval/detail"] > 0
    classical = trainer.evaluate_clips(blender=tfvsdk.create("blender", "classical"))
    assert classical["eval/face_mae"] < last["eval/face_mae"], "an untrained network is worse than the classical paste"
    swap = trainer.evaluate_clips(identities=[0])
    assert set(swap) == {"eval/e_tmp"} and swap["eval/e_tmp"] >= 0


def test_a_checkpoint_of_a_newer_format_is_refused_before_anything_is_loaded(synth_root, tmp_path):
    trainer = Trainer(make_config(synth_root, tmp_path))
    state = trainer.state_dict()
    assert state["format_version"] == 1
    before = {k: v.clone() for k, v in trainer.components.blender.state_dict().items()}
    newer = {**state, "format_version": 2, "blender": {k: v + 1 for k, v in before.items()}}
    with pytest.raises(tfvsdk.ModelFileError, match="checkpoint format_version 2; this tfvsdk reads versions up to 1"):
        trainer.load_state_dict(newer)
    assert all(torch.equal(v, before[k]) for k, v in trainer.components.blender.state_dict().items())


def test_the_adaptive_scale_is_measured_on_batches_with_a_ground_truth_and_kept_on_the_others(synth_root, tmp_path):
    images = Trainer(make_config(synth_root, tmp_path / "images", data={"sigma": 1.0}))
    image_batch = next(iter(images._loader()))
    assert not image_batch.is_video.any()
    assert images.train_step(image_batch)["loss/adversarial_scale"] == 1.0, "before any reference: eq. 16 as written"

    videos = Trainer(make_config(synth_root, tmp_path / "videos", data={"sigma": 0.0}))
    s = videos.train_step(next(iter(videos._loader())))["loss/adversarial_scale"]
    assert s > 0 and s != pytest.approx(1.0)
    assert videos.train_step(image_batch)["loss/adversarial_scale"] == s

    restored = Trainer(make_config(synth_root, tmp_path / "restored", data={"sigma": 0.0}))
    restored.load_state_dict(videos.state_dict())
    assert restored.train_step(image_batch)["loss/adversarial_scale"] == s


@pytest.mark.parametrize("scale, sigma", [("fixed", 0.0), ("adaptive", 1.0)])
def test_a_step_that_measures_nothing_takes_the_same_gradient_in_one_backward_pass(synth_root, tmp_path, monkeypatch, scale, sigma):
    """With a fixed scale, or on a batch without a video sample (s is kept, not measured), and no norms to log,
    G and E get the gradient of eq. 16's sum from one backward pass; it equals the sum of the per-term
    gradients a logging step takes (two trainers, same seed, same first batch)."""
    calls = []
    grad = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: calls.append(1) or grad(*a, **k))
    passes, gradients = {}, {}
    for every in (1, 0):
        trainer = Trainer(make_config(synth_root, tmp_path / str(every), data={"sigma": sigma},
                                      loss={"adversarial_scale": scale}, run={"grad_every": every}))
        backward = trainer._generator_backward

        def spy(*args, every=every, trainer=trainer, backward=backward, **kwargs):
            calls.clear()
            result = backward(*args, **kwargs)
            passes[every] = len(calls)
            gradients[every] = [p.grad for p in trainer.components.generator_parameters() if p.requires_grad]
            return result

        trainer._generator_backward = spy
        trainer.train_step(next(iter(trainer._loader())))
    assert passes[0] == 1 < passes[1]
    assert any(g is not None for g in gradients[0])
    for one_pass, per_term in zip(gradients[0], gradients[1], strict=True):
        assert (one_pass is None) == (per_term is None)
        if one_pass is not None:
            torch.testing.assert_close(one_pass, per_term, rtol=1e-4, atol=1e-7)


class PreparingRemix(tfvsdk.TaskComposer):
    """A remix that records the batch size of every fit its ``prepare`` sees and shows the expression
    source's mean expression over its whole source (so a frame's composition depends on the whole clip)."""

    roles = ("identity", "pose", "expression")
    timeline_role = "pose"
    seen: list[dict[str, int]] = []

    def _prepare(self, fits):
        PreparingRemix.seen.append({role: fit.batch_size for role, fit in fits.items()})
        expression = fits["expression"]
        mean = expression.alpha_exp.mean(0, keepdim=True).expand_as(expression.alpha_exp)
        fits["expression"] = attrs.evolve(expression, alpha_exp=mean)
        return fits

    def _compose(self, fits):
        pose = fits["pose"]
        return tfvsdk.Composition(fits["identity"].alpha_id, fits["expression"].alpha_exp, pose.camera,
                                  pose.image_size, "identity", "pose", "pose")


@pytest.mark.parametrize("sigma", [0.0, 1.0])
def test_each_sample_is_prepared_from_the_whole_clip_or_image_its_frames_come_from(synth_root, tmp_path, fresh_plugins, sigma):
    """As the editor prepares a role's whole video before composing, the trainer prepares each sample's roles
    from their whole source: a video sample's clip (4 frames here), an image sample's image."""
    class Plugin:
        @tfvsdk.hookimpl
        def register_composers(self, register):
            register("preparing-remix", PreparingRemix)

    fresh_plugins.register(Plugin(), name="preparing")
    trainer = Trainer(make_config(synth_root, tmp_path, components={"composer": "preparing-remix"}))
    PreparingRemix.seen.clear()
    batch = trainer.eval_batches(1, sigma=sigma)[0]
    trainer.render(batch)
    frames = 1 if sigma else 4
    assert PreparingRemix.seen == [{"identity": frames, "pose": frames, "expression": frames}] * (2 * batch.batch_size)

    composition = trainer._composition(batch, 0)
    assert torch.equal(composition.camera.rotation, batch.pose.fit_cur.camera.rotation)
    for b, spec in enumerate(batch.specs):
        ref = spec.expression[1]
        source = trainer.videos.fits(ref.index) if ref.part == "video" else trainer.images.fit(ref.index)
        assert torch.allclose(composition.alpha_exp[b], source.alpha_exp.mean(0))
        assert torch.equal(batch.source(b, ref).alpha_exp, source.alpha_exp)
