"""A short fixed-seed run of scripts/chaos-monitor (`slow`, about a minute; not in `make
check`): the test payload writing to a virtio-blk disk, once in the main loop and once in an
I/O thread, while 120 random monitor commands per seed run against it. The run must end
without a finding (see the script's docstring and docs/testing.md). The command sequence is
fixed by the seed; the guest's timing is not, so this is a smoke test, not an exact replay.
"""

import subprocess
import sys

import pytest

import vm as vmlib

CHAOS = vmlib.REPO_ROOT / "scripts" / "chaos-monitor"


@pytest.mark.slow
@pytest.mark.parametrize("seed,iothread", [(11, "off"), (12, "on")])
def test_chaos_monitor_fixed_seed(tmp_path, vmm, seed, iothread):
    if vmm != "minivmm":
        pytest.skip("the script drives minivmm's payload set-up")
    r = subprocess.run([sys.executable, CHAOS, "--seed", str(seed), "--steps", "120",
                        "--iothread", iothread, "--binary", vmlib.minivmm_binary(),
                        "--workdir", tmp_path], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
