"""HMP: the human monitor over a real `-monitor unix:` socket (banner, prompt, QEMU's
readline echo, history, commands and their error lines), through human-monitor-command,
and on stdio muxed with the serial port under -nographic (Ctrl-A c / h / x).
"""

import os
import re
import select
import socket
import subprocess
import time

import pytest

import vm as vmlib
from qmp_vm import QMP, base_args, qemu22, start_qmp_vm, wait_for

PROMPT = b"(qemu) "
BANNER_RE = re.compile(rb"^QEMU [0-9.]+ monitor - type 'help' for more information\r\n"
                       rb"\(qemu\) $")


class HMPSocket:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                assert time.monotonic() < deadline, "no HMP socket"
                time.sleep(0.05)
        self.buf = b""

    def read_until(self, marker=PROMPT, timeout=10):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0 and select.select([self.sock], [], [], left)[0], \
                f"no {marker!r} after {self.buf!r}"
            chunk = self.sock.recv(65536)
            assert chunk, f"HMP connection closed after {self.buf!r}"
            self.buf += chunk
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def run(self, line):
        """Type a line; return what came back before the next prompt, echo included."""
        self.sock.sendall(line.encode() + b"\n")
        return self.read_until()

    def close(self):
        self.sock.close()


def typed_echo(text):
    """QEMU readline's echo of `text` typed character by character at the end of the line."""
    out = b""
    for i in range(1, len(text) + 1):
        out += b"\x1b[D" * (i - 1) + text[:i].encode() + b"\x1b[K"
    return out


@pytest.fixture
def hmp_vm(make_vm, tmp_path, vmm):
    path = str(tmp_path / "hmp.sock")
    vm = make_vm(base_args(vmm) + ["-monitor", f"unix:{path},server,nowait"])
    hmp = HMPSocket(path)
    yield vm, hmp
    hmp.close()


def output_of(vm, hmp, line):
    """The command's output lines (echo and prompt removed)."""
    out = hmp.run(line)
    echo = typed_echo(line) + b"\r\n"
    assert out.startswith(echo), f"echo {out!r}"
    return out[len(echo):-len(PROMPT)].decode()


def test_banner_prompt_and_echo(hmp_vm):
    vm, hmp = hmp_vm
    banner = hmp.read_until()
    assert BANNER_RE.match(banner), banner
    if qemu22(vm):
        assert banner == (b"QEMU 2.2.0 monitor - type 'help' for more information\r\n"
                          b"(qemu) ")
    assert output_of(vm, hmp, "info status") == "VM status: running\r\n"


def test_stop_cont_and_aliases(hmp_vm):
    vm, hmp = hmp_vm
    hmp.read_until()
    assert output_of(vm, hmp, "stop") == ""
    assert output_of(vm, hmp, "info status") == "VM status: paused\r\n"
    assert output_of(vm, hmp, "c") == ""
    assert output_of(vm, hmp, "info status") == "VM status: running\r\n"
    assert output_of(vm, hmp, "stop") == ""
    assert output_of(vm, hmp, "cont") == ""
    assert output_of(vm, hmp, "info status") == "VM status: running\r\n"
    assert output_of(vm, hmp, "system_reset") == ""


def test_errors_as_hmp_prints_them(hmp_vm):
    vm, hmp = hmp_vm
    hmp.read_until()
    assert output_of(vm, hmp, "frobnicate") == "unknown command: 'frobnicate'\r\n"
    assert output_of(vm, hmp, "") == ""
    if qemu22(vm):  # QEMU 7.2 names the aliases and adds a hint
        assert output_of(vm, hmp, "stop now") == \
            "stop: extraneous characters at the end of line\r\n"
        assert output_of(vm, hmp, "info frob") == "unknown command: 'info frob'\r\n"
        assert output_of(vm, hmp, "info version") == "2.2.0\r\n"


def test_help_lists_commands(hmp_vm):
    vm, hmp = hmp_vm
    hmp.read_until()
    text = output_of(vm, hmp, "help")
    for name in ("stop", "system_reset", "info"):
        assert re.search(rf"^\S*\b{name}\b.* -- ", text, re.M), name
    info = output_of(vm, hmp, "info")
    assert re.search(r"^info status .*-- show the current VM status", info, re.M)
    if qemu22(vm):
        assert "c|cont  -- resume emulation\r\n" in text
        assert output_of(vm, hmp, "help stop") == "stop  -- stop emulation\r\n"


def test_history_and_line_editing(hmp_vm):
    vm, hmp = hmp_vm
    hmp.read_until()
    output_of(vm, hmp, "stop")
    output_of(vm, hmp, "info status")
    # Up arrow recalls "info status"; Enter runs it again.
    hmp.sock.sendall(b"\x1b[A\n")
    assert hmp.read_until().endswith(b"VM status: paused\r\n(qemu) ")
    # Up twice: "stop" ... edited into "cont": Ctrl-A, Delete x4, type "cont".
    hmp.sock.sendall(b"\x1b[A\x1b[A\x01\x1b[3~\x1b[3~\x1b[3~\x1b[3~cont\n")
    hmp.read_until()
    assert output_of(vm, hmp, "info status") == "VM status: running\r\n"
    # Backspace over a typo.
    hmp.sock.sendall(b"info statuz\x7fs\n")
    assert hmp.read_until().endswith(b"VM status: running\r\n(qemu) ")


