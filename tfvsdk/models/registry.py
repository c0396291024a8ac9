"""The artefacts plugins register through ``register_model_artefacts(register)``, looked up by name."""

from __future__ import annotations

import difflib

from ..errors import PluginError, StartupError, TfvError
from ..plugins import get_plugin_manager
from .records import Artefact

HOOK = "register_model_artefacts"


def artefacts() -> dict[str, Artefact]:
    """Every registered artefact, ``{name: Artefact}``, sorted by name.

    Raises:
        StartupError: two plugins register the same name.
        PluginError: a plugin's hook raised or registered something that is not an :class:`Artefact`.
    """
    found: dict[str, tuple[Artefact, str]] = {}
    for impl in getattr(get_plugin_manager().hook, HOOK).get_hookimpls():

        def register(artefact: Artefact, *, _plugin: str = impl.plugin_name) -> None:
            if not isinstance(artefact, Artefact):
                raise PluginError(f"plugin {_plugin!r} registered a {type(artefact).__name__}, not a tfvsdk.models.Artefact")
            if artefact.name in found:
                raise StartupError(
                    f"model artefact {artefact.name!r} is registered by both plugin {found[artefact.name][1]!r} and plugin {_plugin!r}"
                )
            found[artefact.name] = (artefact, _plugin)

        try:
            impl.function(**{arg: register for arg in impl.argnames})
        except TfvError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {impl.plugin_name!r} raised in {HOOK}: {exc!r}") from exc
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
