"""The plugin manager: built-in plugins, entry-point plugins and building components by name.

Built-in plugins are the modules listed in :data:`DEFAULT_PLUGINS`; third-party plugins are found through
the ``tfvsdk`` entry-point group. Both register through the same hooks (:mod:`tfvsdk.hookspecs`), and every
hook and factory call goes through this module, so a failure names its plugin (:class:`PluginError` with
``plugin``, ``kind`` and ``name``).

Environment variables (read when the manager is first built, or after :func:`reset`):

* ``TFVSDK_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry-point plugins (the built-in ones still load).
* ``TFVSDK_PLUGINS=a,b``: load only these entry-point plugins (entry-point or distribution names).
* ``TFVSDK_DISABLE_PLUGINS=a,b``: never register these plugins (entry-point or built-in names).
* ``TFVSDK_TRACE_HOOKS=1``: log every hook call, per plugin, with its duration (logger ``tfvsdk.hooks``).

An entry point that cannot be imported or registered is reported (:func:`failed_plugins`, ``tfv plugins``,
a warning in the log) and skipped; the rest of tfvsdk keeps working.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.metadata
import inspect
import logging
import os
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError, StartupError, TfvError
from .interfaces import Blender, IdentityEmbedder, LandmarkDetector, Reconstructor, Renderer, TaskComposer
from .morphable import MorphableModel

logger = logging.getLogger(__name__)
trace_logger = logging.getLogger("tfvsdk.hooks")

DISABLE_AUTOLOAD_ENV = "TFVSDK_DISABLE_PLUGIN_AUTOLOAD"
ALLOW_ENV = "TFVSDK_PLUGINS"
BLOCK_ENV = "TFVSDK_DISABLE_PLUGINS"
TRACE_ENV = "TFVSDK_TRACE_HOOKS"
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
"""Each kind of component: the registration hook that registers it and the class its instances must be."""


@attrs.frozen
class Component:
    """A component registered by a plugin.

    Attributes:
        kind: one of :data:`KINDS`.
        name: its registered name.
        factory: ``factory(**config)`` builds it.
        plugin: the registering plugin's name.
        description: one line for ``tfv plugins``.
        aliases: deprecated names that still build it (with a ``DeprecationWarning``).
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    description: str = ""
    aliases: tuple[str, ...] = ()


@attrs.frozen
class FailedPlugin:
    """An entry-point plugin that could not be loaded, and why (it was skipped).

    Attributes:
        name: the entry point's name.
        value: what the entry point points to (``module:attr``).
        distribution: the installed distribution that declares it, or None.
        version: that distribution's version, or None.
        error: the exception, as ``repr``.
    """

    name: str
    value: str
    distribution: str | None
    version: str | None
    error: str


_manager: pluggy.PluginManager | None = None
_registry: dict[str, dict[str, Component]] | None = None
_aliases: dict[str, dict[str, str]] = {}
_failures: list[FailedPlugin] = []
_versions: dict[str, str | None] = {}
_callers: dict[str, list[tuple[str, pluggy.HookCaller]]] = {}
_tracing = False
_origins: weakref.WeakKeyDictionary[Any, Component] = weakref.WeakKeyDictionary()


def _names(env: str) -> set[str] | None:
    value = os.environ.get(env)
    if value is None or not value.strip():
        return None
    return {_normal(n) for n in value.split(",") if n.strip()}


