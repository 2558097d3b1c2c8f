"""Self-tests of the VM harness (vm.py, conftest.py), on a fake VMM shell script.

The fake takes minivmm's `-debugcon file:X -serial file:Y`, writes $FAKE_DEBUG and
$FAKE_SERIAL there, then runs $FAKE_THEN (default: sleep).
"""

import os
import shutil
import signal
import time

import pytest

import vm as vmlib

FAKE_VMM = """#!/bin/sh
while [ $# -gt 0 ]; do
    case "$1" in
    -debugcon) dbg=${2#file:}; shift ;;
    -serial) ser=${2#file:}; shift ;;
    esac
    shift
done
[ -n "$dbg" ] && printf '%b' "$FAKE_DEBUG" >"$dbg"
[ -n "$ser" ] && printf '%b' "$FAKE_SERIAL" >"$ser"
echo "fake vmm stderr" >&2
eval "${FAKE_THEN:-sleep 60}"
"""


@pytest.fixture
def fake(tmp_path):
    path = tmp_path / "fake-vmm"
    path.write_text(FAKE_VMM)
    path.chmod(0o755)

    def make(debug="", serial="", then="sleep 60", **kwargs):
        env = dict(os.environ, FAKE_DEBUG=debug, FAKE_SERIAL=serial, FAKE_THEN=then)
        return vmlib.VM(["-m", "128M"], backend="minivmm", workdir=tmp_path, binary=str(path),
                        env=env, **kwargs)
    return make


def test_command_lines():
    mini = vmlib.VM(["-m", "1G"], backend="minivmm", workdir="/w", binary="mv")
    assert mini.command == ["mv", "-m", "1G", "-debugcon", "file:/w/vm-debug.log",
                            "-serial", "file:/w/vm-serial.log"]
    quiet = vmlib.VM(["-S"], backend="minivmm", workdir="/w", binary="mv", debugcon=False,
                     serial=False)
    assert quiet.command == ["mv", "-S"]
    qemu = vmlib.VM(["-m", "1G"], backend="qemu", workdir="/w", binary="q", serial=False)
    assert qemu.command == ["q", "-enable-kvm", "-machine", "pc", "-nodefaults", "-display",
                            "none", "-bios", vmlib.SEABIOS, "-m", "1G",
                            "-chardev", "file,id=dbg,path=/w/vm-debug.log",
                            "-device", "isa-debugcon,iobase=0x402,chardev=dbg"]


def test_wait_logs_and_exit(fake):
    with fake(debug="one\\nFound 2 cpu(s)\\n", serial="login: \\n", then="exit 3") as vm:
        assert vm.wait_debug(r"^Found (\d+) cpu\(s\)$", 5).group(1) == "2"
        assert vm.wait_serial("login:", 5)
        assert vm.wait_exit(5) == 3
        assert "fake vmm stderr" in vm.stderr_text()


def test_exited_vm_is_reported_at_once(fake):
    with fake(debug="booting\\n", then="exit 7") as vm:
        start = time.monotonic()
        with pytest.raises(vmlib.VMExited, match=r"(?s)status 7.*booting.*fake vmm stderr"):
            vm.wait_debug("never printed", 20)
        assert time.monotonic() - start < 5


def test_timeout_shows_log_tail(fake):
    with fake(debug="HEAD" + "x" * 5000 + "TAIL\\n") as vm:
        with pytest.raises(vmlib.VMTimeout) as exc:
            vm.wait_debug("never printed", 0.5)
        assert "TAIL" in str(exc.value) and "HEAD" not in str(exc.value)
        assert vm.is_running()
    assert not vm.is_running()


def test_kill_reaps_a_vmm_that_ignores_sigterm(fake):
    # "ready" is written only once the trap is set: a SIGTERM before it would end the shell.
    vm = fake(then="trap '' TERM; echo ready >>\"$dbg\"; sleep 60 & wait; sleep 60").start()
    vm.wait_debug("ready", 5)
    vm.kill(grace=0.5)
    assert vm.returncode == -signal.SIGKILL
    vm.kill()


def test_run_expect_fail(tmp_path):
    status, err = vmlib.run_expect_fail(["-c", "echo 'fake: -foo: invalid option' >&2; exit 1"],
                                        5, backend="minivmm", binary="sh")
    assert (status, err) == (1, "fake: -foo: invalid option\n")
    with pytest.raises(vmlib.VMTimeout, match="still running"):
        vmlib.run_expect_fail(["-c", "sleep 30"], 0.5, backend="minivmm", binary="sh")


@pytest.mark.skipif(not shutil.which(vmlib.qemu_binary()) or not os.access("/dev/kvm", os.W_OK),
                    reason="needs Debian's qemu-system-x86 and /dev/kvm")
def test_qemu_backend_starts_paused(make_vm):
    vm = make_vm(["-S"], backend="qemu")
    time.sleep(0.5)
    assert vm.is_running(), vm.describe()
    assert vm.debug_log.exists() and vm.debug_text() == ""
