"""Morphable models: the model class (eq. 1–2), loaders of user-provided models and the built-in model."""

from .builtin import default_albedo
from .loaders import load_bfm, load_builtin, load_npz
from .model import LANDMARK_COUNT, MorphableModel, vertices
from .safe_pickle import load_numpy_pickle

__all__ = ["LANDMARK_COUNT", "MorphableModel", "default_albedo", "load_bfm", "load_builtin", "load_npz", "load_numpy_pickle", "vertices"]
