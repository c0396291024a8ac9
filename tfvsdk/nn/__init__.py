"""Network building blocks of the deep blending network (paper §3.3): AdaIN (eq. 5), BSN (eq. 4), the
appearance embedder E, the generator G and the multi-scale discriminator D.

The functional forms of eq. 4 and 5 are :func:`tfvsdk.nn.bsn.bsn` and :func:`tfvsdk.nn.adain.adain`.
"""

from .adain import AdaIN, masked_mean_std
from .bsn import BSN, resize
from .discriminator import DiscriminatorConfig, MultiScaleDiscriminator, PatchDiscriminator
from .embedder import Embedder
from .generator import Generator, GeneratorConfig

__all__ = [
    "BSN",
    "AdaIN",
    "DiscriminatorConfig",
    "Embedder",
    "Generator",
    "GeneratorConfig",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "masked_mean_std",
    "resize",
]
