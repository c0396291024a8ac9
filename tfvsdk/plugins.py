"""The plugin manager: built-in plugins, entry-point plugins and building components by name.

Built-in plugins are the modules listed in :data:`DEFAULT_PLUGINS`; third-party plugins are found through
the ``tfvsdk`` entry-point group (set ``TFVSDK_DISABLE_PLUGIN_AUTOLOAD=1`` to skip those). Both register
through the same hooks (:mod:`tfvsdk.hookspecs`).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import os

import weakref
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError, StartupError, TfvError
from .interfaces import Blender, IdentityEmbedder, LandmarkDetector, Reconstructor, Renderer, TaskComposer
from .morphable import MorphableModel

DISABLE_AUTOLOAD_ENV = "TFVSDK_DISABLE_PLUGIN_AUTOLOAD"
ENTRY_POINT_GROUP = "tfvsdk"

DEFAULT_PLUGINS = (
    "tfvsdk_models",
    "tfvsdk_raster",
    "tfvsdk_tasks",
    "tfvsdk_blenders",
    "tfvsdk_train",
    "tfvsdk_3ddfa",
    "tfvsdk_dlib",
)

KINDS: dict[str, tuple[str, type]] = {
    "reconstructor": ("register_reconstructors", Reconstructor),
    "renderer": ("register_renderers", Renderer),
    "blender": ("register_blenders", Blender),
    "composer": ("register_composers", TaskComposer),
    "model": ("register_morphable_models", MorphableModel),
    "detector": ("register_landmark_detectors", LandmarkDetector),
    "identity_embedder": ("register_identity_embedders", IdentityEmbedder),
}


@attrs.frozen
class Component:
    """A component registered by a plugin."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    description: str = ""


