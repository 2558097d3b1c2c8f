"""minivmm started the way QEMU's own block tests start QEMU, and a few classic iotests checks.

qemu-iotests (tests/qemu-iotests/iotests.py with python/qemu/machine) launches the binary
with the test already listening on a Unix socket and lets the VMM connect to it as a
client: the QMP monitor through `-chardev socket,id=mon,path=P -mon chardev=mon,mode=control`,
and the qtest channel either on stdin (QEMU 2.2: `-qtest stdio -machine accel=qtest`, stdin
being /dev/null) or on a second listening socket (today: `-qtest unix:path=Q -accel qtest`).
The test then accepts, reads the QMP greeting, negotiates, and issues commands. This file
plays that harness's part (its own code, written from those scripts' behaviour) and runs
iotests-style checks: query-block's shape, eject/change of a CD with the tray events,
block_resize seen in query-block, qemu-io through human-monitor-command, and the qtest
channel reaching the same machine.
"""

import json
import os
import socket
import subprocess

import pytest

import vm as vmlib

TIMEOUT = 10 * vmlib.timeout_scale()


class IotestsVM:
    """A VMM launched as iotests.py launches QEMU; the test side listens, the VMM connects."""

    def __init__(self, workdir, drives, modern):
        self.workdir = workdir
        self.modern = modern
        self.mon_path = str(workdir / "mon.sock")
        self.qtest_path = str(workdir / "qtest.sock")
        self.log_path = workdir / "vmm.log"
        self.events = []
        args = [vmlib.minivmm_binary(), "-nodefaults",
                "-chardev", f"socket,id=mon,path={self.mon_path}",
                "-mon", "chardev=mon,mode=control", "-display", "none", "-vga", "none"]
        if modern:
            args += ["-qtest", f"unix:path={self.qtest_path}", "-accel", "qtest"]
        else:
            args += ["-qtest", "stdio", "-machine", "accel=qtest"]
        for drive in drives:
            args += ["-drive", drive]
        self.args = args
        self.mon_listen = self._listen(self.mon_path)
        self.qtest_listen = self._listen(self.qtest_path) if modern else None
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        self.mon = self._accept(self.mon_listen)
        self.mon_file = self.mon.makefile("rb")
        self.qtest_sock = self._accept(self.qtest_listen) if modern else None
        self.qtest_file = self.qtest_sock.makefile("rb") if modern else None

    @staticmethod
    def _listen(path):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(1)
        sock.settimeout(TIMEOUT)
        return sock

    def _accept(self, listener):
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{self.args} never connected; log: {self.log()}")
        conn.settimeout(TIMEOUT)
        return conn

    def log(self):
        return self.log_path.read_text(errors="replace")

    def _read_message(self):
        line = self.mon_file.readline()
        assert line, f"monitor closed; log: {self.log()}"
        return json.loads(line)

    def greeting(self):
        return self._read_message()

    def qmp(self, cmd, **args):
        """Send one command; return its reply, keeping the events that came before it."""
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.mon.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read_message()
            if "event" in reply:
                self.events.append(reply)
            else:
                return reply

    def get_events(self, name):
        found = [e for e in self.events if e["event"] == name]
        self.events = [e for e in self.events if e["event"] != name]
        return found

    def hmp_qemu_io(self, drive, cmd):
        """As iotests' VM.hmp_qemu_io: a qemu-io command through human-monitor-command."""
        return self.qmp("human-monitor-command",
                        **{"command-line": f'qemu-io {drive} "{cmd}"'})

    def qtest(self, line):
        self.qtest_sock.sendall(line.encode() + b"\n")
        return self.qtest_file.readline().decode().rstrip("\n")

    def shutdown(self):
        if self.proc.poll() is None:
            try:
                self.qmp("quit")
            except (OSError, AssertionError, ValueError):
                pass
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for sock in (self.mon, self.mon_listen, self.qtest_sock, self.qtest_listen):
            if sock:
                sock.close()
        return self.proc.returncode


@pytest.fixture
def launch(vmm, tmp_path):
    if vmm != "minivmm":
        pytest.skip("Debian's QEMU has no qtest accelerator")
    vms = []

    def start(drives, modern=False):
        machine = IotestsVM(tmp_path, drives, modern)
        vms.append(machine)
        return machine

    yield start
    for machine in vms:
        if machine.proc.poll() is None:
            machine.proc.kill()
            machine.proc.wait()


