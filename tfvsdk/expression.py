"""Relative expression transfer: a driving face's *changes* of expression, on another face's own rest.

Eq. 3 of the paper gives the edited face the driving source's expression coefficients α_exp as they were
fitted. A fitted α_exp also holds what the identity space cannot express of that person's face at rest (a
thin mouth fits as a pucker, a low brow as a frown), and the driving person's rest face is not the edited
person's. :func:`relative_expression` transfers the motion instead, as relative motion does in image
animation (Siarohin et al., "First Order Motion Model", 2019, applied here to 3DMM coefficients)::

    α_exp(t) = rest(α_exp of the face shown) + α_exp^driving(t) − rest(α_exp^driving)

with rest(·) the per-coefficient median over the frames where a face was found (a photo's rest is its only
frame). An expression the driving source holds through the whole clip therefore cancels: what moves is
transferred, what is constant is the edited person's own.
"""

from __future__ import annotations

import attrs
import torch

from .errors import InputError
from .records import FaceFit


def rest_expression(fit: FaceFit) -> torch.Tensor:
    """(1, K_exp) the per-coefficient median of ``fit.alpha_exp`` over the frames where a face was found.

    Raises:
        InputError: no frame of ``fit`` has a face.
    """
    found = fit.found_mask
    if not bool(found.any()):
        raise InputError("rest_expression: the fit has no frame with a face")
    return fit.alpha_exp[found].median(0, keepdim=True).values


def relative_expression(driving: FaceFit, own: FaceFit) -> FaceFit:
    """``driving`` with α_exp(t) = rest(own) + α_exp^driving(t) − rest(driving) (see the module docstring).

    Args:
        driving: the fit whose expression drives the edit (B frames).
        own: the fit of the face whose identity is shown (any number of frames; a photo is one).

    Returns:
        ``driving`` with only ``alpha_exp`` changed (B, K_exp).

    Raises:
        InputError: the two fits have different numbers of expression coefficients, or either has no face.
    """
    if driving.alpha_exp.shape[1] != own.alpha_exp.shape[1]:
        raise InputError(f"relative_expression: the driving fit has {driving.alpha_exp.shape[1]} expression "
                         f"coefficients, the face shown {own.alpha_exp.shape[1]}")
    offset = rest_expression(own).to(driving.alpha_exp) - rest_expression(driving)
    return attrs.evolve(driving, alpha_exp=driving.alpha_exp + offset)