_manager: pluggy.PluginManager | None = None
_registry: dict[str, dict[str, Component]] | None = None
_origins: weakref.WeakKeyDictionary[Any, Component] = weakref.WeakKeyDictionary()


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created with the built-in and entry-point plugins on first use."""
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager("tfvsdk")
        pm.add_hookspecs(hookspecs)
        for module_name in DEFAULT_PLUGINS:
            pm.register(importlib.import_module(module_name), name=module_name)
        if not os.environ.get(DISABLE_AUTOLOAD_ENV):
            try:
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            except Exception as exc:
                raise StartupError(f"loading '{ENTRY_POINT_GROUP}' entry-point plugins failed: {exc!r}") from exc
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise StartupError(str(exc)) from exc
        _manager = pm
    return _manager


def register(plugin: object, name: str | None = None) -> str:
    """Register a plugin object or module at run time (tests, notebooks); returns its name."""
    pm = get_plugin_manager()
    try:
        plugin_name = pm.register(plugin, name=name)
        pm.check_pending()
    except (ValueError, pluggy.PluginValidationError) as exc:
        raise PluginError(f"cannot register plugin {name or plugin!r}: {exc}") from exc
    _reset_registry()
    return plugin_name or ""


def unregister(name: str) -> None:
    """Remove a plugin registered under ``name``."""
    get_plugin_manager().unregister(name=name)
    _reset_registry()


def reset() -> None:
    """Forget the plugin manager; the next call reloads built-in and entry-point plugins."""
    global _manager
    _manager = None
    _reset_registry()


def _reset_registry() -> None:
    global _registry
    _registry = None


def _call_registration_hook(pm: pluggy.PluginManager, kind: str, into: dict[str, Component]) -> None:
    hook_name, _ = KINDS[kind]
    for impl in getattr(pm.hook, hook_name).get_hookimpls():

        def register(name: str, factory: Callable[..., Any], description: str = "", *, _plugin: str = impl.plugin_name) -> None:
            if name in into:
                raise StartupError(
                    f"{kind} {name!r} is registered by both plugin {into[name].plugin!r} and plugin {_plugin!r}"
                )
            into[name] = Component(kind, name, factory, _plugin, description)

        try:
            impl.function(**{arg: register for arg in impl.argnames})
        except TfvError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {impl.plugin_name!r} raised in {hook_name}: {exc!r}") from exc


def components() -> dict[str, dict[str, Component]]:
    """Every registered component: ``{kind: {name: Component}}``."""
    global _registry
    if _registry is None:
        pm = get_plugin_manager()
        registry: dict[str, dict[str, Component]] = {}
        for kind in KINDS:
            registry[kind] = {}
            _call_registration_hook(pm, kind, registry[kind])
        _registry = registry
    return _registry


def available(kind: str) -> list[str]:
    """Sorted names of the registered components of ``kind`` (see :data:`KINDS`)."""
    return sorted(_components_of(kind))


def _components_of(kind: str) -> dict[str, Component]:
    if kind not in KINDS:
        raise PluginError(f"unknown component kind {kind!r}; expected one of {sorted(KINDS)}")
    return components()[kind]


def _lookup(kind: str, name: str) -> Component:
    registered = _components_of(kind)
    if name not in registered:
        names = sorted(registered)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        raise PluginError(f"unknown {kind} {name!r}{hint} Available: {', '.join(names) or 'none'}")
    return registered[name]


def create(kind: str, name: str, **config: Any) -> Any:
    """Build the component ``name`` of ``kind`` with keyword ``config``.

    Args:
        kind: one of ``reconstructor``, ``renderer``, ``blender``, ``composer``, ``model``, ``detector``,
            ``identity_embedder``.
        name: the registered name (``tfv plugins`` lists them).
        **config: passed to the plugin's factory.

    Raises:
        PluginError: unknown kind or name (with the available names and a close match), a factory that
            raises, or a factory that returns something that is not a component of ``kind``.

    Example:
        >>> renderer = create("renderer", "nvdiffrast")
    """
    component = _lookup(kind, name)
    try:
        instance = component.factory(**config)
    except TfvError:
        raise
    except Exception as exc:
        raise PluginError(f"plugin {component.plugin!r} failed to create {kind} {name!r}: {exc!r}") from exc
    expected = KINDS[kind][1]
    if not isinstance(instance, expected):
        raise PluginError(
            f"plugin {component.plugin!r}: {kind} {name!r} is a {type(instance).__name__}, not a {expected.__name__}"
        )
    with contextlib.suppress(TypeError):
        _origins[instance] = component
    return instance


def origin(instance: object) -> Component | None:
    """The registered component that :func:`create` built ``instance`` from, if any."""
    try:
        return _origins.get(instance)
    except TypeError:
        return None


@contextlib.contextmanager
def reporting(instance: object, action: str) -> Iterator[None]:
    """Re-raise an unexpected exception from ``instance`` as a PluginError that names its plugin.

    SDK errors (:class:`~tfvsdk.errors.TfvError`) pass through unchanged.
    """
    try:
        yield
    except TfvError:
        raise
    except Exception as exc:
        comp = origin(instance)
        who = f"plugin {comp.plugin!r} ({comp.kind} {comp.name!r})" if comp else type(instance).__name__
        raise PluginError(f"{who} raised while {action}: {exc!r}") from exc


def plugin_info() -> list[dict[str, Any]]:
    """One dict per plugin: name, version, hooks it implements and the components it registered."""
    pm = get_plugin_manager()
    registry = components()
    versions = {pm.get_name(p): getattr(dist, "version", None) for p, dist in pm.list_plugin_distinfo()}
    from . import __version__

    info = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        registered = {
            kind: sorted(c.name for c in by_name.values() if c.plugin == name) for kind, by_name in registry.items()
        }
        info.append(
            {
                "name": name,
                "version": versions.get(name, __version__ if name in DEFAULT_PLUGINS else None),
                "builtin": name in DEFAULT_PLUGINS,
                "hooks": hooks,
                "components": {k: v for k, v in registered.items() if v},
            }
        )
    return sorted(info, key=lambda d: (not d["builtin"], d["name"]))


