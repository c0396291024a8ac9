"""The trainer: any renderer / trainable blender / composer combination, the paper's losses (§3.4, eq. 16).

One step on a DTSS batch (§3.1), for each time τ ∈ {t, t−1} (t−1 only when L_tmp is on):

1. the composer picks α_id, α_exp and the camera from the roles' cached fits; the mesh
   S = S̄ + A_id α_id + A_exp α_exp (eq. 2) is projected with that camera;
2. the texture T^i is unwrapped from the texture role's frame at **t** and used for both renderings,
   so R^{t−1} and R^t differ only by the mesh's motion — the motion the 3D flow describes;
3. R^τ, M̂^τ = renderer(S^τ, T^i, C^τ) (eq. 3); the hint is M = X_p(1 − M̂) for image samples and
   X_i(1 − M̂) for video samples (§3.2; X_p is the composer's hint role);
4. Y^τ = blender(R^τ, X_p^τ, M^τ, M̂^τ) = G(R, E(X_p, M), M̂) (§3.3), both times in one batch.

Losses (:mod:`tfvsdk.losses`): L_rec = ‖Y^t − X_i^t‖₁ on video samples only (eq. 7), L_app (eq. 6),
L_tmp between Y^{t−1} and Y^t warped by the 3D flow of R^{t−1}, R^t (eq. 9–15), the hinge form of
L_adv on D(Y^t) with real images X_i^t (eq. 8), optionally pix2pixHD's discriminator feature matching
between D's features of Y^t and X_i^t on video samples (``loss.feature_matching``, not in eq. 16), plus
any ``training_losses`` hook results, weighted as in eq. 16 — L_adv multiplied by the adaptive scale s of
``loss.adversarial_scale`` (docs/training.md, "Loss scales"). G and E take one Adam step on that total
(then update their weight average, ``optim.ema``), then D one Adam step on its hinge loss. Rendering and
the flow are computed without gradients: nothing trained comes before them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from .. import losses, publish
from ..data.folders import ImageFolder, VideoFolder
from ..data.layout import read_manifest
from ..data.sampler import DTSSSampler
from ..data.samples import RoleFrames, SampleDataset, TrainingBatch, collate
from ..errors import InputError, ModelFileError, PluginError
from ..flow import flow3d, temporal_loss
from ..morphable import vertices
from ..interfaces import TrainableBlender
from ..plugins import call_hook, reporting
from ..records import Composition, FaceFit, Rendering
from ..texture import unwrap_texture
from . import distributed, evaluation
from .checkpoint import FORMAT_VERSION, CheckpointDir, load_checkpoint, rng_state, set_rng_state
from .components import Components, build_components
from .config import TrainConfig
from .ema import WeightAverage
from .logs import MetricsLog, save_grid

logger = logging.getLogger(__name__)


@attrs.frozen(eq=False)
class Scene:
    """What the generator is given for a batch of B samples at T times (T = 2 with L_tmp, else 1).

    Tensors stack the times along the batch: rows ``[0, B)`` are time t, rows ``[B, 2B)`` time t−1.

    Attributes:
        rendered: (T·B, 3, H, W) renderings R.
        mask: (T·B, 1, H, W) face masks M̂.
        appearance: (T·B, 3, H, W) appearance frames X_p.
        hint: (T·B, 3, H, W) appearance hints M.
        renderings: the renderer's output per time, t first.
        texture: (B, 3, Ht, Wt) texture T^i unwrapped at t.
    """

    rendered: torch.Tensor
    mask: torch.Tensor
    appearance: torch.Tensor
    hint: torch.Tensor
    renderings: tuple[Rendering, ...]
    texture: torch.Tensor


@attrs.frozen(eq=False)
class StepOutputs:
    """What one generator step produced (passed to the ``training_losses`` hook).

    Attributes:
        scene: the generator's inputs.
        output: (B, 3, H, W) Y^t.
        output_prev: (B, 3, H, W) Y^{t−1}, or None without L_tmp.
        flow: (B, 2, H, W) 3D flow F^{t→t−1} in pixels (:func:`tfvsdk.flow.flow3d`), or None without L_tmp.
        visible: (B, 1, H, W) its visibility S^t · S^{t−1}, or None without L_tmp.
        losses: the paper's loss terms (scalar tensors): ``adversarial``, ``appearance``,
            ``reconstruction``, ``temporal``; and ``feature_matching`` when ``loss.feature_matching`` is on.
    """

    scene: Scene
    output: torch.Tensor
    output_prev: torch.Tensor | None
    flow: torch.Tensor | None
    visible: torch.Tensor | None
    losses: dict[str, torch.Tensor]


def _frames(role: RoleFrames, when: int) -> tuple[torch.Tensor, FaceFit]:
    """Frames and fits of ``role`` at t (``when = 0``) or t−1 (``when = 1``)."""
    return (role.cur, role.fit_cur) if when == 0 else (role.prev, role.fit_prev)


def open_datasets(config: TrainConfig, model_info: dict[str, Any]) -> tuple[ImageFolder | None, VideoFolder | None]:
    """Open the image and video parts the config names, checking they were fitted with the training model.

    Raises:
        InputError: a missing dataset, different image sizes, or fits of another morphable model.
    """
    data = config.data
    sigma = data.sigma
    parts: list[tuple[str, str]] = []
    if sigma > 0 or data.still_clips:
        parts.append(("image", data.image_root or data.root))
    if sigma < 1 or data.eval_clips:
        parts.append(("video", data.video_root or data.root))
    opened: dict[str, Any] = {}
    sizes = set()
    for part, root in parts:
        manifest = read_manifest(root)
        model = manifest.model
        if (model.get("n_id"), model.get("n_exp")) != (model_info["n_id"], model_info["n_exp"]):
            raise InputError(
                f"{root}: the fits were made with model {model.get('name')!r} (K_id={model.get('n_id')}, "
                f"K_exp={model.get('n_exp')}), but training uses {model_info['name']!r} "
                f"(K_id={model_info['n_id']}, K_exp={model_info['n_exp']}); set components.model or re-prepare"
            )
        opened[part] = ImageFolder(root, manifest) if part == "image" else VideoFolder(root, manifest)
        sizes.add(manifest.image_size)
    if len(sizes) > 1:
        raise InputError(f"data: the image and video parts have different image sizes {sorted(sizes)}; prepare both at one size")
    return opened.get("image"), opened.get("video")


GRAD_NAMES = {"adversarial": "adv", "appearance": "app", "reconstruction": "rec", "temporal": "tmp"}
"""The short name of each loss term in the ``grad/<term>`` metrics."""

_RESUMABLE = {"run": None, "optim": None, "loss": None, "data": {"num_workers"}}
"""Config tables (None: every key) a resumed run may change; ``run.seed`` may not."""


def seed_everything(seed: int) -> None:
    """Seed torch's, numpy's global and Python's ``random`` generators with ``seed``."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def held_out_clips(videos: VideoFolder | None, count: int) -> list[int]:
    """The last ``count`` clips (of ≥ 3 frames) of the video part: the held-out evaluation split.

    Raises:
        InputError: fewer such clips than ``count``, or none left for training.
    """
    if not count:
        return []
    usable = [c for c in range(len(videos)) if videos.num_frames(c) >= 3] if videos is not None else []
    if len(usable) <= count:
        raise InputError(f"data.eval_clips = {count}: the video part has {len(usable)} clips of ≥ 3 frames; hold out fewer")
    return usable[-count:]


