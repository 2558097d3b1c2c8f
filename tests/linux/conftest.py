"""pytest glue for the Linux-guest tier (`make check-linux`).

Every test runs under two backends: `minivmm`, and Debian's QEMU as the reference (with KVM
where the host's KVM runs guest kernel mode natively, else TCG, so the guest image and the
test logic are proven on any host). Where KVM emulates guest kernel mode (minivmm's start-up
probe says so) a Linux guest cannot boot under minivmm in useful time: its half skips, with
the reason in pytest's summary (`-rs`). MINIVMM_LINUX_VMM=minivmm|qemu runs one backend only.
"""

import functools
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import guest  # noqa: E402

BACKENDS = ("minivmm", "qemu")


@functools.lru_cache(maxsize=None)
def host_kvm():
    """(kernel mode runs natively under KVM, why not) for this host, probed once."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "no usable /dev/kvm"
    binary = guest.minivmm_binary()
    if not os.access(binary, os.X_OK):
        return False, f"{binary} not found (run make)"
    if guest.kvm_emulates_kernel_mode(binary):
        return False, ("this host's KVM emulates guest kernel mode (minivmm's start-up "
                       "host check): a Linux guest cannot boot under minivmm here")
    return True, ""


def selected_backends():
    only = os.environ.get("MINIVMM_LINUX_VMM")
    if only and only not in BACKENDS:
        raise pytest.UsageError(f"MINIVMM_LINUX_VMM={only}: choose from {BACKENDS}")
    return (only,) if only else BACKENDS


@pytest.fixture(scope="module", params=selected_backends())
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def test_guest():
    missing = [p for p in (guest.KERNEL, guest.INITRD) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(map(str, missing))} missing: run scripts/build-test-guest "
                    "(make check-linux does)", pytrace=False)
    return guest.KERNEL, guest.INITRD


@pytest.fixture(scope="module")
def vmm(backend, test_guest):
    """The backend to run, skipped with a visible reason where it cannot run Linux here;
    for QEMU, also the accelerator: ("qemu", "kvm"|"tcg") or ("minivmm", None)."""
    native, why = host_kvm()
    if backend == "minivmm":
        if not native:
            pytest.skip(f"minivmm half of the Linux tier skipped: {why}")
        return backend, None
    return backend, "kvm" if native else "tcg"
