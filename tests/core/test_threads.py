"""The tfv process asks OpenMP to wait passively before torch loads it; small work runs on one thread."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from tfvsdk.threads import available_cores, one_thread


def python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_importing_tfvsdk_does_not_load_torch_until_a_name_needs_it():
    assert python("import sys, tfvsdk; print('torch' in sys.modules)") == "False"
    assert python("import sys, tfvsdk; tfvsdk.Camera; print('torch' in sys.modules)") == "True"


def test_the_cli_sets_the_wait_policy_before_torch_is_imported():
    code = ("import builtins, os, sys\n"
            "seen = []\n"
            "real = builtins.__import__\n"
            "def spy(name, *a, **k):\n"
            "    if name == 'torch' and 'torch' not in sys.modules: seen.append(os.environ.get('OMP_WAIT_POLICY'))\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = spy\n"
            "import tfvsdk.cli\n"
            "print(seen[0])")
    assert python(code) == "PASSIVE"


def test_the_default_is_the_available_cores():
    assert available_cores() == len(os.sched_getaffinity(0))


def test_one_thread_restores_the_count_even_when_the_block_raises():
    torch.set_num_threads(2)
    try:
        with pytest.raises(RuntimeError, match="inside"):
            with one_thread():
                assert torch.get_num_threads() == 1
                raise RuntimeError("inside")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)

