"""``--opt KIND.KEY=VALUE``: settings for the components a command builds, checked before anything runs.

Commands that build components by name take ``--opt`` (repeatable): ``--opt blender.feather=0.05
--opt renderer.backend=torch``. VALUE is read as JSON when it parses (numbers, ``true``/``false``,
``null``, lists, quoted strings), else as a plain string. Each KEY is checked against the keyword
parameters of the registered factory the command will use (:func:`tfvsdk.plugins.check_config`), with a
close match suggested, so a typo fails at once instead of deep inside a run. Plugins adding commands use
:func:`opt_option` and :func:`parse_options` too.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import click

from .errors import InputError
from .plugins import check_config, lookup


def parse_options(values: Iterable[str], components: Mapping[str, str | None]) -> dict[str, dict[str, Any]]:
    """``KIND.KEY=VALUE`` strings → ``{kind: {key: value}}``, checked against each factory's signature.

    Args:
        values: the ``--opt`` values.
        components: the registered name the command builds for each kind it accepts (None: a kind it
            accepts whose component is given otherwise, checked only for the kind).

    Raises:
        InputError: a malformed value, a kind the command does not build, or a key the factory does not take
            (each with a close match when there is one).
    """
    options: dict[str, dict[str, Any]] = {kind: {} for kind in components}
    for value in values:
        target, sep, raw = value.partition("=")
        kind, dot, key = target.partition(".")
        if not sep or not dot or not kind or not key:
            raise InputError(f"--opt {value!r}: expected KIND.KEY=VALUE, e.g. blender.feather=0.05")
        if kind not in components:
            close = difflib.get_close_matches(kind, components, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"--opt {value!r}: this command builds no {kind!r}{hint} It builds: {', '.join(components)}")
        options[kind][key] = _value(raw)
    for kind, name in components.items():
        if name is not None and options[kind]:
            check_config(lookup(kind, name), options[kind])
    return options


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _opt_settings(kinds: Iterable[str]) -> dict[str, Any]:
    listed = ", ".join(kinds)
    return {
        "multiple": True,
        "metavar": "KIND.KEY=VALUE",
        "help": f"a setting of a component ({listed}); `tfv plugins --kind KIND` lists each one's settings",
    }


def opt_parameter(kinds: Iterable[str]) -> click.Option:
    """The ``--opt KIND.KEY=VALUE`` option (repeatable, passed as ``opts``) for a command building ``kinds``."""
    return click.Option(["--opt", "opts"], **_opt_settings(kinds))


def opt_option(kinds: Iterable[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """:func:`opt_parameter` as a decorator, for ``@click.command`` functions."""
    return click.option("--opt", "opts", **_opt_settings(kinds))


def device_callback(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Click callback of a ``--device`` option: the device must exist here (:func:`tfvsdk.checks.check_device`)."""
    from .checks import check_device

    try:
        check_device("--device", value)
    except InputError as exc:
        raise click.BadParameter(str(exc).removeprefix("--device: "), ctx=ctx, param=param) from None
    return value