def _normal(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created with the built-in and entry-point plugins on first use.

    Raises:
        StartupError: a built-in plugin does not load (entry-point plugins that fail are skipped instead).
    """
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager("tfvsdk")
        pm.add_hookspecs(hookspecs)
        blocked = _names(BLOCK_ENV) or set()
        for module_name in DEFAULT_PLUGINS:
            if _normal(module_name) not in blocked:
                pm.register(importlib.import_module(module_name), name=module_name)
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise StartupError(str(exc)) from exc
        _failures.clear()
        _versions.clear()
        if not os.environ.get(DISABLE_AUTOLOAD_ENV):
            _load_entry_points(pm, allowed=_names(ALLOW_ENV), blocked=blocked)
        if os.environ.get(TRACE_ENV) or _tracing:
            _monitor(pm)
        _manager = pm
    return _manager


def _load_entry_points(pm: pluggy.PluginManager, *, allowed: set[str] | None, blocked: set[str]) -> None:
    """Register every ``tfvsdk`` entry point that passes the allow/block lists; record the ones that fail."""
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else None
        names = {_normal(ep.name)} | ({_normal(dist_name)} if dist_name else set())
        if names & blocked or (allowed is not None and not names & allowed) or pm.has_plugin(ep.name):
            continue
        version = dist.version if dist is not None else None
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            _fail(ep, dist_name, version, exc)
            continue
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            pm.unregister(name=ep.name)
            _fail(ep, dist_name, version, exc)
            continue
        _versions[ep.name] = version


def _fail(ep: importlib.metadata.EntryPoint, dist_name: str | None, version: str | None, exc: Exception) -> None:
    failure = FailedPlugin(ep.name, ep.value, dist_name, version, repr(exc))
    _failures.append(failure)
    logger.warning("plugin %r (entry point %s = %s) could not be loaded and was skipped: %s", ep.name, ep.name, ep.value, failure.error)


def failed_plugins() -> list[FailedPlugin]:
    """The entry-point plugins that could not be loaded (and were skipped), in load order."""
    get_plugin_manager()
    return list(_failures)


def trace_hooks(enabled: bool = True) -> None:
    """Log every hook call from now on (as ``TFVSDK_TRACE_HOOKS=1`` does), to the ``tfvsdk.hooks`` logger.

    A stderr handler at DEBUG level is attached to that logger if it has none (and the logger then stops
    propagating, so that a root handler does not print each line again).
    """
    global _tracing
    _tracing = enabled
    if enabled and _manager is not None:
        _monitor(_manager)


def _monitor(pm: pluggy.PluginManager) -> None:
    if not trace_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("hook %(message)s"))
        trace_logger.addHandler(handler)
        trace_logger.propagate = False  # else a root handler (tfv's logging setup) prints every line twice
    trace_logger.setLevel(logging.DEBUG)
    started: list[float] = []

    def before(hook_name: str, impls: list, kwargs: dict) -> None:
        started.append(time.perf_counter())

    def after(outcome: Any, hook_name: str, impls: list, kwargs: dict) -> None:
        ms = (time.perf_counter() - started.pop()) * 1e3
        who = ", ".join(impl.plugin_name for impl in impls)
        failed = outcome.exception
        status = f"raised {failed!r}" if failed is not None else "ok"
        trace_logger.debug("%s(%s) -> %s: %s in %.2f ms", hook_name, ", ".join(kwargs), who, status, ms)

    pm.add_hookcall_monitoring(before, after)


def register(plugin: object, name: str | None = None) -> str:
    """Register a plugin object or module at run time (tests, notebooks); returns its name.

    Raises:
        PluginError: the name is taken, or the plugin implements a hook that does not exist.
    """
    pm = get_plugin_manager()
    try:
        plugin_name = pm.register(plugin, name=name)
        pm.check_pending()
    except (ValueError, pluggy.PluginValidationError) as exc:
        if pm.is_registered(plugin):
            pm.unregister(plugin)
        raise PluginError(f"cannot register plugin {name or plugin!r}: {exc}", plugin=name) from exc
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
    _callers.clear()


def _implementations(hook_name: str) -> list[tuple[str, pluggy.HookCaller]]:
    """One hook caller per plugin implementing ``hook_name`` (registration order), each calling only it."""
    if hook_name not in _callers:
        pm = get_plugin_manager()
        impls = getattr(pm.hook, hook_name).get_hookimpls()
        plugins = [impl.plugin for impl in impls]
        _callers[hook_name] = [
            (impl.plugin_name, pm.subset_hook_caller(hook_name, [p for p in plugins if p is not impl.plugin]))
            for impl in impls
        ]
    return _callers[hook_name]


def call_hook(hook_name: str, *, on_error: Callable[[TfvError], None] | None = None, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call ``hook_name`` with keyword arguments, plugin by plugin, through pluggy.

    Args:
        hook_name: a hook of :mod:`tfvsdk.hookspecs`.
        on_error: if given, called with the error of a failing implementation, and the others still run
            (the CLI reports and skips a plugin whose ``register_commands`` fails); else the error is raised.
        **kwargs: the hook's arguments.

    Returns:
        ``(plugin name, result)`` for every implementation that ran, in registration order (``None``
        results kept).

    Raises:
        PluginError: an implementation raised; the error names the plugin and the hook (SDK errors keep
            their type and get the plugin's name prefixed to their message).
    """
    results = []
    for plugin_name, caller in _implementations(hook_name):
        try:
            with _naming(plugin_name, f"in {hook_name}", hook_name=hook_name):
                out = caller(**kwargs)
        except TfvError as exc:
            if on_error is None:
                raise
            on_error(exc)
            continue
        results.append((plugin_name, out[0] if out else None))
    return results


@contextlib.contextmanager
def _naming(plugin: str, where: str, *, kind: str | None = None, name: str | None = None, hook_name: str | None = None) -> Iterator[None]:
    """Re-raise an exception from plugin code so that it names ``plugin``.

    ``where`` is ``"in HOOK"`` or ``"create KIND 'NAME'"``-style; an SDK error keeps its type and gets
    ``"plugin 'p' (KIND 'NAME'): "`` or ``"plugin 'p' (in HOOK): "`` before its message.
    """
    label = f"plugin {plugin!r} ({kind} {name!r})" if kind and name else f"plugin {plugin!r} ({where})"
    try:
        yield
    except PluginError as exc:
        if exc.plugin is None:
            exc.plugin, exc.kind, exc.name = plugin, kind, name or hook_name
            exc.args = (f"{label}: {exc}",) + exc.args[1:]
        raise
    except TfvError as exc:
        exc.args = (f"{label}: {exc}",) + exc.args[1:]
        raise
    except Exception as exc:
        verb = "raised" if where.startswith("in ") else "failed to"
        raise PluginError(f"plugin {plugin!r} {verb} {where}: {exc!r}", plugin=plugin, kind=kind, name=name or hook_name) from exc


def _registration(kind: str, into: dict[str, Component], alias_map: dict[str, str]) -> None:
    hook_name, _ = KINDS[kind]
    for plugin_name, caller in _implementations(hook_name):

        def register(
            name: str, factory: Callable[..., Any], description: str = "", *, aliases: Iterable[str] = (), _plugin: str = plugin_name
        ) -> None:
            names = (name, *aliases)
            for each in names:
                owner = into[each].plugin if each in into else into[alias_map[each]].plugin if each in alias_map else None
                if owner is not None:
                    raise StartupError(
                        f"{kind} {each!r} is registered by both plugin {owner!r} and plugin {_plugin!r}",
                        plugin=_plugin, kind=kind, name=each,
                    )
            if not callable(factory):
                raise PluginError(f"plugin {_plugin!r}: {kind} {name!r} factory is not callable", plugin=_plugin, kind=kind, name=name)
            into[name] = Component(kind, name, factory, _plugin, description, names[1:])
            alias_map.update(dict.fromkeys(names[1:], name))

        try:
            caller(register=register)
        except StartupError:
            raise
        except PluginError as exc:
            if exc.plugin is None:
                exc.plugin, exc.kind = plugin_name, kind
            raise
        except TfvError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {plugin_name!r} raised in {hook_name}: {exc!r}", plugin=plugin_name, kind=kind) from exc


def components() -> dict[str, dict[str, Component]]:
    """Every registered component: ``{kind: {name: Component}}`` (aliases not included)."""
    global _registry
    if _registry is None:
        registry: dict[str, dict[str, Component]] = {}
        _aliases.clear()
        for kind in KINDS:
            registry[kind] = {}
            _aliases[kind] = {}
            _registration(kind, registry[kind], _aliases[kind])
        _registry = registry
    return _registry


def available(kind: str, *, deprecated: bool = True) -> list[str]:
    """Sorted names that :func:`create` accepts for ``kind`` (see :data:`KINDS`).

    Args:
        kind: the kind of component.
        deprecated: include the deprecated aliases (they still work, with a warning); ``tfv plugins``
            lists them apart.
    """
    names = set(_components_of(kind))
    return sorted(names | set(_aliases[kind]) if deprecated else names)


def _components_of(kind: str) -> dict[str, Component]:
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PluginError(f"unknown component kind {kind!r}{hint}; expected one of {sorted(KINDS)}", kind=kind)
    return components()[kind]


def lookup(kind: str, name: str) -> Component:
    """The registered component ``name`` of ``kind``; a deprecated alias warns and gives its component.

    Raises:
        PluginError: an unknown kind or name (with the available names and a close match).
    """
    registered = _components_of(kind)
    if name in registered:
        return registered[name]
    if name in _aliases.get(kind, {}):
        new = _aliases[kind][name]
        warnings.warn(f"{kind} {name!r} is a deprecated name; use {new!r}", DeprecationWarning, stacklevel=3)
        return registered[new]
    names = sorted(registered)
    old = _aliases.get(kind, {})
    close = difflib.get_close_matches(name, [*names, *old], n=1)
    hint = f"; did you mean {close[0]!r}{f' (now {old[close[0]]!r})' if close[0] in old else ''}?" if close else "."
    raise PluginError(f"unknown {kind} {name!r}{hint} Available: {', '.join(names) or 'none'}", kind=kind, name=name)


def settings(component: Component) -> dict[str, inspect.Parameter] | None:
    """The keyword settings ``component``'s factory takes, or None when it takes any (``**config``)."""
    try:
        parameters = inspect.signature(component.factory).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    return {n: p for n, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def check_config(component: Component, config: Iterable[str]) -> None:
    """Raise InputError for a setting ``component``'s factory does not take (with a close match).

    Raises:
        InputError: ``"blender 'classical' (plugin 'tfvsdk_blenders') has no setting 'feathr'; did you mean 'feather'?"``.
    """
    from .errors import InputError

    known = settings(component)
    if known is None:
        return
    for key in config:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(
                f"{component.kind} {component.name!r} (plugin {component.plugin!r}) has no setting {key!r}{hint} "
                f"Settings: {', '.join(known) or 'none'}"
            )


def create(kind: str, name: str, **config: Any) -> Any:
    """Build the component ``name`` of ``kind`` with keyword ``config``.

    Args:
        kind: one of ``reconstructor``, ``renderer``, ``blender``, ``composer``, ``model``, ``detector``,
            ``identity_embedder``.
        name: the registered name (``tfv plugins`` lists them); a deprecated alias warns.
        **config: passed to the plugin's factory; keys it does not take are refused before it runs.

    Raises:
        PluginError: unknown kind or name (with the available names and a close match), a factory that
            raises, or a factory that returns something that is not a component of ``kind``.
        InputError: a setting the factory does not take, or one it rejects (the message names the plugin).

    Example:
        >>> renderer = create("renderer", "raster")
    """
    component = lookup(kind, name)
    check_config(component, config)
    with _naming(component.plugin, f"create {kind} {component.name!r}", kind=kind, name=component.name):
        instance = component.factory(**config)
    expected = KINDS[kind][1]
    if not isinstance(instance, expected):
        raise PluginError(
            f"plugin {component.plugin!r}: {kind} {component.name!r} is a {type(instance).__name__}, not a {expected.__name__}",
            plugin=component.plugin, kind=kind, name=component.name,
        )
    with contextlib.suppress(TypeError):
        _origins[instance] = component
    return instance


def create_pretrained(kind: str, name: str, directory: str | os.PathLike, **config: Any) -> Any:
    """Build ``name`` from a folder written by ``save_pretrained`` (e.g. a trained blender).

    The folder's settings (``config.json``), updated with ``config``, go to the registered factory through
    :func:`create`; the weights are then loaded into the result with its ``load_pretrained``.

    Raises:
        ModelFileError: a folder that is not a pretrained folder, or weights that do not fit.
        PluginError: the component cannot be loaded from a folder (no ``load_pretrained``).
    """
    from . import pretrained

    settings_ = {**pretrained.read_config(directory), **config}
    instance = pretrained.build_within(directory, lambda: create(kind, name, **settings_))
    load = getattr(instance, "load_pretrained", None)
    if not callable(load):
        comp = lookup(kind, name)
        raise PluginError(
            f"plugin {comp.plugin!r}: {kind} {comp.name!r} cannot be loaded from a folder (it is not a TrainableBlender)",
            plugin=comp.plugin, kind=kind, name=comp.name,
        )
    comp = origin(instance)
    with _naming(comp.plugin if comp else type(instance).__name__, f"load {kind} {name!r} from {directory}", kind=kind, name=name):
        load(directory)
    return instance


def origin(instance: object) -> Component | None:
    """The registered component that :func:`create` built ``instance`` from, if any."""
    try:
        return _origins.get(instance)
    except TypeError:
        return None


def describe(instance: object) -> str:
    """``"plugin 'p' (blender 'name')"`` for an instance built by :func:`create`, else its class name."""
    comp = origin(instance)
    return f"plugin {comp.plugin!r} ({comp.kind} {comp.name!r})" if comp else type(instance).__name__


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
        raise PluginError(
            f"{describe(instance)} raised while {action}: {exc!r}",
            plugin=comp and comp.plugin, kind=comp and comp.kind, name=comp and comp.name,
        ) from exc


def plugin_info() -> list[dict[str, Any]]:
    """One dict per plugin: name, version, hooks it implements and the components it registered.

    Entry-point plugins that failed to load are listed too, with ``"error"`` set and nothing registered.
    """
    pm = get_plugin_manager()
    registry = components()
    from . import __version__

    info = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        registered = {
            kind: sorted(c.name for c in by_name.values() if c.plugin == name) for kind, by_name in registry.items()
        }
        deprecated = {
            kind: sorted(a for c in by_name.values() if c.plugin == name for a in c.aliases) for kind, by_name in registry.items()
        }
        info.append(
            {
                "name": name,
                "version": _versions.get(name, __version__ if name in DEFAULT_PLUGINS else None),
                "builtin": name in DEFAULT_PLUGINS,
                "hooks": hooks,
                "components": {k: v for k, v in registered.items() if v},
                "deprecated_names": {k: v for k, v in deprecated.items() if v},
                "error": None,
            }
        )
    for failure in _failures:
        info.append(
            {
                "name": failure.name,
                "version": failure.version,
                "builtin": False,
                "hooks": [],
                "components": {},
                "deprecated_names": {},
                "error": f"{failure.value}: {failure.error}",
            }
        )
    return sorted(info, key=lambda d: (not d["builtin"], d["name"]))
