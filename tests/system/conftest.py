"""pytest glue for the system tests: which VMM to run, and VMs that are always reaped.

`--vmm=qemu` (or MINIVMM_TEST_VMM=qemu) runs the same tests against Debian's QEMU, the
behavioural reference. Fixtures:
  make_vm(args, **kw)          -> started VM (see vm.VM); killed and reaped at teardown
  run_expect_fail(args, t=10)  -> (status, stderr) of a VMM run that must refuse its options
  vmm                          -> "minivmm" or "qemu"
A failing test gets each of its VMs' command line and log tails in the report.
"""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import vm as vmlib  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--vmm", choices=vmlib.BACKENDS, default=vmlib.default_backend(),
                     help="VMM to test: minivmm (default; binary from $MINIVMM or the "
                          "repository's ./minivmm) or Debian's qemu-system-x86_64")


@pytest.fixture(scope="session")
def vmm(request):
    backend = request.config.getoption("--vmm")
    binary = vmlib.minivmm_binary() if backend == "minivmm" else vmlib.qemu_binary()
    if backend == "minivmm" and not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} not found or not executable: run `make` or set MINIVMM",
                    pytrace=False)
    return backend


@pytest.fixture
def make_vm(request, tmp_path):
    """Factory: make_vm(args, backend=None, name=None, debugcon=True, serial=True, ...)."""
    vms = []
    request.node.minivmm_vms = vms

    def make(args=(), *, backend=None, name=None, start=True, **kwargs):
        if backend is None:
            backend = request.getfixturevalue("vmm")
        machine = vmlib.VM(args, backend=backend, workdir=tmp_path,
                           name=name or f"vm{len(vms)}", **kwargs)
        vms.append(machine)
        return machine.start() if start else machine

    yield make
    for machine in vms:
        machine.kill()


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs mounted for the test (skipped where mounting is not allowed): the home
    of images that must run out of space."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def run_expect_fail(vmm):
    def run(args, timeout=10, **kwargs):
        return vmlib.run_expect_fail(args, timeout, backend=vmm, **kwargs)
    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # A VMError already carries the log tails.
    if report.failed and call.when == "call" and not call.excinfo.errisinstance(vmlib.VMError):
        for machine in getattr(item, "minivmm_vms", []):
            report.sections.append((f"VM {machine.name}", machine.describe(machine.debug_log)))
