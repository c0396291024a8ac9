"""Built-in plugin: the ``landmarks`` reconstructor (landmark-driven 3DMM fitting, paper §3.2) and ``tfv fit``.

``3ddfa`` is the reconstructor's deprecated former name: it fits landmarks, it is not 3DDFA's regressor.

Also home of 3DDFA_V2's conventions: its 62-parameter vector (:mod:`.params`) and its MobileNet-V1 regressor
(:mod:`.mobilenet`), so that parameters and checkpoints a user brings from 3DDFA_V2 can be used.
"""

from __future__ import annotations

import tfvsdk

from .reconstructor import TDDFAReconstructor

__all__ = ["TDDFAReconstructor"]


@tfvsdk.hookimpl
def register_reconstructors(register):
    register(
        "landmarks",
        TDDFAReconstructor,
        description="fits any morphable model to 68 landmarks (per image, or per clip with one identity)",
        aliases=("3ddfa",),
    )


@tfvsdk.hookimpl
def register_commands(cli):
    from .cli import fit_command

    cli.add_command(fit_command)