def resume_changes(saved: dict[str, Any], current: dict[str, Any], where: str) -> list[str]:
    """The settings that differ between a checkpoint's config and the current one, as ``"table.key a → b"``.

    Raises:
        InputError: a difference a resumed run cannot apply (components, data, ``run.seed``).
    """
    changed, refused = [], []
    for table in sorted(set(saved) | set(current)):
        old, new = saved.get(table, {}), current.get(table, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) == new.get(key) or (table == "run" and key in ("resume",)):
                continue
            text = f"{table}.{key} {old.get(key)!r} → {new.get(key)!r}"
            allowed = table in _RESUMABLE and (_RESUMABLE[table] is None or key in _RESUMABLE[table])
            (changed if allowed and (table, key) != ("run", "seed") else refused).append(text)
    if refused:
        raise InputError(
            f"{where}: the checkpoint was trained with other settings ({'; '.join(refused)}); resume with the "
            "checkpoint's settings, or start a new run (--no-resume, or another run.out)"
        )
    return changed


class IntervalMean:
    """Means of metrics over the steps since the last :meth:`pop` (each key over the steps that had it)."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def add(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
            self._counts[key] = self._counts.get(key, 0) + 1

    def pop(self) -> dict[str, float]:
        means = {key: total / self._counts[key] for key, total in self._sums.items()}
        self._sums, self._counts = {}, {}
        return means


class _Batches:
    """The sampler's batches as a DataLoader ``batch_sampler``."""

    def __init__(self, sampler: DTSSSampler, batch_size: int) -> None:
        self.sampler, self.batch_size = sampler, batch_size

    def __iter__(self) -> Iterator[list]:
        return self.sampler.batches(self.batch_size)


