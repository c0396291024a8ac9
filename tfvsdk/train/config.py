"""Training configuration: attrs classes, one per TOML table, read with :func:`load_config`.

A ``train.toml`` has the tables ``[data]``, ``[components]``, ``[optim]``, ``[loss]`` and ``[run]``; every
key is a field below, every table and key is optional (defaults are the paper's settings), and an unknown
key is an error that names it and the close match::

    [data]
    root = "data/synth"
    sigma = 0.5

    [components]
    blender_config = { preset = "small" }

    [run]
    out = "runs/synth"
    max_steps = 2000
    every = 250

The paper's ablations: ``loss.use_temporal = false`` (w/o L_tmp), ``components.blender_config =
{ norm = "adain" }`` (w/o BSN, a switch of the ``bsn`` blender), ``data.sigma`` ∈ [0, 1] (1 image-only,
0 video-only; with ``data.still_clips = true`` images join the video samples as single-frame clips).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..checks import at_most, non_negative, positive
from ..errors import InputError
from ..losses import LossWeights


def _probability(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise InputError(f"{type(instance).__name__}.{attribute.name}: expected a value in [0, 1], got {value!r}")


def _betas(instance: Any, attribute: attrs.Attribute, value: tuple[float, float]) -> None:
    if len(value) != 2 or not all(0.0 <= b < 1.0 for b in value):
        raise InputError(f"{type(instance).__name__}.{attribute.name}: expected two values in [0, 1), got {value!r}")


def _decay(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise InputError(f"{type(instance).__name__}.{attribute.name}: expected a decay in [0, 1) (0 = off), got {value!r}")


def _one_of(*options: str) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: str) -> None:
        if value not in options:
            raise InputError(f"{type(instance).__name__}.{attribute.name}: expected one of {options}, got {value!r}")

    return check


def _table(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"expected a table (dict), got {value!r}")
    return dict(value)


@attrs.define
class DataConfig:
    """Where the samples come from and how they are drawn (§3.1).

    Attributes:
        root: dataset folder (layout of :mod:`tfvsdk.data.layout`) holding the image part, the video part
            or both.
        image_root: a separate dataset folder for the image part (e.g. a prepared FFHQ); empty = ``root``.
        video_root: a separate dataset folder for the video part (e.g. a prepared VoxCeleb2); empty = ``root``.
        sigma: DTSS probability σ of an image sample (paper: 0.5; 1 = image-only, 0 = video-only).
        batch_size: samples per step and process (the paper: 24 over 8 GPUs, i.e. 3 per GPU).
        num_workers: DataLoader worker processes (0 loads in the training process).
        still_clips: images also serve as single-frame clips for video samples (the paper's "reenactment
            alone" ablation with ``sigma = 0``: "image datasets are regarded as single-frame videos").
        eval_clips: the last this many clips of the video part (in the manifest's order) are a held-out
            split: never drawn for training, used by the evaluation every ``run.eval_every`` steps.
    """

    root: str = "data/synth"
    image_root: str = ""
    video_root: str = ""
    sigma: float = attrs.field(default=0.5, converter=float, validator=_probability)
    batch_size: int = attrs.field(default=4, converter=int, validator=[positive, at_most(4096)])
    num_workers: int = attrs.field(default=0, converter=int, validator=[non_negative, at_most(256)])
    still_clips: bool = False
    eval_clips: int = attrs.field(default=0, converter=int, validator=non_negative)


@attrs.define
class ComponentsConfig:
    """The plugins trained and used, by registered name, each with its keyword config.

    Attributes:
        model: morphable model the dataset's fits refer to (``tfv models``); checked against the manifest.
        model_config: keyword config of the model loader (e.g. ``{ path = "sfm_3448.npz" }``).
        reconstructor: reconstructor the dataset was prepared with; empty = none. Training reads cached fits
            and never fits; when set, its model must match ``model`` (used by ``tfv prepare`` too).
        reconstructor_config: its keyword config.
        renderer: renderer plugin that draws R and M̂ (eq. 3).
        renderer_config: its keyword config.
        blender: the trained blender; must be a :class:`~tfvsdk.TrainableBlender`.
        blender_config: its keyword config (for ``bsn``: the preset, ``norm = "adain"`` for "w/o BSN", …).
        composer: composer that chooses identity/expression/pose/texture/appearance from the roles.
        composer_config: its keyword config.
        role_map: maps each of the composer's roles to a sample role (``identity``, ``pose``,
            ``expression``); roles absent from the map must be sample roles already. E.g. for ``swap``:
            ``{ target = "pose" }``.
    """

    model: str = "default"
    model_config: dict[str, Any] = attrs.field(factory=dict, converter=_table)
    reconstructor: str = ""
    reconstructor_config: dict[str, Any] = attrs.field(factory=dict, converter=_table)
    renderer: str = "raster"
    renderer_config: dict[str, Any] = attrs.field(factory=dict, converter=_table)
    blender: str = "bsn"
    blender_config: dict[str, Any] = attrs.field(factory=dict, converter=_table)
    composer: str = "remix"
    composer_config: dict[str, Any] = attrs.field(factory=dict, converter=_table)
    role_map: dict[str, str] = attrs.field(factory=dict, converter=_table)


@attrs.define
class OptimConfig:
    """Adam settings (§4: lr 1e-4 for G and E, 4e-4 for D).

    Attributes:
        lr_g: learning rate of the generator G and the embedder E.
        lr_d: learning rate of the discriminator D.
        betas: Adam's (β1, β2). The paper does not state them; pix2pixHD's (0.5, 0.999) are the default.
        ema: decay β of an exponential moving average of G's and E's weights (0 = off, the paper's
            setting; GAN practice: 0.999). When on, the average — not the last iterate — is evaluated,
            drawn in the sample grids and exported (:mod:`tfvsdk.train.ema`); checkpoints store it.
    """

    lr_g: float = attrs.field(default=1e-4, converter=float, validator=positive)
    lr_d: float = attrs.field(default=4e-4, converter=float, validator=positive)
    betas: tuple[float, float] = attrs.field(default=(0.5, 0.999), converter=lambda v: tuple(float(b) for b in v), validator=_betas)
    ema: float = attrs.field(default=0.0, converter=float, validator=_decay)


@attrs.define
class LossConfig:
    """The weights of eq. 16 and the "w/o L_tmp" ablation.

    Attributes:
        adversarial: α, weight of L_adv (paper 10).
        appearance: β, weight of L_app (paper 1).
        reconstruction: γ, weight of L_rec (paper 10).
        temporal: λ, weight of L_tmp (paper 5).
        use_temporal: False drops L_tmp and skips the t−1 pass entirely (the "w/o L_tmp" ablation).
        adversarial_warmup: α rises linearly from 0 to ``adversarial`` over this many first steps (0 = off).
        adversarial_scale: ``"adaptive"`` (default) multiplies L_adv by
            s = ‖∇_θ(β L_app + γ L_rec + λ L_tmp)‖ / ((β + γ + λ) ‖∇_θ L_adv‖), θ the parameters of G and E
            (s held constant in the backward pass; the adaptive weight of Esser et al. 2021 taken over all of
            G and E), so that α L_adv's gradient has α/(β + γ + λ) times the norm of the other terms'
            weighted sum throughout training; s is measured on batches with a video sample and kept on
            batches of image samples (s = 1 before the first); ``"fixed"`` uses L_adv as it is (s = 1).
        feature_matching: μ, weight of pix2pixHD's discriminator feature matching L_FM on video samples
            (:func:`tfvsdk.losses.feature_matching_loss`; Wang et al. 2018, eq. 4), a perceptual term that needs
            no pretrained network. Not in the paper's eq. 16: 0 (off) by default. When on, μ L_FM joins the
            numerator of the adaptive scale and μ its denominator: s = ‖∇_θ(β L_app + γ L_rec + λ L_tmp +
            μ L_FM)‖ / ((β + γ + λ + μ) ‖∇_θ L_adv‖).
        r1: weight γ of the R1 penalty (γ/2)·E‖∇_X D(X)‖² on real images added to D's loss (Mescheder et al.
            2018; 0 = off).
    """

    adversarial: float = attrs.field(default=10.0, converter=float, validator=non_negative)
    appearance: float = attrs.field(default=1.0, converter=float, validator=non_negative)
    reconstruction: float = attrs.field(default=10.0, converter=float, validator=non_negative)
    temporal: float = attrs.field(default=5.0, converter=float, validator=non_negative)
    use_temporal: bool = True
    adversarial_warmup: int = attrs.field(default=0, converter=int, validator=non_negative)
    adversarial_scale: str = attrs.field(default="adaptive", validator=_one_of("adaptive", "fixed"))
    r1: float = attrs.field(default=0.0, converter=float, validator=non_negative)
    feature_matching: float = attrs.field(default=0.0, converter=float, validator=non_negative)

    def weights(self) -> LossWeights:
        """The :class:`~tfvsdk.losses.LossWeights` of eq. 16 (λ = 0 when ``use_temporal`` is off)."""
        return LossWeights(self.adversarial, self.appearance, self.reconstruction, self.temporal if self.use_temporal else 0.0)


@attrs.define
class RunConfig:
    """Length, outputs and reproducibility of a run.

    Attributes:
        out: output folder: ``checkpoints/``, ``samples/``, ``metrics.jsonl``, ``config.json``, TensorBoard
            events (``tb/``).
        max_steps: optimisation steps to reach (a resumed run continues up to this step).
        every: write a checkpoint and a sample grid every this many steps (and at the end).
        log_every: append metrics to ``metrics.jsonl`` every this many steps.
        keep: number of most recent step checkpoints kept besides ``last.pt``.
        seed: seed of the sampler and of torch's initialisation.
        amp: mixed precision (autocast + gradient scaling) on CUDA; ignored with a log message on CPU.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; under torchrun each process uses
            its ``LOCAL_RANK`` device.
        resume: continue from ``out/checkpoints/last.pt`` when it exists.
        grad_every: every this many steps, log the norm of each weighted loss term's gradient on G and E
            (``grad/<term>``; costs one backward pass per term on those steps); 0 = never.
        eval_every: every this many steps (and at the end), evaluate on the held-out clips
            (``data.eval_clips``) and log ``eval/face_mae``, ``eval/ssim``, ``eval/detail``, ``eval/e_tmp``; 0 = never.
    """

    out: str = "runs/train"
    max_steps: int = attrs.field(default=1000, converter=int, validator=positive)
    every: int = attrs.field(default=250, converter=int, validator=positive)
    log_every: int = attrs.field(default=10, converter=int, validator=positive)
    keep: int = attrs.field(default=2, converter=int, validator=non_negative)
    seed: int = attrs.field(default=0, converter=int, validator=non_negative)
    amp: bool = False
    device: str = attrs.field(default="auto", validator=_one_of("auto", "cpu", "cuda"))
    resume: bool = True
    grad_every: int = attrs.field(default=50, converter=int, validator=non_negative)
    eval_every: int = attrs.field(default=0, converter=int, validator=non_negative)


@attrs.define
class TrainConfig:
    """A whole training configuration (one TOML file).

    Attributes:
        data: :class:`DataConfig`, table ``[data]``.
        components: :class:`ComponentsConfig`, table ``[components]``.
        optim: :class:`OptimConfig`, table ``[optim]``.
        loss: :class:`LossConfig`, table ``[loss]``.
        run: :class:`RunConfig`, table ``[run]``.
    """

    data: DataConfig = attrs.field(factory=DataConfig)
    components: ComponentsConfig = attrs.field(factory=ComponentsConfig)
    optim: OptimConfig = attrs.field(factory=OptimConfig)
    loss: LossConfig = attrs.field(factory=LossConfig)
    run: RunConfig = attrs.field(factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the config (TOML/JSON types), the inverse of :func:`config_from_dict`."""
        return attrs.asdict(self, value_serializer=lambda _, __, v: list(v) if isinstance(v, tuple) else v)


