"""Shared fixtures: paths to optional test data and a clean plugin manager per test that needs one.

The suite runs with entry-point autoloading off (only the built-in plugins), so whatever else is installed
in the environment cannot change the results; tests of loading turn it back on with ``monkeypatch``.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ["TFVSDK_DISABLE_PLUGIN_AUTOLOAD"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

SFM_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "sfm_3448" / "sfm_3448.npz"
SFM_PATH = Path(os.environ.get("TFVSDK_SFM", SFM_PATH))

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def sfm_path() -> Path:
    """The converted Surrey Face Model used for tests only; skips the test when it is absent."""
    if not SFM_PATH.exists():
        pytest.skip(f"SFM test model not found at {SFM_PATH}")
    return SFM_PATH


@pytest.fixture
def fresh_plugins():
    """A plugin manager rebuilt from scratch before and after the test (for tests that register plugins)."""
    import tfvsdk.plugins

    tfvsdk.plugins.reset()
    yield tfvsdk.plugins
    tfvsdk.plugins.reset()
