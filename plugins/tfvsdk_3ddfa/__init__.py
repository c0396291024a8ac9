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
    from .v2_reconstructor import TDDFAV2Reconstructor

    register(
        "3ddfa-v2",
        TDDFAV2Reconstructor,
        description="3DDFA_V2's MobileNet regressor: the fit on the BFM, pose initialiser of the landmark fitter otherwise (tfv models fetch 3ddfa-v2)",
    )


@tfvsdk.hookimpl
def register_model_artefacts(register):
    from .artefacts import REGRESSOR, REGRESSOR_MB1

    register(REGRESSOR)
    register(REGRESSOR_MB1)


@tfvsdk.hookimpl
def register_commands(cli):
    from .cli import fit_command

    cli.add_command(fit_command)