_SECTION_TYPES = {"data": DataConfig, "components": ComponentsConfig, "optim": OptimConfig, "loss": LossConfig, "run": RunConfig}


def _unknown(kind: str, key: str, known: list[str], where: str) -> InputError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return InputError(f"{where}: unknown {kind} {key!r}{hint} Known: {', '.join(known)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_type(cls: type, key: str, value: Any, where: str) -> None:
    default = getattr(cls(), key)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: _is_number(value),
        str: isinstance(value, str),
        dict: isinstance(value, Mapping),
        tuple: isinstance(value, (list, tuple)) and all(_is_number(v) for v in value),
    }[type(default)]
    if not ok:
        expected = f"a list of {len(default)} numbers" if isinstance(default, tuple) else f"type {type(default).__name__}"
        raise InputError(f"{where}: {key} = {value!r}: expected {expected}")


def config_from_dict(data: Mapping[str, Any], where: str = "config") -> TrainConfig:
    """Build a :class:`TrainConfig` from nested dicts (the parsed TOML).

    Raises:
        InputError: an unknown table or key (with a close match), a value of the wrong type or out of range.
    """
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: expected a table of tables, got {type(data).__name__}")
    sections: dict[str, Any] = {}
    for name, table in data.items():
        if name not in _SECTION_TYPES:
            raise _unknown("table", f"[{name}]", [f"[{k}]" for k in _SECTION_TYPES], where)
        cls = _SECTION_TYPES[name]
        if not isinstance(table, Mapping):
            raise InputError(f"{where}: [{name}] must be a table, got {table!r}")
        known = [f.name for f in attrs.fields(cls)]
        for key, value in table.items():
            if key not in known:
                raise _unknown(f"key in [{name}]", key, known, where)
            _check_type(cls, key, value, f"{where} [{name}]")
        try:
            sections[name] = cls(**table)
        except (InputError, TypeError, ValueError, OverflowError) as exc:
            raise InputError(f"{where}: [{name}]: {exc}") from exc
    return TrainConfig(**sections)


def load_config(path: str | os.PathLike) -> TrainConfig:
    """Read a ``train.toml``.

    Raises:
        InputError: missing file, not UTF-8, TOML syntax error (with its line), or an invalid config.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; expected a TOML file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); a TOML file must be UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from exc
    return config_from_dict(data, str(path))
