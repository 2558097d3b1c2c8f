"""Helpers for the block job tests: image chains filled with qemu-io, a VM with a QMP
socket (qtest accelerator), and qemu-img as the oracle for the results."""

import subprocess

from qmp_vm import start_qmp_vm

MiB = 1 << 20


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True,
                          text=True).stdout


def qemu_img(*args):
    return run("qemu-img", *args)


def qemu_io(img, *cmds, fmt="qcow2"):
    args = ["qemu-io", "-f", fmt]
    for c in cmds:
        args += ["-c", c]
    out = run(*args, img)
    assert "error" not in out.lower() and "fail" not in out.lower(), out
    return out


def create(path, size=None, backing=None, fmt="qcow2", cluster=65536):
    args = ["create", "-q", "-f", fmt]
    if fmt == "qcow2":
        args += ["-o", f"cluster_size={cluster}"]
    if backing:
        args += ["-b", backing, "-F", "qcow2"]
    args.append(path)
    if size is not None:
        args.append(str(size))
    qemu_img(*args)
    return path


def chain3(tmp_path, size=8 * MiB):
    """base <- mid <- top, each with its own pattern; returns the paths."""
    base = create(tmp_path / "base.qcow2", size)
    mid = create(tmp_path / "mid.qcow2", backing=base)
    top = create(tmp_path / "top.qcow2", backing=mid)
    qemu_io(base, "write -P 0x11 0 2M", "write -P 0x12 6M 1M")
    qemu_io(mid, "write -P 0x22 1M 2M", "write -z 6M 64k")
    qemu_io(top, "write -P 0x33 3M 512k")
    return base, mid, top


def snapshot_raw(img, out):
    """The guest-visible content of img's chain now, as a raw file."""
    qemu_img("convert", "-U", "-O", "raw", img, out)
    return out


def assert_same(a, b):
    r = subprocess.run(["qemu-img", "compare", "-U", str(a), str(b)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def assert_clean(img):
    r = subprocess.run(["qemu-img", "check", "-U", str(img)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def backing_of(img):
    import json
    info = json.loads(qemu_img("info", "-U", "--output=json", img))
    return info.get("backing-filename")


def vm_with_drive(make_vm, tmp_path, img, iface="none", extra=(), fmt="qcow2"):
    drive = f"file={img},if={iface},id=drive0,format={fmt}"
    return start_qmp_vm(make_vm, tmp_path, "minivmm", extra=["-drive", drive, *extra])


def quit_vm(vm, qmp):
    qmp.cmd("quit")
    vm.wait_exit(30)


def _qtest_class():
    import os
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    from qtest import QTest

    class Tolerant(QTest):
        """qtest on stdio, which also carries 2.2's "Formatting '...'" lines of the images
        drive-mirror/drive-backup create: those are not qtest replies."""

        def cmd(self, line):
            reply = super().cmd(line)
            while reply.startswith("Formatting '"):
                reply = self.proc.stdout.readline().decode().rstrip("\n")
            return reply
    return Tolerant


FormattingTolerantQTest = _qtest_class()


class GuestVM:
    """minivmm under qtest with drive0 on a virtio-blk-pci at 4.0 and a QMP socket; the
    guest (a VirtioBlk driver) writes `pattern` in 4 KiB blocks at 8 KiB strides."""

    def __init__(self, tmp_path, img, fmt="qcow2", depth=16, pattern=0x5a, extra=()):
        import os
        import sys
        sys.path.insert(0, os.path.dirname(__file__))
        from qtest import QTest
        from qmp_vm import QMP
        from virtio_blk_qtest import VirtioBlk
        sock = str(tmp_path / "guest-qmp.sock")
        self.qt = FormattingTolerantQTest.minivmm(["-m", "256", "-qmp", f"unix:{sock},server,nowait",
                                 "-drive", f"if=none,id=drive0,file={img},format={fmt}",
                                 "-device", "virtio-blk-pci,drive=drive0,addr=0x4", *extra])
        # A failing test leaves no VMM behind: killed when pytest exits at the latest.
        import atexit
        atexit.register(lambda proc=self.qt.proc: proc.poll() is None and proc.kill())
        self.qmp = QMP(sock)
        self.qmp.connect(retry_for=10)
        self.disk = VirtioBlk(self.qt, 4 << 3, 0, depth=depth, bs=4096, write=True)
        self.qt.ok(f"memset {self.disk.data:#x} {depth * 4096:#x} {pattern:#x}")
        self.depth, self.pattern = depth, pattern
        self.started = False

    def write_burst(self, polls=50):
        """Keep the writes going for a while (each completed request is resubmitted)."""
        import time
        if not self.started:
            self.disk.start()
            self.started = True
        for _ in range(polls):
            if not self.disk.poll():
                time.sleep(0.001)

    def quiesce(self):
        from virtio_blk_qtest import settle
        self.disk.paused = True
        settle([self.disk])

    def expect_writes(self, raw_path):
        """Apply what the guest wrote to a raw copy of the old content."""
        with open(raw_path, "r+b") as f:
            for slot in range(self.depth):
                f.seek(2 * slot * 4096)
                f.write(bytes([self.pattern]) * 4096)

    def quit(self):
        self.qmp.cmd("quit")
        self.qt.proc.wait(30)