def make_image(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


def inserted(vm, device):
    blocks = vm.qmp("query-block")["return"]
    return next(b for b in blocks if b["device"] == device).get("inserted")


@pytest.mark.parametrize("modern", [False, True], ids=["qemu-2.2-argv", "modern-argv"])
def test_launch_greeting_and_query_block(launch, tmp_path, modern):
    img = make_image(tmp_path / "test.img", 1 << 20)
    vm = launch([f"if=virtio,id=drive0,file={img},format=raw"], modern)
    greeting = vm.greeting()
    assert greeting["QMP"]["version"]["qemu"]["major"] >= 2
    assert "capabilities" in greeting["QMP"]
    assert vm.qmp("qmp_capabilities") == {"return": {}}
    assert vm.qmp("query-status")["return"]["status"] == "running"
    blocks = vm.qmp("query-block")["return"]
    assert blocks[0]["device"] == "drive0"
    assert blocks[0]["removable"] is False
    assert blocks[0]["inserted"]["file"] == img
    assert blocks[0]["inserted"]["drv"] == "raw"
    assert blocks[0]["inserted"]["ro"] is False
    if modern:
        # The qtest channel reaches the same machine: virtio-blk-pci's vendor/device ID
        # on bus 0 behind i440FX/PIIX3.
        ids = []
        for slot in range(32):
            assert vm.qtest(f"outl 0xcf8 {0x80000000 | slot << 11:#x}") == "OK"
            ids.append(vm.qtest("inl 0xcfc"))
        assert ids[0] == "OK 0x12378086" and "OK 0x10011af4" in ids
    assert vm.shutdown() == 0


def test_cd_eject_and_change(launch, tmp_path):
    """As iotests 118: eject opens the tray (event) and removes the medium; change inserts."""
    iso1 = make_image(tmp_path / "a.iso", 1 << 20)
    iso2 = make_image(tmp_path / "b.iso", 2 << 20)
    vm = launch([f"if=ide,media=cdrom,id=cd0,file={iso1},format=raw"])
    vm.greeting()
    vm.qmp("qmp_capabilities")
    blocks = vm.qmp("query-block")["return"]
    assert blocks[0]["device"] == "cd0" and blocks[0]["removable"] is True
    assert blocks[0]["tray_open"] is False and blocks[0]["inserted"]["file"] == iso1

    assert vm.qmp("eject", device="cd0") == {"return": {}}
    vm.qmp("query-status")  # collects events emitted meanwhile
    moved = vm.get_events("DEVICE_TRAY_MOVED")
    assert [e["data"]["tray-open"] for e in moved] == [True]
    assert moved[0]["data"]["device"] == "cd0"
    assert inserted(vm, "cd0") is None

    assert vm.qmp("change", device="cd0", target=iso2, arg="raw") == {"return": {}}
    vm.qmp("query-status")
    assert [e["data"]["tray-open"] for e in vm.get_events("DEVICE_TRAY_MOVED")] == [False]
    info = inserted(vm, "cd0")
    assert info["file"] == iso2 and info["ro"] is True
    assert vm.shutdown() == 0


def test_block_resize(launch, tmp_path):
    img = make_image(tmp_path / "test.img", 1 << 20)
    vm = launch([f"if=virtio,id=drive0,file={img},format=raw"])
    vm.greeting()
    vm.qmp("qmp_capabilities")
    assert vm.qmp("block_resize", device="drive0", size=4 << 20) == {"return": {}}
    assert os.path.getsize(img) == 4 << 20
    image = inserted(vm, "drive0")["image"]
    assert image["virtual-size"] == 4 << 20
    bad = vm.qmp("block_resize", device="nosuch", size=1 << 20)
    assert bad["error"] == {"class": "GenericError",
                            "desc": "Cannot find device=nosuch nor node_name="}
    assert vm.shutdown() == 0


def test_qemu_io_on_the_monitor(launch, tmp_path):
    img = make_image(tmp_path / "test.img", 1 << 20)
    vm = launch([f"if=virtio,id=drive0,file={img},format=raw,cache=writethrough"])
    vm.greeting()
    vm.qmp("qmp_capabilities")
    # As in QEMU 2.2, qemu-io prints on the VMM's stdout (the iotests log), not the monitor.
    assert vm.hmp_qemu_io("drive0", "write -P 0xab 4096 8192") == {"return": ""}
    assert vm.hmp_qemu_io("drive0", "read -P 0xab 4096 8192") == {"return": ""}
    stats = next(s for s in vm.qmp("query-blockstats")["return"] if s["device"] == "drive0")
    assert stats["stats"]["wr_bytes"] == 8192 and stats["stats"]["wr_operations"] == 1
    assert stats["stats"]["rd_bytes"] >= 8192
    with open(img, "rb") as f:
        data = f.read()
    assert data[4096:12288] == b"\xab" * 8192
    assert data[:4096] == bytes(4096) and data[12288:] == bytes(len(data) - 12288)
    assert vm.shutdown() == 0
    log = vm.log()
    assert "wrote 8192/8192 bytes at offset 4096" in log
    assert "read 8192/8192 bytes at offset 4096" in log
    assert "Pattern verification failed" not in log
