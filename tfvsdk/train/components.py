"""Building and validating the components a training run uses, by their registered names."""

from __future__ import annotations

import inspect
import logging
import warnings

import attrs
import torch

from ..data.samples import ROLES
from ..errors import InputError, PluginError
from ..interfaces import Blender, Reconstructor, Renderer, TaskComposer, TrainableBlender
from ..morphable import MorphableModel
from ..plugins import components, create, origin
from .config import ComponentsConfig

logger = logging.getLogger(__name__)


@attrs.frozen(eq=False)
class Components:
    """The parts of a training run.

    Attributes:
        model: the morphable model of the dataset's fits.
        renderer: draws R and M̂ (eq. 3).
        blender: the trained blender, a :class:`~tfvsdk.TrainableBlender` with its discriminator.
        composer: chooses identity, expression, pose, texture and appearance among the roles (eq. 2).
        role_map: the sample role (``identity``/``pose``/``expression``) of each composer role.
        reconstructor: the reconstructor the data was prepared with, or None.
    """

    model: MorphableModel
    renderer: Renderer
    blender: Blender
    composer: TaskComposer
    role_map: dict[str, str]
    reconstructor: Reconstructor | None = None

    @property
    def discriminator(self) -> torch.nn.Module:
        """D of the blender (its ``discriminator`` attribute)."""
        return self.blender.discriminator

    @property
    def embedder(self) -> torch.nn.Module:
        """E of the blender (its ``embedder`` attribute), used by L_app (eq. 6)."""
        return self.blender.embedder

    def generator_parameters(self) -> list[torch.nn.Parameter]:
        """The blender's parameters outside D (G, E and anything else the blender trains with them)."""
        d_ids = {id(p) for p in self.discriminator.parameters()}
        return [p for p in self.blender.parameters() if id(p) not in d_ids]

    def discriminator_parameters(self) -> list[torch.nn.Parameter]:
        return list(self.discriminator.parameters())


def _describe(instance: object, kind: str, name: str) -> str:
    comp = origin(instance)
    return f"{kind} {name!r}" + (f" (plugin {comp.plugin!r})" if comp else "")


def check_trainable_blender(blender: Blender, name: str) -> None:
    """Raise PluginError unless ``blender`` can be trained: a :class:`~tfvsdk.TrainableBlender` (or, deprecated,
    an ``nn.Module`` with ``trainable = True``) with parameters and ``embedder`` and ``discriminator``
    sub-modules."""
    where = _describe(blender, "blender", name)
    if getattr(blender, "trainable", False) and not isinstance(blender, TrainableBlender):
        warnings.warn(
            f"{where}: a trainable blender should derive from tfvsdk.TrainableBlender (save_pretrained, "
            "from_pretrained, build_discriminator); duck-typed trainable blenders are deprecated",
            DeprecationWarning,
            stacklevel=3,
        )
    if not getattr(blender, "trainable", False):
        raise PluginError(
            f"components.blender: {where} is not trainable (Blender.trainable is False); the trainer trains a "
            "blender's networks — choose a trainable blender such as 'bsn'"
        )
    if not isinstance(blender, torch.nn.Module) or not any(True for _ in blender.parameters()):
        raise PluginError(f"components.blender: {where} says it is trainable but is not an nn.Module with parameters")
    for part in ("embedder", "discriminator"):
        if not isinstance(getattr(blender, part, None), torch.nn.Module):
            raise PluginError(
                f"components.blender: {where} has no '{part}' module; the trainer needs E (L_app, eq. 6) and D "
                "(L_adv, eq. 8) — create it with its discriminator enabled"
            )


def resolve_roles(composer: TaskComposer, name: str, role_map: dict[str, str]) -> dict[str, str]:
    """The sample role of every composer role (``role_map`` first, else the role's own name).

    Raises:
        InputError: a composer role that maps to no sample role, or a map entry for a role the composer
            does not have.
    """
    unknown = sorted(set(role_map) - set(composer.roles))
    if unknown:
        raise InputError(f"components.role_map: composer {name!r} has no roles {unknown}; its roles are {list(composer.roles)}")
    resolved = {role: role_map.get(role, role) for role in composer.roles}
    bad = {r: s for r, s in resolved.items() if s not in ROLES}
    if bad:
        raise InputError(
            f"components.role_map: composer {name!r} role(s) {sorted(bad)} map to no training-sample role; "
            f"map each to one of {list(ROLES)} (e.g. role_map = {{ {next(iter(bad))} = \"pose\" }})"
        )
    return resolved


def _accepts(registered: dict, name: str, parameter: str) -> bool:
    """Whether the registered factory ``name`` takes the keyword ``parameter``."""
    if name not in registered:
        return False
    try:
        return parameter in inspect.signature(registered[name].factory).parameters
    except (TypeError, ValueError):
        return False


def build_components(config: ComponentsConfig, device: torch.device | str = "cpu") -> Components:
    """Create every component by name with :func:`tfvsdk.create` and check they fit together.

    The blender's discriminator is built with :meth:`~tfvsdk.TrainableBlender.enable_discriminator` unless
    it has one (a deprecated duck-typed trainable blender whose factory takes ``with_discriminator`` gets
    ``with_discriminator=True`` instead).

    Raises:
        PluginError: an unknown name (with the available ones), a blender that cannot be trained.
        InputError: composer roles that do not map to the sample roles, or a reconstructor whose model does
            not match ``model``.
    """
    model = create("model", config.model, **config.model_config).to(device)
    if model.uv is None:
        raise InputError(f"components.model: model {config.model!r} has no UV coordinates; training renders textures")
    renderer = create("renderer", config.renderer, **config.renderer_config)
    blender_config = dict(config.blender_config)
    factory = components()["blender"].get(config.blender)
    legacy = factory is not None and not (isinstance(factory.factory, type) and issubclass(factory.factory, TrainableBlender))
    if legacy and "with_discriminator" not in blender_config and _accepts(components()["blender"], config.blender, "with_discriminator"):
        blender_config["with_discriminator"] = True
    blender = create("blender", config.blender, **blender_config)
    if isinstance(blender, TrainableBlender):
        blender.enable_discriminator()
    check_trainable_blender(blender, config.blender)
    blender.to(device)
    composer = create("composer", config.composer, **config.composer_config)
    role_map = resolve_roles(composer, config.composer, dict(config.role_map))
    reconstructor = None
    if config.reconstructor:
        reconstructor = create("reconstructor", config.reconstructor, **config.reconstructor_config)
        theirs = reconstructor.model
        if (theirs.n_id, theirs.n_exp, theirs.n_vertices) != (model.n_id, model.n_exp, model.n_vertices):
            raise InputError(
                f"components.reconstructor {config.reconstructor!r} fits model {theirs.name!r} "
                f"(K_id={theirs.n_id}, K_exp={theirs.n_exp}), but components.model {config.model!r} has "
                f"K_id={model.n_id}, K_exp={model.n_exp}"
            )
    logger.info("training %s with renderer %s, composer %s", _describe(blender, "blender", config.blender), config.renderer, config.composer)
    return Components(model, renderer, blender, composer, role_map, reconstructor)