def test_quit_exits_zero(hmp_vm):
    vm, hmp = hmp_vm
    hmp.read_until()
    hmp.sock.sendall(b"q\n")
    assert vm.wait_exit(10) == 0


def test_reconnect_gets_banner_again(hmp_vm, tmp_path):
    vm, hmp = hmp_vm
    hmp.read_until()
    hmp.sock.sendall(b"info sta")  # half a line, then the client leaves
    hmp.close()
    hmp2 = HMPSocket(str(tmp_path / "hmp.sock"))
    assert BANNER_RE.match(hmp2.read_until())
    assert output_of(vm, hmp2, "info status") == "VM status: running\r\n"
    hmp2.close()


def test_human_monitor_command(make_vm, tmp_path, vmm):
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm)
    assert qmp.hmp("info status") == "VM status: running\r\n"
    assert qmp.hmp("stop") == ""
    qmp.event_wait("STOP")
    assert qmp.hmp("info status") == "VM status: paused\r\n"
    assert qmp.hmp("nope") == "unknown command: 'nope'\r\n"
    assert qmp.hmp("") == ""
    assert qmp.hmp("c") == ""
    qmp.event_wait("RESUME")
    if qemu22(vm):
        assert qmp.hmp("info version") == "2.2.0\r\n"


def test_hmp_and_qmp_on_one_vm(make_vm, tmp_path, vmm):
    path = str(tmp_path / "hmp.sock")
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm,
                           extra=["-monitor", f"unix:{path},server,nowait"])
    hmp = HMPSocket(path)
    hmp.read_until()
    output_of(vm, hmp, "stop")
    qmp.event_wait("STOP")
    assert qmp.command("query-status")["status"] == "paused"
    hmp.close()


def test_no_shutdown_then_reset_required(make_vm, tmp_path, vmm):
    """-no-shutdown: the guest's reset gives RESET; its power-off gives SHUTDOWN, STOP and
    state "shutdown"; cont is refused until system_reset, which leaves the VM paused."""
    from test_machine_lifecycle import build_rom
    sock = str(tmp_path / "qmp.sock")
    vm = make_vm(["-nodefaults", "-S", "-bios", build_rom(tmp_path, "cf9"), "-m", "32",
                  "-no-shutdown", "-qmp", f"unix:{sock},server,nowait"])
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    qmp.command("cont")
    for name in ("RESUME", "RESET", "SHUTDOWN", "STOP"):
        qmp.event_wait(name, timeout=20)
    assert qmp.command("query-status") == {"status": "shutdown", "singlestep": False,
                                           "running": False}
    assert qmp.hmp("info status") == "VM status: paused (shutdown)\r\n"
    resp = qmp.cmd("cont")
    assert resp["error"]["class"] == "GenericError"
    if qemu22(vm):
        assert resp["error"]["desc"] == "Resetting the Virtual Machine is required"
        assert qmp.hmp("c") == "Resetting the Virtual Machine is required\r\n"
    qmp.command("system_reset")
    qmp.event_wait("RESET")
    if not qemu22(vm):  # QEMU 7.2 no longer leaves "shutdown" for "paused" here
        qmp.close()
        return
    wait_for(lambda: qmp.command("query-status")["status"] == "paused", what="paused")
    qmp.command("cont")
    qmp.event_wait("RESUME")
    assert vm.debug_text().startswith("BOOT 1\nBOOT 2\n")
    assert vm.is_running()
    qmp.close()


@pytest.mark.parametrize("monitor", [[], ["-monitor", "stdio"]], ids=["default", "stdio"])
def test_nographic_mux(tmp_path, vmm, monitor):
    """-nographic: the serial port and HMP share stdio (the default monitor, or an explicit
    -monitor stdio); Ctrl-A c switches, Ctrl-A h helps, Ctrl-A x quits."""
    if monitor and vmm != "minivmm":
        pytest.skip("QEMU refuses two stdio chardevs")
    if vmm == "minivmm":  # not -nodefaults: that drops the default monitor
        cmd = [vmlib.minivmm_binary(), "-machine", "accel=qtest", "-qtest", "null",
               "-nographic"] + monitor
    else:
        cmd = [vmlib.qemu_binary(), "-enable-kvm", "-nographic", "-bios", vmlib.SEABIOS,
               "-net", "none"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    buf = b""

    def read_until(marker, timeout=10):
        nonlocal buf
        deadline = time.monotonic() + timeout
        while marker not in buf:
            left = deadline - time.monotonic()
            assert left > 0 and select.select([proc.stdout], [], [], left)[0], \
                f"no {marker!r} in {buf!r}"
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"EOF after {buf!r}"
            buf += chunk
        i = buf.index(marker) + len(marker)
        out, buf = buf[:i], buf[i:]
        return out

    try:
        proc.stdin.write(b"\x01c")
        proc.stdin.flush()
        assert b"monitor - type 'help' for more information\r\n" in read_until(PROMPT)
        proc.stdin.write(b"info status\r")
        proc.stdin.flush()
        assert read_until(PROMPT).endswith(b"VM status: running\r\n(qemu) ")
        proc.stdin.write(b"\x01h")
        proc.stdin.flush()
        assert b"C-a c    switch between console and monitor" in read_until(b"sends C-a")
        proc.stdin.write(b"\x01c\x01x")
        proc.stdin.flush()
        read_until(b"QEMU: Terminated")
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for f in (proc.stdin, proc.stdout, proc.stderr):
            f.close()
