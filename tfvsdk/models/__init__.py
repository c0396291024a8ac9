"""The model manager: known model artefacts (weights, morphable models), their licences, and a local cache.

Plugins register :class:`Artefact` records through the ``register_model_artefacts(register)`` hook; the
manager downloads them (resumable, verified, atomic), imports files a user already has, and hands out
verified paths. Nothing is downloaded unless asked (``fetch``); ``TFVSDK_OFFLINE=1`` refuses even that.

Example:
    >>> from tfvsdk import models
    >>> models.fetch("3ddfa-v2", progress=True)  # doctest: +SKIP
    >>> models.paths("3ddfa-v2")["mb05_120x120.pth"]  # doctest: +SKIP
"""

from __future__ import annotations

from .cache import HOME_ENV, OFFLINE_ENV, home, offline
from .manager import FileState, add, fetch, find, licence_accepted, paths, remove, sha256_of, state, verify
from .records import Artefact, ArtefactFile
from .registry import artefacts, get

__all__ = [
    "HOME_ENV",
    "OFFLINE_ENV",
    "Artefact",
    "ArtefactFile",
    "FileState",
    "add",
    "artefacts",
    "fetch",
    "find",
    "get",
    "home",
    "licence_accepted",
    "offline",
    "paths",
    "remove",
    "sha256_of",
    "state",
    "verify",
]
