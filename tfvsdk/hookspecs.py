"""The hook specifications of tfvsdk: what a plugin can provide.

A plugin is a module (or object) with functions marked ``@tfvsdk.hookimpl`` and named as below. Registration
hooks receive a :class:`Register` callable: ``register(name, factory, description="", aliases=())`` where
``factory(**config)`` builds the component (a class works). Hook implementations may take fewer arguments
than the spec; specs gain arguments over time but never rename them.

Example:
    >>> import tfvsdk
    >>> class MyRenderer(tfvsdk.Renderer): ...
    >>> @tfvsdk.hookimpl
    ... def register_renderers(register):
    ...     register("mine", MyRenderer, description="my renderer")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click
    import torch

    from .data.samples import TrainingBatch
    from .models.records import Artefact
    from .train.trainer import StepOutputs, Trainer

hookspec = pluggy.HookspecMarker("tfvsdk")
hookimpl = pluggy.HookimplMarker("tfvsdk")


class Register(Protocol):
    """The callable a registration hook receives."""

    def __call__(
        self, name: str, factory: Callable[..., Any], description: str = "", *, aliases: Iterable[str] = ()
    ) -> None:
        """Register one component.

        Args:
            name: the component's name, unique within its kind (``tfvsdk.create(kind, name)``).
            factory: ``factory(**config)`` returns the component (a class is a factory); its keyword
                parameters are the settings ``--opt KIND.KEY=VALUE`` may set.
            description: one line for ``tfv plugins``.
            aliases: old names that still build the component with a ``DeprecationWarning``.
        """


class ArtefactRegister(Protocol):
    """The callable ``register_model_artefacts`` receives."""

    def __call__(self, artefact: Artefact) -> None:
        """Register one downloadable or importable model artefact (its name unique across plugins)."""


@hookspec
def register_reconstructors(register: Register) -> None:
    """Register :class:`~tfvsdk.interfaces.Reconstructor` factories: ``register(name, factory)``."""


@hookspec
def register_renderers(register: Register) -> None:
    """Register :class:`~tfvsdk.interfaces.Renderer` factories."""


@hookspec
def register_blenders(register: Register) -> None:
    """Register :class:`~tfvsdk.interfaces.Blender` factories (a :class:`~tfvsdk.interfaces.TrainableBlender`
    subclass can be trained and loaded with ``--blender-weights DIR``)."""


@hookspec
def register_composers(register: Register) -> None:
    """Register :class:`~tfvsdk.interfaces.TaskComposer` factories (one per editing task)."""


@hookspec
def register_morphable_models(register: Register) -> None:
    """Register :class:`~tfvsdk.morphable.MorphableModel` loaders: ``factory(**config)`` returns a model."""


@hookspec
def register_landmark_detectors(register: Register) -> None:
    """Register :class:`~tfvsdk.interfaces.LandmarkDetector` factories."""


@hookspec
def register_identity_embedders(register: Register) -> None:
    """Register :class:`~tfvsdk.interfaces.IdentityEmbedder` factories (face-recognition descriptors for E_id)."""


@hookspec
def register_model_artefacts(register: ArtefactRegister) -> None:
    """Register downloadable model files (:class:`~tfvsdk.models.Artefact`): ``register(artefact)``."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``tfv`` click group ``cli`` (``@cli.command()``)."""


@hookspec
def training_losses(
    trainer: Trainer, sample: TrainingBatch, outputs: StepOutputs
) -> Mapping[str, tuple[float, torch.Tensor]] | None:
    """Return extra generator losses for one training step as a dict ``{name: (weight, scalar tensor)}``.

    Called once per step after the paper's losses are computed; results of all plugins are collected and
    added to the total of eq. 16.
    """


@hookspec
def on_train_step_end(trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
    """Called after every optimisation step with the step's logged metrics (floats)."""
