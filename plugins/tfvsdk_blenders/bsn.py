"""The ``bsn`` blender: the paper's deep blending network Y = G(R, E(X_p, M), M̂) (§3.3).

A :class:`tfvsdk.TrainableBlender` holding the embedder E, the generator G and, for training, the
multi-scale discriminator D (``with_discriminator=True`` or :meth:`enable_discriminator`). It is saved as a
folder with ``save_pretrained(dir)`` (``--blender-weights DIR``), or as one safetensors file with
:meth:`BSNBlender.save` whose metadata records the network configuration, so
``create("blender", "bsn", weights=path)`` rebuilds the saved network without being told its preset.
Loading never executes code.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import safetensors
import safetensors.torch
import torch

import tfvsdk
from tfvsdk import publish
from tfvsdk.nn import DiscriminatorConfig, Embedder, Generator, GeneratorConfig, MultiScaleDiscriminator
from tfvsdk.pretrained import SIZE_SLACK, fit_state, stored_values

logger = logging.getLogger(__name__)

FORMAT = "tfvsdk-bsn-blender/1"


def _read_metadata(path: Path) -> dict[str, str]:
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except Exception as exc:
        raise tfvsdk.ModelFileError(f"{path}: not a readable safetensors weights file ({exc})") from exc


def _config(cls: type, values: Mapping[str, Any], name: str) -> Any:
    try:
        return cls(**values)
    except TypeError as exc:
        raise tfvsdk.InputError(f"{name}: not a {cls.__name__} ({exc})") from None


def _check_network_fits_file(path: Path, g: GeneratorConfig, d: DiscriminatorConfig | None) -> None:
    """Refuse metadata that describes a network larger than the weights the file holds, before building it.

    Every down-sampling layer, residual block and discriminator layer owns at least one tensor, so their
    counts are first bounded by the file's number of tensors; the networks are then built on torch's
    ``meta`` device (shapes only, no memory) and their values counted against the file's: more than twice
    as many, plus 2**20 (:data:`tfvsdk.pretrained.SIZE_SLACK`), is refused (a file that only misses or misshapes some tensors is
    left to :meth:`BSNBlender.load`, whose message names them).

    Raises:
        ModelFileError: the metadata asks for far more layers or values than the file holds.
    """
    tensors, values = stored_values(path)
    layers = g.n_down + g.n_res_blocks + (d.n_layers * d.n_scales if d is not None else 0)
    described = f"its metadata describes a network (generator {json.dumps(attrs.asdict(g))})"
    if layers > tensors:
        raise tfvsdk.ModelFileError(f"{path}: {described} of more than {layers} layers; the file holds {tensors} tensors")
    try:
        with torch.device("meta"):
            modules = [Embedder(g.base_channels, g.n_down, g.embed_channels), Generator(g)]
            if d is not None:
                modules.append(MultiScaleDiscriminator(d))
        needed = sum(t.numel() for m in modules for t in m.state_dict().values())
    except (RuntimeError, OverflowError, ValueError) as exc:
        raise tfvsdk.ModelFileError(f"{path}: {described} too large to build ({exc})") from exc
    if needed > SIZE_SLACK * values + 2**20:
        raise tfvsdk.ModelFileError(f"{path}: {described} of {needed:,} values ({needed * 4 / 2**20:.0f} MiB); "
                                    f"the file holds {values:,}")


class BSNBlender(tfvsdk.TrainableBlender):
    """G + E (+ D) behind the :class:`tfvsdk.Blender` interface.

    Args:
        preset: ``"small"`` or ``"paper"`` (see :class:`tfvsdk.nn.GeneratorConfig`); default: the preset
            stored in ``weights``, else ``"small"``.
        norm: ``"bsn"`` (eq. 4) or ``"adain"`` (the paper's "w/o BSN" ablation); default as ``preset``.
        weights: a safetensors file written by :meth:`save` to load.
        with_discriminator: also build D (needed for training): 3 stride-2 layers, first-layer width equal
            to G's base width (32 small, 64 paper as pix2pixHD), unless ``weights`` holds a D configuration.
        scales: K, the discriminator's number of scales.
        generator_config: G's full configuration (:class:`tfvsdk.nn.GeneratorConfig` fields; without
            ``output`` it is read as ``"direct"``, the only G before that field existed), instead of
            ``preset``; what :meth:`get_config` records.
        discriminator_config: D's full configuration (:class:`tfvsdk.nn.DiscriminatorConfig` fields),
            instead of ``scales``.

    Raises:
        InputError: an unknown preset or norm.
        ModelFileError: ``weights`` is missing, unreadable or does not fit the network.

    Example:
        >>> blender = tfvsdk.create("blender", "bsn", preset="small", norm="adain")
        >>> blender.generator.config.norm
        'adain'
    """

    def __init__(
        self,
        preset: str | None = None,
        norm: str | None = None,
        weights: str | os.PathLike | None = None,
        with_discriminator: bool = False,
        scales: int = 2,
        generator_config: Mapping[str, Any] | None = None,
        discriminator_config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        stored = self._stored_configs(Path(weights)) if weights is not None and preset is None else None
        if generator_config is not None:
            # A configuration recorded before G had an ``output`` field is the direct (sigmoid) G.
            stored = (_config(GeneratorConfig, {"output": "direct", **generator_config}, "generator_config"), None)
        if stored is not None:
            g_config = attrs.evolve(stored[0], norm=norm) if norm else stored[0]
        else:
            g_config = GeneratorConfig.preset(preset or "small", **({"norm": norm} if norm else {}))
        if discriminator_config is not None:
            stored = (g_config, _config(DiscriminatorConfig, discriminator_config, "discriminator_config"))
        self.discriminator_config = (stored and stored[1]) or DiscriminatorConfig(base_channels=g_config.base_channels, n_scales=scales)
        self.embedder = Embedder(g_config.base_channels, g_config.n_down, g_config.embed_channels)
        self.generator = Generator(g_config)
        self.discriminator = self.build_discriminator() if with_discriminator else None
        if weights is not None:
            self.load(weights)

    def get_config(self) -> dict[str, Any]:
        """G's and D's configurations: ``BSNBlender(**config)`` rebuilds this architecture."""
        return {
            "generator_config": attrs.asdict(self.generator.config),
            "discriminator_config": attrs.asdict(self.discriminator_config),
        }

    def build_discriminator(self) -> MultiScaleDiscriminator:
        """A new multi-scale PatchGAN D (:class:`tfvsdk.nn.MultiScaleDiscriminator`) of this blender's D config."""
        return MultiScaleDiscriminator(self.discriminator_config)

    @staticmethod
    def _stored_configs(path: Path) -> tuple[GeneratorConfig, DiscriminatorConfig | None] | None:
        if not path.is_file():
            raise tfvsdk.ModelFileError(f"{path}: no such weights file")
        metadata = _read_metadata(path)
        if metadata.get("format") != FORMAT:
            return None
        try:
            # Files written before G had an ``output`` field hold the direct (sigmoid) G.
            g = GeneratorConfig(**{"output": "direct", **json.loads(metadata["generator"])})
            # Files written before D had a ``norm`` field hold pix2pixHD's instance-norm D.
            d = DiscriminatorConfig(**{"norm": "instance", **json.loads(metadata["discriminator"])}) if "discriminator" in metadata else None
        except (KeyError, TypeError, ValueError) as exc:
            raise tfvsdk.ModelFileError(f"{path}: damaged network configuration in the metadata ({exc!r})") from exc
        _check_network_fits_file(path, g, d)
        return g, d

    def forward(
        self, rendered: torch.Tensor, appearance: torch.Tensor, hint: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Y = G(R, E(X_p, M), M̂), differentiable (shapes as :meth:`blend`)."""
        return self.generator(rendered, self.embedder(appearance, hint), mask, hint)

    def _blend(
        self, rendered: torch.Tensor, appearance: torch.Tensor, hint: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Blend (see :meth:`tfvsdk.Blender.blend`); inputs must be on this module's device.

        Gradients flow as in :meth:`forward` (wrap in ``torch.no_grad()`` for inference). Without gradients
        on the CPU the frames go through the networks one at a time: the activations of one 256² frame stay in
        cache, and a batch of 16 costs 2.5× more per frame (bench/edit.py).
        """
        if torch.is_grad_enabled() or rendered.device.type != "cpu" or rendered.shape[0] == 1:
            return self(rendered, appearance, hint, mask)
        return torch.cat([self(*frame) for frame in zip(*(x.split(1) for x in (rendered, appearance, hint, mask)))])

    def _metadata(self) -> dict[str, str]:
        metadata = {"format": FORMAT, "generator": json.dumps(attrs.asdict(self.generator.config))}
        if self.discriminator is not None:
            metadata["discriminator"] = json.dumps(attrs.asdict(self.discriminator.config))
        return metadata

    def save(self, path: str | os.PathLike) -> None:
        """Write all weights (E, G and D if present) to a safetensors file, atomically
        (:func:`tfvsdk.publish.write_file`).

        Raises:
            OutputError: the file could not be written; ``path`` is untouched.
        """
        path = Path(path)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        publish.write_file(path, lambda tmp: safetensors.torch.save_file(tensors, tmp, metadata=self._metadata()))
        logger.info("saved %d tensors to %s", len(tensors), path)

    def load(self, path: str | os.PathLike) -> None:
        """Load weights written by :meth:`save`.

        E and G must match the file exactly (names and shapes). D's weights are loaded when both the file
        and this blender have D; otherwise they are skipped (an inference blender can read a training
        file, and a training blender starts D afresh from an inference file).

        Raises:
            ModelFileError: a missing or unreadable file, missing or unexpected tensors, or a shape mismatch;
                the message names the tensors and the configuration the file was saved with.
        """
        path = Path(path)
        if not path.is_file():
            raise tfvsdk.ModelFileError(f"{path}: no such weights file")
        saved_with = _read_metadata(path).get("generator", "unknown configuration")
        try:
            tensors = safetensors.torch.load_file(str(path))
        except Exception as exc:
            raise tfvsdk.ModelFileError(f"{path}: not a readable safetensors weights file ({exc})") from exc
        this = json.dumps(attrs.asdict(self.generator.config))
        fit_state(self, tensors, f"{path} (saved with {saved_with}; this blender has generator {this})", optional_prefix="discriminator.")
        logger.info("loaded %d tensors from %s", len(tensors), path)

    def extra_repr(self) -> str:
        return f"config={self.generator.config}"
