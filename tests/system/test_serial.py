"""COM1 (16550A at 0x3f8) as SeaBIOS's serial console, through each -serial backend.

With -nographic the firmware is told there is no display (fw_cfg NOGRAPHIC) and SeaBIOS
prints its boot messages on COM1; without -serial, -nographic puts COM1 on stdio with QEMU's
Ctrl-A escapes.
"""

import os
import socket
import stat
import subprocess
import time

import pytest

import vm as vmlib

BANNER = b"SeaBIOS (version"
NO_BOOT = b"No bootable device."


def read_until(sock_or_file, marker, timeout):
    data = b""
    deadline = time.monotonic() + timeout * vmlib.timeout_scale()
    while marker not in data and time.monotonic() < deadline:
        chunk = sock_or_file.recv(4096) if hasattr(sock_or_file, "recv") else \
            os.read(sock_or_file.fileno(), 4096)
        if not chunk:
            break
        data += chunk
    return data


def test_serial_file(make_vm):
    vm = make_vm(["-nographic", "-m", "128"])
    vm.wait_serial(r"No bootable device\.", 30)
    assert vm.serial_text().count("SeaBIOS (version") == 1


def test_serial_unix_server_nowait(make_vm, tmp_path):
    path = tmp_path / "com1.sock"
    vm = make_vm(["-nographic", "-m", "128", "-serial", f"unix:{path},server,nowait"],
                 serial=False)
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        s.settimeout(30)
        data = read_until(s, NO_BOOT, 30)
    assert BANNER in data and NO_BOOT in data
    assert vm.is_running()


@pytest.mark.parametrize("vmm_args", [[], ["-serial", "mon:stdio"]])
def test_nographic_stdio_and_ctrl_a_x(vmm, vmm_args):
    if vmm != "minivmm":
        pytest.skip("drives the minivmm binary directly")
    cmd = [vmlib.minivmm_binary(), "-nographic", "-m", "128"] + vmm_args
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out = read_until(p.stdout, NO_BOOT, 30)
        assert BANNER in out and NO_BOOT in out
        p.stdin.write(b"\x01x")
        p.stdin.flush()
        assert p.wait(10 * vmlib.timeout_scale()) == 0
        assert b"QEMU: Terminated" in p.stdout.read()
    finally:
        p.kill()
        p.wait()
