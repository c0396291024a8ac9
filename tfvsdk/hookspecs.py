"""The hook specifications of tfvsdk: what a plugin can provide.

A plugin is a module (or object) with functions marked ``@tfvsdk.hookimpl`` and named as below. Registration
hooks receive a ``register`` callable: ``register(name, factory, description="")`` where ``factory(**config)``
builds the component (a class works). Hook implementations may take fewer arguments than the spec.

Example:
    >>> import tfvsdk
    >>> class MyRenderer(tfvsdk.Renderer): ...
    >>> @tfvsdk.hookimpl
    ... def register_renderers(register):
    ...     register("mine", MyRenderer, description="my renderer")
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("tfvsdk")
hookimpl = pluggy.HookimplMarker("tfvsdk")


@hookspec
def register_reconstructors(register: Any) -> None:
    """Register :class:`~tfvsdk.interfaces.Reconstructor` factories: ``register(name, factory)``."""


@hookspec
def register_renderers(register: Any) -> None:
    """Register :class:`~tfvsdk.interfaces.Renderer` factories."""


@hookspec
def register_blenders(register: Any) -> None:
    """Register :class:`~tfvsdk.interfaces.Blender` factories."""


@hookspec
def register_composers(register: Any) -> None:
    """Register :class:`~tfvsdk.interfaces.TaskComposer` factories (one per editing task)."""


@hookspec
def register_morphable_models(register: Any) -> None:
    """Register :class:`~tfvsdk.morphable.MorphableModel` loaders: ``factory(**config)`` returns a model."""


@hookspec
def register_landmark_detectors(register: Any) -> None:
    """Register :class:`~tfvsdk.interfaces.LandmarkDetector` factories."""


@hookspec
def register_model_artefacts(register: Any) -> None:
    """Register downloadable model files (:class:`~tfvsdk.models.Artefact`): ``register(artefact)``."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``tfv`` click group ``cli`` (``@cli.command()``)."""


@hookspec
def training_losses(trainer: Any, sample: Any, outputs: Any) -> Any:
    """Return extra generator losses for one training step as a dict ``{name: (weight, scalar tensor)}``.

    Called once per step after the paper's losses are computed; results of all plugins are collected and
    added to the total of eq. 16.
    """


@hookspec
def on_train_step_end(trainer: Any, step: int, metrics: dict) -> None:
    """Called after every optimisation step with the step's logged metrics (floats)."""
