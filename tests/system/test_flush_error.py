"""A flush that failed once fails from then on (the image is not opened with O_DIRECT).

When fdatasync fails, Linux may mark the pages it could not write back clean: their data is
lost, and the next fdatasync succeeds without trying again. A VMM that passed that success
on would tell the guest its writes are durable when they are not. QEMU (3.0 and later)
fails every later flush of the image instead; so does minivmm (block/file-posix.c).

The host filesystem here is a real one that fails writeback: ext2 on a loop device whose
backing file is sparse on a small tmpfs. The guest's writes land in the page cache; then the
test fills the tmpfs, so the loop device fails its writes and the guest's FLUSH fails. The
test then frees the tmpfs and flushes again: that flush must fail too. The guest is the
qtest protocol driving virtio-blk (werror=report, so each failure is an I/O error status
and a BLOCK_IO_ERROR event); the script runs on both VMMs (QEMU: TCG, -S, kicks served by
register writes).
"""

import os
import shutil
import struct
import subprocess

import pytest

from qmp_vm import QMP, wait_for
from qtest import QTest
from virtio_blk_qtest import (ACKNOWLEDGE, DESC_F_NEXT, DESC_F_WRITE, DRIVER, DRIVER_OK,
                              GUEST_FEATURES, QUEUE_NOTIFY, QUEUE_NUM, QUEUE_PFN, QUEUE_SEL,
                              STATUS, T_OUT)

T_FLUSH = 4
VIRTIO_BLK_F_FLUSH = 1 << 9
S_OK, S_IOERR = 0, 1
DEVFN = 4 << 3
PORT = 0xc000
RING, HDR, STAT, DATA = 0x400000, 0x404000, 0x405000, 0x410000
AVAIL, USED = RING + 16 * 256, RING + 0x2000
BS = 4096


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


@pytest.fixture
def failing_fs(tmp_path):
    """(mount point, tmpfs dir): ext2 on a loop device over a 6 MiB tmpfs."""
    for tool in ("losetup", "mkfs.ext2"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    small, mnt = tmp_path / "small", tmp_path / "mnt"
    small.mkdir()
    mnt.mkdir()
    r = run("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(small))
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    loop = None
    try:
        with open(small / "disk", "wb") as f:
            f.truncate(64 << 20)
        r = run("losetup", "-f", "--show", str(small / "disk"))
        if r.returncode:
            pytest.skip(f"cannot attach a loop device: {r.stderr.strip()}")
        loop = r.stdout.strip()
        assert run("mkfs.ext2", "-q", loop).returncode == 0
        r = run("mount", loop, str(mnt))
        if r.returncode:
            pytest.skip(f"cannot mount ext2: {r.stderr.strip()}")
        yield mnt, small
    finally:
        run("umount", "-l", str(mnt))
        if loop:
            run("losetup", "-d", loop)
        run("umount", "-l", str(small))


def fill(small):
    path = small / "filler"
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\xee" * 65536)
                f.flush()
        except OSError:
            pass
    return path


class Disk:
    """A legacy virtio-blk driver for one request at a time: writes and flushes."""

    def __init__(self, qt):
        self.qt, self.avail_idx, self.used_seen = qt, 0, 0
        q, p = qt, PORT
        q.outl(0xcf8, 0x80000000 | DEVFN << 8 | 0x10)
        q.outl(0xcfc, p | 1)
        q.outl(0xcf8, 0x80000000 | DEVFN << 8 | 0x04)
        q.outl(0xcfc, 0x7)
        q.outb(p + STATUS, 0)
        q.outb(p + STATUS, ACKNOWLEDGE | DRIVER)
        assert q.inl(p) & VIRTIO_BLK_F_FLUSH
        q.outl(p + GUEST_FEATURES, VIRTIO_BLK_F_FLUSH)
        q.outw(p + QUEUE_SEL, 0)
        assert q.inw(p + QUEUE_NUM) == 256
        q.ok(f"memset {RING:#x} {0x3000:#x} 0")
        q.outl(p + QUEUE_PFN, RING >> 12)
        q.outb(p + STATUS, ACKNOWLEDGE | DRIVER | DRIVER_OK)

    def request(self, kind, sector=0, data=b""):
        """One request; waits for it and returns its status byte."""
        q = self.qt
        q.memwrite(HDR, struct.pack("<IIQ", kind, 0, sector))
        q.ok(f"writeb {STAT:#x} 0xff")
        chain = [(HDR, 16, DESC_F_NEXT)]
        if data:
            q.memwrite(DATA, data)
            chain.append((DATA, len(data), DESC_F_NEXT))
        chain.append((STAT, 1, DESC_F_WRITE))
        descs = b"".join(struct.pack("<QIHH", a, n, f, i + 1)
                         for i, (a, n, f) in enumerate(chain))
        q.memwrite(RING, descs)
        q.memwrite(AVAIL + 4 + 2 * (self.avail_idx % 256), struct.pack("<H", 0))
        self.avail_idx += 1
        q.ok(f"writew {AVAIL + 2:#x} {self.avail_idx:#x}")
        q.outw(PORT + QUEUE_NOTIFY, 0)
        wait_for(lambda: int(q.ok(f"readw {USED + 2:#x}"), 16) == self.avail_idx,
                 what="the request's completion")
        return int(q.ok(f"readb {STAT:#x}"), 16)


def start(vmm, tmp_path, img):
    sock = str(tmp_path / "qmp.sock")
    qt = QTest.start(vmm, ["-m", "128", "-qtest-log", "/dev/null",  # QEMU logs to stderr
                           "-drive", f"if=none,id=d0,file={img},format=raw,werror=report",
                           "-device", f"virtio-blk-pci,drive=d0,addr={DEVFN >> 3:#x}",
                           "-qmp", f"unix:{sock},server,nowait"])
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    return qt, qmp


def flush_error_event(qmp):
    ev = qmp.event_wait("BLOCK_IO_ERROR")["data"]
    assert (ev["device"], ev["operation"], ev["action"]) == ("d0", "write", "report")
    return ev


def test_flush_fails_for_good_after_writeback_failed(tmp_path, failing_fs, vmm):
    mnt, small = failing_fs
    img = mnt / "disk.img"
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    qt, qmp = start(vmm, tmp_path, img)
    try:
        disk = Disk(qt)
        for i in range(8):             # into the page cache, written back later
            assert disk.request(T_OUT, i * BS // 512, bytes([i + 1]) * BS) == S_OK
        filler = fill(small)           # now writeback fails
        assert disk.request(T_FLUSH) == S_IOERR
        flush_error_event(qmp)
        os.unlink(filler)              # room again: a new fdatasync would now succeed
        assert disk.request(T_FLUSH) == S_IOERR
        flush_error_event(qmp)
        assert disk.request(T_OUT, 0, b"\x77" * BS) == S_OK   # writes still go on
        assert disk.request(T_FLUSH) == S_IOERR
        flush_error_event(qmp)
    finally:
        qmp.close()
        qt.close()