class Trainer:
    """Trains a blender with DTSS sampling and the losses of eq. 16 (paper §3.1, §3.4, §4).

    Args:
        config: the whole configuration (:class:`~tfvsdk.train.config.TrainConfig`).
        components: pre-built components (default: built from ``config.components`` by name).
        context: the distributed context (default: read from torchrun's environment).

    Raises:
        PluginError: an unknown component name, a blender that is not trainable.
        InputError: a dataset that does not fit the config or the model.

    Example:
        >>> trainer = Trainer(load_config("train.toml"))   # doctest: +SKIP
        >>> trainer.fit()                                   # doctest: +SKIP
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        components: Components | None = None,
        context: distributed.DistContext | None = None,
    ) -> None:
        self.config = config
        self.context = context or distributed.setup(config.run.device)
        self.device = self.context.device
        seed_everything(config.run.seed)
        self.components = components or build_components(config.components, self.device)
        c = self.components
        distributed.broadcast_module(c.blender, self.context)
        model = c.model
        self.images, self.videos = open_datasets(config, {"name": model.name, "n_id": model.n_id, "n_exp": model.n_exp})
        self.eval_clips = held_out_clips(self.videos, config.data.eval_clips)
        """Indices of the video part's held-out clips (``data.eval_clips``), never drawn for training."""
        self.sampler = DTSSSampler(
            self.images,
            self.videos,
            sigma=config.data.sigma,
            seed=config.run.seed,
            rank=self.context.rank,
            world_size=self.context.world_size,
            still_clips=config.data.still_clips,
            exclude_clips=self.eval_clips,
        )
        self.dataset = SampleDataset(self.images, self.videos)
        opt = config.optim
        self.opt_g = torch.optim.Adam(c.generator_parameters(), lr=opt.lr_g, betas=opt.betas)
        self.opt_d = torch.optim.Adam(c.discriminator_parameters(), lr=opt.lr_d, betas=opt.betas)
        self.amp = config.run.amp and self.device.type == "cuda"
        if config.run.amp and not self.amp:
            logger.info("run.amp is set but training runs on %s; mixed precision is used on CUDA only", self.device)
        self.ema = WeightAverage(c.blender, opt.ema) if opt.ema > 0 else None
        """The moving average of G's and E's weights (``optim.ema``), or None."""
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.weights = config.loss.weights()
        self.use_temporal = config.loss.use_temporal
        self.out = Path(config.run.out)
        self.checkpoints = CheckpointDir(self.out / "checkpoints", keep=config.run.keep)
        self.step = 0
        """Optimisation steps done."""
        self.paired_scale: float | None = None
        """The adaptive s of the last batch with a video sample (see :meth:`_generator_backward`), or None."""
        self._last: tuple[TrainingBatch, StepOutputs] | None = None
        if config.run.resume and self.checkpoints.last.exists():
            state = load_checkpoint(self.checkpoints.last, map_location=self.device)
            changed = resume_changes(json.loads(state["config"]), config.to_dict(), str(self.checkpoints.last))
            if config.optim.ema > 0 and "ema" not in state:
                logger.warning("%s holds no weight average; optim.ema starts it from the resumed weights", self.checkpoints.last)
            self.load_state_dict(state)
            if self.ema is not None:
                self.ema.decay = config.optim.ema
            for opt, lr in ((self.opt_g, config.optim.lr_g), (self.opt_d, config.optim.lr_d)):
                for group in opt.param_groups:
                    group["lr"], group["betas"] = lr, config.optim.betas
            if changed:
                logger.warning("resuming %s with changed settings (applied from now on): %s", self.checkpoints.last, "; ".join(changed))
            logger.info("resumed from %s at step %d", self.checkpoints.last, self.step)

    # -- state ----------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue bit-exactly (tensors and plain containers only), with
        the checkpoint ``format_version``."""
        return {
            "format_version": FORMAT_VERSION,
            "step": self.step,
            "blender": self.components.blender.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
            "sampler": self.sampler.state_dict(position=self.step * self.config.data.batch_size),
            "rng": rng_state(),
            "paired_scale": self.paired_scale,
            "config": json.dumps(self.config.to_dict()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the components must be built as when it was saved).

        Raises:
            ModelFileError: a checkpoint of a newer format than this tfvsdk reads (one without a version is
                from before versions were recorded: version 0, read as version 1).
        """
        version = state.get("format_version", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ModelFileError(f"checkpoint format_version {version!r}; this tfvsdk reads versions up to {FORMAT_VERSION} (upgrade tfvsdk)")
        self.components.blender.load_state_dict(state["blender"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.scaler_g.load_state_dict(state["scaler_g"])
        self.scaler_d.load_state_dict(state["scaler_d"])
        if self.ema is not None:
            if "ema" in state:
                self.ema.load_state_dict(state["ema"])
            else:
                self.ema = WeightAverage(self.components.blender, self.ema.decay)
        self.sampler.load_state_dict(state["sampler"])
        set_rng_state(state["rng"])
        self.paired_scale = state.get("paired_scale")
        self.step = int(state["step"])

    # -- one step ---------------------------------------------------------------------------------------------

    def _composition(self, batch: TrainingBatch, when: int) -> Composition:
        """The composition at t (``when = 0``) or t−1 (``when = 1``) of every sample, from prepared fits.

        As the editor prepares each role's whole video before composing (:meth:`TaskComposer.prepare`), each
        sample's roles are prepared from the whole source their frame comes from (:attr:`TrainingBatch.sources`:
        the clip's fits for a video frame, the image's for an image) and that frame of the result is composed.
        A sample's roles are prepared together, apart from the other samples: the batch mixes people.

        Raises:
            InputError: a batch without the sources of its samples (build batches with :func:`collate`).
        """
        c = self.components
        if len(batch.sources) != batch.batch_size or len(batch.specs) != batch.batch_size:
            raise InputError(f"a training batch of {batch.batch_size} samples has {len(batch.specs)} specs and "
                             f"{len(batch.sources)} sources; build it with tfvsdk.data.collate")
        prepared: dict[str, list[FaceFit]] = {role: [] for role in c.role_map}
        for sample, spec in enumerate(batch.specs):
            refs = {role: spec.role(sample_role)[1 - when] for role, sample_role in c.role_map.items()}
            with reporting(c.composer, "preparing a training sample"):
                fits = c.composer.prepare({role: batch.source(sample, ref) for role, ref in refs.items()})
            for role, ref in refs.items():
                prepared[role].append(fits[role][ref.frame])
        device = batch.is_video.device
        with reporting(c.composer, "composing a training sample"):
            return c.composer.compose({role: FaceFit.cat(fits).to(device) for role, fits in prepared.items()})

    def _role(self, batch: TrainingBatch, composer_role: str) -> RoleFrames:
        return batch.role(self.components.role_map[composer_role])

    @torch.no_grad()
    def render(self, batch: TrainingBatch, temporal: bool | None = None) -> Scene:
        """Steps 1–3 of the module docstring: renderings, masks, appearance frames and hints.

        ``temporal`` (default: ``loss.use_temporal``) renders t−1 as well as t.
        """
        c = self.components
        model = c.model
        temporal = self.use_temporal if temporal is None else temporal
        times = (0, 1) if temporal else (0,)
        comps = [self._composition(batch, when) for when in times]
        source, source_fit = _frames(self._role(batch, comps[0].texture_role), 0)
        texture, _ = unwrap_texture(source, vertices(model, source_fit), model.triangles, model.uv, size=self.texture_size, symmetry=model.symmetry)
        renderings, appearance, hints = [], [], []
        video = batch.is_video[:, None, None, None]
        for when, comp in zip(times, comps):
            with reporting(c.renderer, "rendering a training sample"):
                rendering = c.renderer.render(vertices(model, comp), model.triangles, comp.image_size, uv=model.uv, texture=texture)
            renderings.append(rendering)
            appearance.append(_frames(self._role(batch, comp.appearance_role), when)[0])
            own = _frames(batch.identity, when)[0]
            hint_frame = torch.where(video, own, _frames(self._role(batch, comp.hint_role), when)[0])
            hints.append(hint_frame * (1 - rendering.mask))
        return Scene(
            rendered=torch.cat([r.image[:, :3] for r in renderings]),
            mask=torch.cat([r.mask for r in renderings]),
            appearance=torch.cat(appearance),
            hint=torch.cat(hints),
            renderings=tuple(renderings),
            texture=texture,
        )

    @property
    def texture_size(self) -> int:
        """Side of the unwrapped UV texture: the training image's longer side."""
        part = self.images if self.images is not None else self.videos
        return max(part.image_size)

    def _clock(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else contextlib.nullcontext()

    def _extra_losses(self, batch: TrainingBatch, outputs: StepOutputs) -> dict[str, tuple[float, torch.Tensor]]:
        extra: dict[str, tuple[float, torch.Tensor]] = {}
        for plugin, result in call_hook("training_losses", trainer=self, sample=batch, outputs=outputs):
            for name, entry in (result or {}).items():
                if name in extra or name in outputs.losses:
                    raise PluginError(f"plugin {plugin!r} in training_losses: two losses are named {name!r}", plugin=plugin, name="training_losses")
                if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], torch.Tensor) and entry[1].numel() == 1):
                    raise PluginError(
                        f"plugin {plugin!r} in training_losses: {name!r} must be (weight, scalar tensor), got {entry!r}",
                        plugin=plugin, name="training_losses",
                    )
                extra[name] = (float(entry[0]), entry[1])
        return extra

    def adversarial_weight(self) -> float:
        """α of this step: ``loss.adversarial``, ramped up linearly over ``loss.adversarial_warmup`` steps."""
        warmup = self.config.loss.adversarial_warmup
        ramp = min(1.0, self.step / warmup) if warmup else 1.0
        return self.weights.adversarial * ramp

    def _generator_backward(
        self, weighted: dict[str, torch.Tensor], adversarial: torch.Tensor, log_grads: bool, paired: bool
    ) -> tuple[dict[str, float], float]:
        """Set the G/E gradient of eq. 16 and return ``(grad/* norms, s)``.

        ``weighted`` holds the weighted non-adversarial terms (β L_app, γ L_rec, λ L_tmp under their short
        names, μ L_FM as ``fm`` when ``loss.feature_matching`` is on, then the hook losses), ``adversarial``
        the unweighted L_adv. Their gradients on G and E are taken separately (per term on ``log_grads``
        steps, else the paper's terms with L_FM and the hook losses as two sums), so that with
        ``loss.adversarial_scale = "adaptive"``
        s = ‖∇(β L_app + γ L_rec + λ L_tmp + μ L_FM)‖ / ((β + γ + λ + μ) ‖∇ L_adv‖) costs no extra pass; the
        gradient set is Σ ∇(weighted) + α s ∇L_adv (α after the warm-up ramp). A step that neither logs norms
        nor measures s (``adversarial_scale = "fixed"``, a batch without a video sample, or α = 0) takes that
        gradient in one backward pass of the sum, not one per group.

        s is measured only on a ``paired`` batch, one with a video sample: without a ground truth there is no
        L_rec, L_tmp or L_FM, and L_app alone is no reference (E can satisfy it by embedding every frame
        alike, so its gradient vanishes and s with it — a swap-only run then trained G on a vanishing
        adversarial term until s jumped to its bound). A batch of image samples takes the s of the last
        paired batch, or s = 1 (eq. 16 as written) before the first.
        """
        self.opt_g.zero_grad(set_to_none=True)
        params = [p for p in self.components.generator_parameters() if p.requires_grad]
        scaler = self.scaler_g
        unscale = float(scaler.get_scale()) if self.amp else 1.0
        paper = [name for name in GRAD_NAMES.values() if name != "adv"] + ["fm"]
        if log_grads:
            groups = {name: [name] for name in weighted}
        else:
            groups = {"paper": paper, "hooks": [name for name in weighted if name not in paper]}

        def gradient(value: torch.Tensor, retain: bool = True) -> list[torch.Tensor | None]:
            if not value.requires_grad:
                return [None] * len(params)
            return list(torch.autograd.grad(scaler.scale(value), params, retain_graph=retain, allow_unused=True))

        def add(a: list[torch.Tensor | None], b: list[torch.Tensor | None], factor: float = 1.0) -> list[torch.Tensor | None]:
            return [x if y is None else (factor * y if x is None else x + factor * y) for x, y in zip(a, b)]

        def norm(grads: list[torch.Tensor | None]) -> float:
            return math.sqrt(sum(float(g.float().square().sum()) for g in grads if g is not None)) / unscale

        alpha = self.adversarial_weight()
        adaptive = self.config.loss.adversarial_scale == "adaptive"
        measure_scale = alpha > 0 and adaptive and paired
        if not log_grads and not measure_scale:  # nothing to measure per term: one backward pass of the sum
            scale = self.paired_scale if adaptive and self.paired_scale is not None else 1.0
            summands = [v.reshape(()) for v in weighted.values()] + ([alpha * scale * adversarial.reshape(())] if alpha > 0 else [])
            grads = gradient(torch.stack(summands).sum(), retain=False) if summands else [None] * len(params)
            for p, g in zip(params, grads):
                p.grad = g
            return {}, scale

        norms: dict[str, float] = {}
        reference: list[torch.Tensor | None] = [None] * len(params)
        total: list[torch.Tensor | None] = [None] * len(params)
        for group, names in groups.items():
            members = [weighted[n] for n in names if n in weighted]
            if not members:
                continue
            grads = gradient(torch.stack([m.reshape(()) for m in members]).sum())
            if log_grads:
                norms[f"grad/{group}"] = norm(grads)
            if all(n in paper for n in names):
                reference = add(reference, grads)
            total = add(total, grads)
        scale = 1.0
        if alpha > 0:
            adv = gradient(adversarial.reshape(()))
            if measure_scale:
                w = self.weights
                weights = w.appearance + w.reconstruction + w.temporal + self.config.loss.feature_matching
                scale = self.paired_scale = min(norm(reference) / (weights * norm(adv) + 1e-12), 1e4)
            elif adaptive and self.paired_scale is not None:
                scale = self.paired_scale
            total = add(total, adv, alpha * scale)
            if log_grads:
                norms["grad/adv"] = alpha * scale * norm(adv)
        elif log_grads:
            norms["grad/adv"] = 0.0
        for p, g in zip(params, total):
            p.grad = g
        if log_grads:
            norms["grad/total"] = norm(total)
        return norms, scale

    def train_step(self, batch: TrainingBatch) -> dict[str, float]:
        """One generator and one discriminator update on ``batch``; returns the step's metrics.

        Every ``run.grad_every`` steps (counting from the first, step 0) the metrics also hold the gradient
        norm on G and E of each weighted term of eq. 16: ``grad/adv``, ``grad/app``, ``grad/rec``,
        ``grad/tmp``, ``grad/fm`` (with ``loss.feature_matching``), ``grad/<hook loss>`` and ``grad/total``
        (the norm of their sum, the gradient Adam receives).
        """
        c = self.components
        batch = batch.to(self.device)
        b = batch.batch_size
        t0 = self._clock()
        scene = self.render(batch)
        flow, visible = flow3d(scene.renderings[0], scene.renderings[1], c.model.triangles) if self.use_temporal else (None, None)
        t1 = self._clock()

        d = c.discriminator
        d.requires_grad_(False)
        with self._autocast():
            with reporting(c.blender, "blending a training batch"):
                y = c.blender.blend(scene.rendered, scene.appearance, scene.hint, scene.mask)
            y_cur = y[:b]
            y_prev = y[b:] if self.use_temporal else None
            fm_weight = self.config.loss.feature_matching
            if fm_weight > 0:
                fake_logits, fake_features = d(y_cur, features=True)
                with torch.no_grad():
                    _, real_features = d(batch.identity.cur, features=True)
            else:
                fake_logits = d(y_cur)
            terms = {
                "adversarial": losses.g_hinge_loss(fake_logits),
                "appearance": losses.appearance_loss(c.embedder, y_cur, scene.appearance[:b], scene.hint[:b], scene.mask[:b]),
                "reconstruction": losses.reconstruction_loss(y_cur, batch.identity.cur, batch.is_video),
                "temporal": temporal_loss(y_cur, y_prev, flow, visible) if self.use_temporal else y_cur.new_zeros(()),
            }
            if fm_weight > 0:
                terms["feature_matching"] = losses.feature_matching_loss(real_features, fake_features, batch.is_video)
            outputs = StepOutputs(scene, y_cur, y_prev, flow, visible, terms)
            extra = self._extra_losses(batch, outputs)
            weighted = {short: getattr(self.weights, name) * terms[name].reshape(()) for name, short in GRAD_NAMES.items() if short != "adv"}
            if fm_weight > 0:
                weighted["fm"] = fm_weight * terms["feature_matching"]
            for name, (weight, value) in extra.items():
                weighted[name] = weight * value.reshape(())
        every = self.config.run.grad_every
        grad_norms, scale = self._generator_backward(
            weighted, terms["adversarial"], log_grads=bool(every) and self.step % every == 0, paired=bool(batch.is_video.any())
        )
        weights = attrs.evolve(self.weights, adversarial=self.adversarial_weight() * scale)
        total = losses.total_generator_loss(**{k: v.detach() for k, v in terms.items() if k != "feature_matching"}, weights=weights)
        if fm_weight > 0:
            total = total + fm_weight * terms["feature_matching"].detach()
        for weight, value in extra.values():
            total = total + weight * value.detach().reshape(())
        distributed.average_gradients(c.generator_parameters(), self.context)
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        if self.ema is not None:
            self.ema.update(c.blender)

        d.requires_grad_(True)
        r1 = self.config.loss.r1
        with self._autocast():
            real_images = batch.identity.cur.detach().requires_grad_(r1 > 0)
            real, fake = d(real_images), d(y_cur.detach())
            d_loss = losses.d_hinge_loss(real, fake)
            if r1 > 0:
                d_loss = d_loss + r1 / 2 * losses.r1_penalty(real, real_images)
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler_d.scale(d_loss).backward()
        distributed.average_gradients(c.discriminator_parameters(), self.context)
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        t2 = self._clock()

        self.step += 1
        metrics = {f"loss/{k}": float(v.detach()) for k, v in terms.items()}
        metrics.update({f"loss/{name}": float(value.detach()) for name, (_, value) in extra.items()})
        metrics.update(
            {
                "loss/total": float(total.detach()),
                "loss/d": float(d_loss.detach()),
                "d/real": float(torch.stack([r.detach().mean() for r in real]).mean()),
                "d/fake": float(torch.stack([f.detach().mean() for f in fake]).mean()),
                "data/video_fraction": float(batch.is_video.float().mean()),
                "time/render_flow": t1 - t0,
                "time/networks": t2 - t1,
            }
        )
        metrics.update(grad_norms)
        metrics["loss/adversarial_scale"] = scale
        self._last = (batch, outputs)
        return metrics

    @property
    def inference_blender(self) -> Any:
        """The blender that evaluation, sample grids and export use: the weight average (``optim.ema``) when
        on, else the blender being trained. The average has no discriminator."""
        return self.ema.module if self.ema is not None else self.components.blender

    def _exported(self) -> contextlib.AbstractContextManager:
        """The trained blender with the averaged G and E swapped in (when ``optim.ema`` is on) and its D."""
        blender = self.components.blender
        return self.ema.swapped_into(blender) if self.ema is not None else contextlib.nullcontext(blender)

    def export_pretrained(self, directory: str | Path) -> Path:
        """Save the trained blender with ``save_pretrained`` (``config.json`` + ``model.safetensors``), for
        editing with ``--blender NAME --blender-weights DIR`` or ``create_pretrained("blender", NAME, DIR)``.
        With ``optim.ema`` the averaged G and E are saved (with the trained D).

        Raises:
            PluginError: the blender is not a :class:`~tfvsdk.TrainableBlender`.
        """
        blender = self.components.blender
        if not isinstance(blender, TrainableBlender):
            raise PluginError(f"blender {self.config.components.blender!r} is not a TrainableBlender; it has no save_pretrained()")
        with reporting(blender, "saving its weights"), self._exported():
            return blender.save_pretrained(directory)

    def export_weights(self, path: str | Path) -> Path:
        """Save the trained blender's weights for editing with the blender's own ``save`` (``bsn``: a
        safetensors file that ``create("blender", "bsn", weights=path)`` loads); with ``optim.ema`` the
        averaged G and E (and the trained D).

        Raises:
            PluginError: the blender has no ``save`` method.
        """
        blender = self.components.blender
        if not callable(getattr(blender, "save", None)):
            raise PluginError(f"blender {self.config.components.blender!r} has no save() method to export its weights")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._exported():
            blender.save(path)
        return path

    def close(self) -> None:
        """Leave the process group this trainer joined (call once training is over)."""
        distributed.teardown(self.context)

    def eval_batches(self, count: int, *, sigma: float = 0.0, seed: int = 1_000_003) -> list[TrainingBatch]:
        """``count`` fixed batches for :meth:`evaluate`, drawn from the training data by a sampler of their own.

        Args:
            count: number of batches of ``data.batch_size`` samples.
            sigma: image-sample probability of these batches (0: video samples only, where L_rec and L_tmp
                are defined).
            seed: seed of their sampler (independent of the training stream).
        """
        sampler = DTSSSampler(self.images, self.videos, sigma=sigma, seed=seed, still_clips=self.config.data.still_clips)
        batches = sampler.batches(self.config.data.batch_size)
        return [collate([self.dataset[spec] for spec in next(batches)]) for _ in range(count)]

    @torch.no_grad()
    def evaluate(self, batches: list[TrainingBatch]) -> dict[str, float]:
        """The paper's loss terms of the current networks (:attr:`inference_blender`) on ``batches``, averaged,
        without any update.

        L_rec is averaged over the video samples only (not over the batch as in training) and L_tmp over
        the samples with a temporal pair, so the figures do not depend on the image/video mix.
        """
        blender = self.inference_blender
        was_training = blender.training
        blender.eval()
        try:
            return self._evaluate(batches, blender)
        finally:
            blender.train(was_training)

    def _evaluate(self, batches: list[TrainingBatch], blender: Any) -> dict[str, float]:
        c = self.components
        totals: dict[str, float] = {"rec": 0.0, "tmp": 0.0, "app": 0.0}
        videos = samples = 0
        for batch in batches:
            batch = batch.to(self.device)
            b = batch.batch_size
            scene = self.render(batch)
            y = blender.blend(scene.rendered, scene.appearance, scene.hint, scene.mask)
            per_sample = (y[:b] - batch.identity.cur).abs().flatten(1).mean(1)
            totals["rec"] += float(per_sample[batch.is_video].sum())
            if self.use_temporal:
                flow, visible = flow3d(scene.renderings[0], scene.renderings[1], c.model.triangles)
                for i in range(b):
                    totals["tmp"] += float(temporal_loss(y[i : i + 1], y[b + i : b + i + 1], flow[i : i + 1], visible[i : i + 1]))
            totals["app"] += b * float(losses.appearance_loss(blender.embedder, y[:b], scene.appearance[:b], scene.hint[:b], scene.mask[:b]))
            videos += int(batch.is_video.sum())
            samples += b
        return {
            "eval/reconstruction": totals["rec"] / max(videos, 1),
            "eval/temporal": totals["tmp"] / samples if self.use_temporal else 0.0,
            "eval/appearance": totals["app"] / samples,
        }

    def evaluate_clips(
        self, clips: list[int] | None = None, blender: Any = None, identities: list[int] | None = None
    ) -> dict[str, float]:
        """Held-out self-reenactment metrics (:func:`tfvsdk.train.evaluation.evaluate_clips`).

        Args:
            clips: clip indices of the video part (default: the held-out split, ``data.eval_clips``).
            blender: the blender to evaluate (default: :attr:`inference_blender`, the one being trained or
                its weight average; e.g. ``classical`` for the baseline on the same clips).
            identities: one image index per clip to swap onto it instead (then only ``eval/e_tmp``).

        Returns:
            ``eval/face_mae`` (0–255, inside M̂), ``eval/ssim``, ``eval/detail`` (the output's gradient energy
            over the ground truth's inside M̂: < 1 blurrier), ``eval/e_tmp`` (0–255 RMS) and
            ``eval/e_tmp_truth`` (the ground truth's E_tmp under the same flows).
        """
        blender = self.inference_blender if blender is None else blender
        result = evaluation.evaluate_clips(self, self.eval_clips if clips is None else clips, blender, identities)
        return {f"eval/{key}": value for key, value in result.items()}

    # -- the loop ---------------------------------------------------------------------------------------------

    def _loader(self) -> torch.utils.data.DataLoader:
        self.sampler.position = self.step * self.config.data.batch_size
        workers = self.config.data.num_workers
        # A generator of its own: creating the iterator draws a base seed, which must not move the global
        # torch RNG (a resumed run creates one more iterator than an uninterrupted one).
        generator = torch.Generator().manual_seed(self.config.run.seed)
        return torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=_Batches(self.sampler, self.config.data.batch_size),
            collate_fn=collate,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=2 if workers else None,
            generator=generator,
        )

    def save_samples(self, path: Path | None = None) -> Path:
        """Write a grid of the last step's samples (X_i, X_p, X_e, R, hint, Y^t[, Y^{t−1}]) as a PNG.

        With ``optim.ema`` the Y columns are the weight average's outputs on the last step's inputs (not the
        outputs the step trained on).
        """
        if self._last is None:
            raise InputError("save_samples: no training step has run yet")
        batch, outputs = self._last
        b = batch.batch_size
        scene = outputs.scene
        y_cur, y_prev = outputs.output, outputs.output_prev
        if self.ema is not None:
            with torch.no_grad():
                y = self.ema.module.blend(scene.rendered, scene.appearance, scene.hint, scene.mask)
            y_cur, y_prev = y[:b], (y[b:] if y_prev is not None else None)
        columns = [batch.identity.cur, batch.pose.cur, batch.expression.cur, scene.rendered[:b], scene.hint[:b], y_cur]
        if y_prev is not None:
            columns.append(y_prev)
        path = path or self.out / "samples" / f"step-{self.step:08d}.png"
        save_grid(path, columns)
        return path

    def save_checkpoint(self) -> Path:
        """Write the checkpoint of the current step (rank 0 only; other ranks return the path)."""
        if self.context.is_main:
            self.checkpoints.save(self.step, self.state_dict())
        return self.checkpoints.last

    def fit(self, max_steps: int | None = None, *, progress: bool = True) -> dict[str, float]:
        """Train until ``max_steps`` (default ``config.run.max_steps``) optimisation steps are done.

        Rank 0 writes ``metrics.jsonl`` every ``run.log_every`` steps — each value the mean over the steps
        since the previous line (``grad/*`` over the steps that measured it) — a checkpoint and a sample
        grid every ``run.every`` steps and at the end, the held-out evaluation (:meth:`evaluate_clips`)
        every ``run.eval_every`` steps and at the end, and shows a progress bar when ``progress`` is True.

        Returns:
            The metrics of the last step (averaged over processes).
        """
        run = self.config.run
        max_steps = run.max_steps if max_steps is None else max_steps
        main = self.context.is_main
        log = None
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            publish.write_bytes(self.out / "config.json", json.dumps(self.config.to_dict(), indent=1).encode())
            log = MetricsLog(self.out, resume_step=self.step if self.step else None)
        from tqdm.auto import tqdm

        bar = tqdm(total=max_steps, initial=self.step, disable=not (main and progress), unit="step", dynamic_ncols=True)
        metrics: dict[str, float] = {}
        interval = IntervalMean()
        start, start_step = time.perf_counter(), self.step
        try:
            loader = iter(self._loader())
            while self.step < max_steps:
                t_data = time.perf_counter()
                batch = next(loader)
                t_data = time.perf_counter() - t_data
                metrics = self.train_step(batch)
                metrics["time/data"] = t_data
                metrics = distributed.all_mean(metrics, self.context)
                for key, value in metrics.items():
                    if key.startswith("loss/") and not math.isfinite(value):
                        raise InputError(f"step {self.step}: {key} is {value}; lower the learning rates or check the data")
                call_hook("on_train_step_end", trainer=self, step=self.step, metrics=metrics)
                interval.add(metrics)
                if main:
                    line: dict[str, float] = {}
                    if self.step % run.log_every == 0 or self.step == max_steps:
                        line.update(interval.pop())
                    if self.eval_clips and run.eval_every and (self.step % run.eval_every == 0 or self.step == max_steps):
                        line.update(self.evaluate_clips())
                    if line:
                        log.write(self.step, line)
                    bar.set_postfix(rec=f"{metrics['loss/reconstruction']:.3f}", tmp=f"{metrics['loss/temporal']:.2e}", d=f"{metrics['loss/d']:.2f}")
                    bar.update(1)
                if self.step % run.every == 0 or self.step == max_steps:
                    if main:
                        self.save_samples()
                    self.save_checkpoint()
                    distributed.barrier(self.context)
        finally:
            bar.close()
            if log is not None:
                log.close()
        done = self.step - start_step
        if main and done:
            elapsed = time.perf_counter() - start
            logger.info("trained %d steps in %.1f s (%.2f s/step); checkpoint %s", done, elapsed, elapsed / done, self.checkpoints.last)
        return metrics
