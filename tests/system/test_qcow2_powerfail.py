"""The qcow2 power-failure test (tests/unit/test-qcow2-powerfail.c) over many more seeds than
`make check-unit` gives it (32): `make check-slow` runs 500 others. Each seed is a random
guest workload on a disk with a volatile write cache that loses a random part of what was
not flushed; the image must then hold only leaks and every flushed byte. Each seed also
runs with I/O errors instead of the power failure (/qcow2/ioerror/): afterwards the image
must hold only leaks and every byte the guest wrote, but where its own request failed."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, "tests", "unit", "test-qcow2-powerfail")
SEEDS = 500


@pytest.mark.slow
def test_powerfail_many_seeds():
    assert os.access(BINARY, os.X_OK), "build it first: make tests/unit/test-qcow2-powerfail"
    env = dict(os.environ, POWERFAIL_FIRST="1001", POWERFAIL_SEEDS=str(SEEDS))
    res = subprocess.run([BINARY, "--tap"], env=env, capture_output=True, text=True,
                         timeout=7200)
    tail = res.stdout[-4000:] + res.stderr[-4000:]
    assert res.returncode == 0, tail
    seeds = [ln for ln in res.stdout.splitlines() if ln.startswith("ok ") and "/seed-" in ln]
    assert len(seeds) == 2 * SEEDS, tail
