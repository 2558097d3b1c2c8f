"""Helpers for the monitor tests: start a VMM with a QMP (or HMP) socket and talk to it
through scripts/qmp/minivmm_qmp.py.

minivmm runs with the qtest accelerator (no guest code, state "running" unless -S);
QEMU, the behavioural reference, runs with KVM and SeaBIOS. Messages and behaviour that
QEMU changed after 2.2 (the one minivmm follows) are only checked on minivmm: `qemu22(vm)`
says whether the VMM under test speaks 2.2.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "qmp"))
from minivmm_qmp import QMP, QMPConnectionError, QMPError  # noqa: E402,F401


def base_args(backend, paused=False):
    args = ["-nodefaults"]
    if backend == "minivmm":
        args += ["-machine", "accel=qtest", "-qtest", "null"]
    if paused:
        args.append("-S")
    return args


def start_qmp_vm(make_vm, tmp_path, backend, extra=(), paused=False, name=None):
    """A VM with -qmp unix:SOCK,server,nowait; returns (vm, connected negotiated QMP)."""
    sock = str(tmp_path / f"{name or 'qmp'}.sock")
    vm = make_vm(base_args(backend, paused) + ["-qmp", f"unix:{sock},server,nowait"]
                 + list(extra), name=name)
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    vm.qmp_path = sock
    return vm, qmp


def qtest_with_qmp(tmp_path, args):
    """minivmm under the qtest accelerator with a QMP socket: (QTest, connected QMP)."""
    from qtest import QTest
    sock = str(tmp_path / "qmp.sock")
    qt = QTest.minivmm(["-qmp", f"unix:{sock},server,nowait"] + list(args))
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    return qt, qmp


def qemu22(vm):
    return vm.backend == "minivmm"


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
