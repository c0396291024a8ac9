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

from tfvsdk import threads  # noqa: E402

SFM_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "sfm_3448" / "sfm_3448.npz"
SFM_PATH = Path(os.environ.get("TFVSDK_SFM", SFM_PATH))

# Under pytest-xdist (``-n auto``: a process per core) each process takes one thread: more would spin against the
# other processes' on the shared cores.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, torch.get_num_threads()))


@pytest.fixture
def sfm_path() -> Path:
    """The converted Surrey Face Model used for tests only; skips the test when it is absent."""
    if not SFM_PATH.exists():
        pytest.skip(f"SFM test model not found at {SFM_PATH}")
    return SFM_PATH


@pytest.fixture
def one_thread():
    """One torch intra-op thread for the test: editing runs many small tensor operations, faster on one
    thread on the shared 2-core CPU."""
    with threads.one_thread():
        yield


@pytest.fixture
def fresh_plugins():
    """A plugin manager rebuilt from scratch before and after the test (for tests that register plugins)."""
    import tfvsdk.plugins

    tfvsdk.plugins.reset()
    yield tfvsdk.plugins
    tfvsdk.plugins.reset()


@pytest.fixture
def peak_added_mib():
    """Run ``setup`` then ``action`` (Python source) in a fresh interpreter; returns (MiB the peak resident
    memory grew by during ``action``, the exception ``action`` raised as "Type: message", or "")."""
    import subprocess
    import sys
    import textwrap

    def measure(setup: str, action: str) -> tuple[float, str]:
        script = "\n".join([
            "import resource, sys",
            textwrap.dedent(setup),
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss",
            "error = ''",
            "try:",
            textwrap.indent(textwrap.dedent(action), "    "),
            "except Exception as exc:",
            "    error = f'{type(exc).__name__}: {exc}'",
            "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss",
            "print((after - before) / 1024)",
            "print(error)",
        ])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
        assert out.returncode == 0, out.stderr
        grown, error = out.stdout.split("\n", 1)
        return float(grown), error.strip()

    return measure
