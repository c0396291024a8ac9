"""The artefacts plugins register through ``register_model_artefacts(register)``, looked up by name."""

from __future__ import annotations

import difflib

from .. import plugins
from ..errors import PluginError, StartupError
from .records import Artefact

HOOK = "register_model_artefacts"


def artefacts() -> dict[str, Artefact]:
    """Every registered artefact, ``{name: Artefact}``, sorted by name.

    The hook is called through :mod:`tfvsdk.plugins` like every other hook (pluggy, keyword arguments,
    hook tracing), plugin by plugin, so an error names the plugin.

    Raises:
        StartupError: two plugins register the same name.
        PluginError: a plugin's hook raised or registered something that is not an :class:`Artefact`.
    """
    found: dict[str, tuple[Artefact, str]] = {}
    for plugin_name, caller in plugins._implementations(HOOK):

        def register(artefact: Artefact, *, _plugin: str = plugin_name) -> None:
            if not isinstance(artefact, Artefact):
                raise PluginError(
                    f"plugin {_plugin!r} registered a {type(artefact).__name__}, not a tfvsdk.models.Artefact",
                    plugin=_plugin, kind="model artefact",
                )
            if artefact.name in found:
                raise StartupError(
                    f"model artefact {artefact.name!r} is registered by both plugin {found[artefact.name][1]!r} and plugin {_plugin!r}",
                    plugin=_plugin, kind="model artefact", name=artefact.name,
                )
            found[artefact.name] = (artefact, _plugin)

        with plugins._naming(plugin_name, f"in {HOOK}", hook_name=HOOK):
            caller(register=register)
    return {name: found[name][0] for name in sorted(found)}


def get(name: str) -> Artefact:
    """The artefact called ``name``.

    Raises:
        PluginError: unknown name (with the known names and a close match).
    """
    known = artefacts()
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        raise PluginError(f"unknown model artefact {name!r}{hint} Known: {', '.join(known) or 'none'}")
    return known[name]
