"""werror/rerror error policies of virtio-blk and IDE (docs/error-policy.md).

The guest is the qtest protocol driving the devices; the monitor is QMP on a socket. Write
errors are real: the raw image lives on a small tmpfs the test mounts and fills with a filler
file, so the host returns ENOSPC; freeing the filler and sending `cont` must let every kept
request finish, and every byte the guest wrote must then be in the image. Read errors are
injected with the blkdebug driver (`blkdebug:RULES:IMAGE`). minivmm only (QEMU's qtest
accelerator is not in Debian's build, and its VM would not stop under -S).
"""

import os
import struct
import subprocess
import time

import pytest

from qmp_vm import QMP
from qtest import QTest
from virtio_blk_qtest import VirtioBlk

BS = 4096
DEPTH = 48
VIRTIO_DEVFN = 4 << 3
S_OK, S_IOERR = 0, 1


@pytest.fixture(autouse=True)
def minivmm_only(vmm):
    if vmm != "minivmm":
        pytest.skip("the guest is the qtest protocol on minivmm's qtest accelerator")


def make_image(img, size=4 << 20):
    with open(img, "wb") as f:
        f.truncate(size)


def fill(mnt, leave):
    """Fill the filesystem with a filler file, then give back `leave` bytes of it."""
    path = mnt / "filler"
    chunk = b"\xee" * 65536
    with open(path, "wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            pass
    size = os.path.getsize(path)
    os.truncate(path, max(0, size - leave))
    return path


def start(tmp_path, drive, device):
    sock = str(tmp_path / "qmp.sock")
    qt = QTest.minivmm(["-m", "128", "-drive", f"if=none,id=d0,{drive}", "-device", device,
                        "-qmp", f"unix:{sock},server,nowait"])
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    return qt, qmp


def block_info(qmp):
    return next(b for b in qmp.command("query-block") if b["device"] == "d0")


def wait_for(pred, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def assert_stopped(qmp, operation, nospace, reason):
    ev = qmp.event_wait("BLOCK_IO_ERROR")
    assert ev["data"] == {"device": "d0", "operation": operation, "action": "stop",
                          "nospace": nospace, "reason": reason}
    qmp.event_wait("STOP")
    assert qmp.command("query-status") == {"status": "io-error", "running": False,
                                           "singlestep": False}
    assert block_info(qmp)["io-status"] == ("nospace" if nospace else "failed")
    assert f"I/O status:       {'nospace' if nospace else 'failed'}" in qmp.hmp("info block d0")
    assert "(io-error)" in qmp.hmp("info status")


def resume(qmp):
    qmp.command("cont")
    qmp.event_wait("RESUME")
    assert qmp.command("query-status")["status"] == "running"


# ---- virtio-blk ----

def pattern(slot):
    return bytes([(slot * 7 + i) & 0xff for i in range(251)]) * (BS // 251) + \
        bytes([slot + 1]) * (BS % 251)


class VirtioWriter(VirtioBlk):
    """DEPTH writes (or reads) of BS bytes, slot s at byte offset 2 * s * BS, all at once."""

    def __init__(self, qt, write=True):
        super().__init__(qt, VIRTIO_DEVFN, 0, depth=DEPTH, bs=BS, write=write)
        self.paused = True
        if write:
            for s in range(DEPTH):
                qt.memwrite(self.data + s * BS, pattern(s))

    def done(self):
        return int(self.qt.ok(f"readw {self.used + 2:#x}"), 16)

    def statuses(self):
        return list(self.qt.memread(self.status, DEPTH))


def check_image(img, slots):
    with open(img, "rb") as f:
        data = f.read()
    for s in slots:
        assert data[2 * s * BS:2 * s * BS + BS] == pattern(s), f"slot {s} lost"


@pytest.mark.parametrize("werror", ["stop", "enospc"])
def test_virtio_enospc_stops_then_cont_completes(tmp_path, small_fs, werror):
    img = small_fs / "disk.img"
    make_image(img)
    filler = fill(small_fs, leave=16 * BS)
    qt, qmp = start(tmp_path, f"file={img},format=raw,werror={werror}",
                    f"virtio-blk-pci,drive=d0,addr={VIRTIO_DEVFN >> 3:#x}")
    with qt, qmp:
        assert block_info(qmp)["io-status"] == "ok"
        d = VirtioWriter(qt)
        d.start()
        assert_stopped(qmp, "write", True, "No space left on device")
        time.sleep(0.2)
        kept = DEPTH - d.done()
        assert kept > 0 and d.done() < DEPTH
        os.unlink(filler)
        resume(qmp)
        wait_for(lambda: d.done() == DEPTH, "the kept requests")
        assert d.statuses() == [S_OK] * DEPTH
        assert block_info(qmp)["io-status"] == "ok"
        check_image(img, range(DEPTH))


def test_virtio_enospc_stops_again_while_still_full(tmp_path, small_fs):
    img = small_fs / "disk.img"
    make_image(img)
    filler = fill(small_fs, leave=0)
    qt, qmp = start(tmp_path, f"file={img},format=raw,werror=stop",
                    f"virtio-blk-pci,drive=d0,addr={VIRTIO_DEVFN >> 3:#x}")
    with qt, qmp:
        d = VirtioWriter(qt)
        d.start()
        assert_stopped(qmp, "write", True, "No space left on device")
        qmp.get_events(wait=0.2)
        qmp.command("cont")               # still full: the retries fail and stop again
        qmp.event_wait("RESUME")
        assert_stopped(qmp, "write", True, "No space left on device")
        assert d.done() < DEPTH
        os.unlink(filler)
        resume(qmp)
        wait_for(lambda: d.done() == DEPTH, "the kept requests")
        assert d.statuses() == [S_OK] * DEPTH
        check_image(img, range(DEPTH))


@pytest.mark.parametrize("werror,status", [("report", S_IOERR), ("ignore", S_OK)])
def test_virtio_report_and_ignore(tmp_path, small_fs, werror, status):
    img = small_fs / "disk.img"
    make_image(img)
    fill(small_fs, leave=0)
    qt, qmp = start(tmp_path, f"file={img},format=raw,werror={werror}",
                    f"virtio-blk-pci,drive=d0,addr={VIRTIO_DEVFN >> 3:#x}")
    with qt, qmp:
        assert "io-status" not in block_info(qmp)   # 2.2: only with stop/enospc
        d = VirtioWriter(qt)
        d.start()
        wait_for(lambda: d.done() == DEPTH, "the failed requests")
        assert d.statuses() == [status] * DEPTH
        ev = qmp.event_wait("BLOCK_IO_ERROR")
        assert ev["data"] == {"device": "d0", "operation": "write", "action": werror,
                              "reason": "No space left on device"}
        assert qmp.command("query-status")["status"] == "running"
        assert not [e for e in qmp.get_events(wait=0.2) if e["event"] == "STOP"]


# ---- IDE (primary master, PIIX3 function 1.1) ----

IDE_DEVFN = 1 << 3 | 1
BM = 0xc000
PRD_ADDR, BUF_ADDR = 0x100000, 0x200000
SECTOR = 512
BSY, DRDY, DSC, DRQ, ERR = 0x80, 0x40, 0x10, 0x08, 0x01
SEEK = DSC
BM_ACTIVE, BM_INTR = 0x01, 0x04


def sector_data(lba):
    return bytes([(lba * 13 + i) & 0xff for i in range(256)]) * 2


def ide_start(tmp_path, img, policy):
    qt, qmp = start(tmp_path, f"file={img},format=raw,{policy}",
                    "ide-hd,drive=d0,bus=ide.0,unit=0")
    qt.outl(0xcf8, 0x80000000 | IDE_DEVFN << 8 | 0x20)
    qt.outl(0xcfc, BM | 1)
    qt.outl(0xcf8, 0x80000000 | IDE_DEVFN << 8 | 0x04)
    qt.outl(0xcfc, 0x5)                           # I/O space, bus master
    return qt, qmp


def ide_status(qt):
    return qt.inb(0x1f7)


def ide_wait(qt, what, pred=lambda st: not st & BSY):
    wait_for(lambda: pred(ide_status(qt)), what)
    return ide_status(qt)


def ide_command(qt, cmd, lba, n):
    qt.outb(0x1f6, 0xe0 | (lba >> 24 & 0xf))
    qt.outb(0x1f2, n)
    qt.outb(0x1f3, lba & 0xff)
    qt.outb(0x1f4, lba >> 8 & 0xff)
    qt.outb(0x1f5, lba >> 16 & 0xff)
    qt.outb(0x1f7, cmd)


def pio_sector(qt, lba):
    ide_wait(qt, "DRQ", lambda st: st & DRQ and not st & BSY)
    for (w,) in struct.iter_unpack("<H", sector_data(lba)):
        qt.outw(0x1f0, w)


def check_sectors(img, first, n):
    with open(img, "rb") as f:
        f.seek(first * SECTOR)
        data = f.read(n * SECTOR)
    for i in range(n):
        assert data[i * SECTOR:(i + 1) * SECTOR] == sector_data(first + i), f"LBA {first + i}"


def test_ide_pio_write_stops_then_cont_completes(tmp_path, small_fs):
    img = small_fs / "disk.img"
    make_image(img)
    filler = fill(small_fs, leave=0)
    qt, qmp = ide_start(tmp_path, img, "werror=stop")
    with qt, qmp:
        assert block_info(qmp)["io-status"] == "ok"
        ide_command(qt, 0x30, 100, 4)              # WRITE SECTORS
        pio_sector(qt, 100)
        assert_stopped(qmp, "write", True, "No space left on device")
        assert ide_status(qt) & BSY                # kept: busy, no completion
        os.unlink(filler)
        resume(qmp)
        for lba in range(101, 104):
            pio_sector(qt, lba)
        assert ide_wait(qt, "the last sector") == DRDY | DSC
        assert block_info(qmp)["io-status"] == "ok"
        check_sectors(img, 100, 4)


def test_ide_dma_write_stops_then_cont_completes(tmp_path, small_fs):
    img = small_fs / "disk.img"
    make_image(img)
    filler = fill(small_fs, leave=0)
    n = 64
    qt, qmp = ide_start(tmp_path, img, "werror=enospc")
    with qt, qmp:
        qt.memwrite(BUF_ADDR, b"".join(sector_data(2000 + i) for i in range(n)))
        qt.memwrite(PRD_ADDR, struct.pack("<II", BUF_ADDR, 0x80000000 | n * SECTOR))
        qt.outl(BM + 4, PRD_ADDR)
        ide_command(qt, 0xca, 2000, n)             # WRITE DMA
        qt.outb(BM, 0x01)                          # start, memory to device
        assert_stopped(qmp, "write", True, "No space left on device")
        assert ide_status(qt) & BSY
        assert qt.inb(BM + 2) & (BM_ACTIVE | BM_INTR) == BM_ACTIVE
        os.unlink(filler)
        resume(qmp)
        wait_for(lambda: qt.inb(BM + 2) & BM_INTR, "the DMA interrupt")
        qt.outb(BM, 0)
        assert ide_wait(qt, "the command") == DRDY | DSC
        check_sectors(img, 2000, n)


@pytest.mark.parametrize("werror", ["report", "ignore"])
def test_ide_pio_write_report_and_ignore(tmp_path, small_fs, werror):
    img = small_fs / "disk.img"
    make_image(img)
    fill(small_fs, leave=0)
    qt, qmp = ide_start(tmp_path, img, f"werror={werror}")
    with qt, qmp:
        ide_command(qt, 0x30, 7, 1)
        pio_sector(qt, 7)
        st = ide_wait(qt, "the write")
        if werror == "report":
            assert st == DRDY | ERR and qt.inb(0x1f1) == 0x04      # ABRT
        else:
            assert st == DRDY | DSC
        ev = qmp.event_wait("BLOCK_IO_ERROR")
        assert ev["data"]["action"] == werror and ev["data"]["operation"] == "write"
        assert qmp.command("query-status")["status"] == "running"


# ---- read errors injected by blkdebug ----

def blkdebug(tmp_path, img, rules):
    cfg = tmp_path / "rules.cfg"
    cfg.write_text("".join(f"[inject-error]\n{r}\n" for r in rules))
    return f"file=blkdebug:{cfg}:{img},format=raw"


def test_virtio_rerror_stop_then_cont_reads(tmp_path):
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(4 << 20)
        for s in range(DEPTH):
            f.seek(2 * s * BS)
            f.write(pattern(s))
    # Slot 5's sector (the device read sector 0 at start-up for its geometry).
    drive = blkdebug(tmp_path, img, ['event = "read_aio"\nerrno = "5"\nsector = "80"\nonce = "on"'])
    qt, qmp = start(tmp_path, drive + ",rerror=stop",
                    f"virtio-blk-pci,drive=d0,addr={VIRTIO_DEVFN >> 3:#x}")
    with qt, qmp:
        d = VirtioWriter(qt, write=False)
        d.start()
        assert_stopped(qmp, "read", False, "Input/output error")
        time.sleep(0.2)
        assert d.done() == DEPTH - 1
        resume(qmp)
        wait_for(lambda: d.done() == DEPTH, "the kept read")
        assert d.statuses() == [S_OK] * DEPTH
        for s in range(DEPTH):
            assert qt.memread(d.data + s * BS, BS) == pattern(s), f"slot {s}"


@pytest.mark.parametrize("rerror,status", [("report", S_IOERR), ("ignore", S_OK)])
def test_virtio_rerror_report_and_ignore(tmp_path, rerror, status):
    img = tmp_path / "disk.img"
    make_image(img)
    drive = blkdebug(tmp_path, img, ['event = "read_aio"\nsector = "0"'])
    qt, qmp = start(tmp_path, drive + f",rerror={rerror}",
                    f"virtio-blk-pci,drive=d0,addr={VIRTIO_DEVFN >> 3:#x}")
    with qt, qmp:
        d = VirtioWriter(qt, write=False)
        d.start()
        wait_for(lambda: d.done() == DEPTH, "the reads")
        assert d.statuses() == [status] + [S_OK] * (DEPTH - 1)   # slot 0 reads sector 0
        ev = qmp.event_wait("BLOCK_IO_ERROR")
        assert ev["data"]["action"] == rerror and ev["data"]["operation"] == "read"
        assert ev["data"]["nospace"] is False     # werror=enospc (default): io-status on
        assert qmp.command("query-status")["status"] == "running"


def test_ide_dma_rerror_stop_then_cont_reads(tmp_path):
    img = tmp_path / "disk.img"
    n = 16
    with open(img, "wb") as f:
        f.truncate(4 << 20)
        f.seek(300 * SECTOR)
        f.write(b"".join(sector_data(300 + i) for i in range(n)))
    drive = blkdebug(tmp_path, img, ['event = "read_aio"\nerrno = "5"\nsector = "305"\nonce = "on"'])
    qt, qmp = start(tmp_path, drive + ",rerror=stop", "ide-hd,drive=d0,bus=ide.0,unit=0")
    with qt, qmp:
        qt.outl(0xcf8, 0x80000000 | IDE_DEVFN << 8 | 0x20)
        qt.outl(0xcfc, BM | 1)
        qt.outl(0xcf8, 0x80000000 | IDE_DEVFN << 8 | 0x04)
        qt.outl(0xcfc, 0x5)
        qt.memwrite(PRD_ADDR, struct.pack("<II", BUF_ADDR, 0x80000000 | n * SECTOR))
        qt.outl(BM + 4, PRD_ADDR)
        ide_command(qt, 0xc8, 300, n)              # READ DMA
        qt.outb(BM, 0x09)                          # start, device to memory
        assert_stopped(qmp, "read", False, "Input/output error")
        assert ide_status(qt) & BSY
        resume(qmp)
        wait_for(lambda: qt.inb(BM + 2) & BM_INTR, "the DMA interrupt")
        qt.outb(BM, 0)
        assert ide_wait(qt, "the command") == DRDY | DSC
        assert qt.memread(BUF_ADDR, n * SECTOR) == \
            b"".join(sector_data(300 + i) for i in range(n))


def atapi_packet(qt, packet):
    qt.outb(0x1f6, 0xa0)
    qt.outb(0x1f1, 0)                              # PIO
    qt.outb(0x1f4, 0x00)
    qt.outb(0x1f5, 0x08)                           # byte count limit 2048
    qt.outb(0x1f7, 0xa0)                           # PACKET
    ide_wait(qt, "the packet phase", lambda st: st & DRQ and not st & BSY)
    for (w,) in struct.iter_unpack("<H", packet.ljust(12, b"\0")):
        qt.outw(0x1f0, w)


def test_atapi_pio_rerror_stop_then_cont_reads(tmp_path):
    img = tmp_path / "cd.iso"
    data = bytes([(i * 31) & 0xff for i in range(2048)])
    with open(img, "wb") as f:
        f.truncate(1 << 20)
        f.seek(10 * 2048)
        f.write(data)
    drive = blkdebug(tmp_path, img, ['event = "read_aio"\nsector = "40"\nonce = "on"'])
    qt, qmp = start(tmp_path, drive + ",media=cdrom,rerror=stop",
                    "ide-cd,drive=d0,bus=ide.0,unit=0")
    with qt, qmp:
        for _ in range(2):                          # TEST UNIT READY: clear unit attention
            atapi_packet(qt, b"\x00")
            ide_wait(qt, "TEST UNIT READY")
        atapi_packet(qt, struct.pack(">BBIBHB", 0x28, 0, 10, 0, 1, 0))   # READ(10)
        assert_stopped(qmp, "read", False, "Input/output error")
        assert ide_status(qt) & BSY
        resume(qmp)
        ide_wait(qt, "the data phase", lambda st: st & DRQ and not st & BSY)
        got = b"".join(struct.pack("<H", qt.inw(0x1f0)) for _ in range(1024))
        assert got == data
        assert ide_wait(qt, "the command") & ~SEEK == DRDY


# ---- the test payload under KVM: real vCPUs stopped by the policy ----

@pytest.mark.parametrize("iothread", ["", ",num-queues=2,iothread=io0:io1"],
                         ids=["main-loop", "two-iothreads"])
def test_payload_virtio_blk_enospc_stop_cont(make_vm, vmm, tmp_path, iothread):
    """The payload writes 16 MiB eight deep onto a tmpfs with 6 MiB free: the VM stops
    (io-error), the test frees the space, and after cont the payload's read-back (in the
    guest) and the image (here) hold every byte it wrote. With I/O threads the failures
    and the retries happen in them."""
    from test_error_policy_payload import start_payload
    from test_payload_virtio_blk import MIB, SECTOR, expected_sector

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        img = mnt / "disk.img"
        make_image(img, 64 << 20)
        filler = fill(mnt, leave=6 << 20)
        vm, qmp = start_payload(make_vm, vmm, tmp_path, f"virtio_blk {MIB} 8", [
            "-drive", f"if=none,id=d0,file={img},format=raw,werror=stop",
            "-object", "iothread,id=io0", "-object", "iothread,id=io1",
            "-device", f"virtio-blk-pci,drive=d0,disable-legacy=on{iothread}"])
        with qmp:
            assert_stopped(qmp, "write", True, "No space left on device")
            os.unlink(filler)
            qmp.command("cont")
            qmp.event_wait("RESUME")
            assert vm.wait_exit(60) == 0
        lines = vm.serial_text().replace("\r\n", "\n").splitlines()
        assert lines[0] == "READY" and lines[-1] == "PASS", "\n".join(lines)
        with open(img, "rb") as f:
            for s in range(0, MIB * 2048, 97):
                f.seek(s * SECTOR)
                assert f.read(SECTOR) == expected_sector(s), f"sector {s}"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_ide_flush_werror_stop_then_cont(tmp_path):
    img = tmp_path / "disk.img"
    make_image(img)
    drive = blkdebug(tmp_path, img, ['event = "flush_to_disk"\nerrno = "5"\nonce = "on"'])
    qt, qmp = start(tmp_path, drive + ",werror=stop", "ide-hd,drive=d0,bus=ide.0,unit=0")
    with qt, qmp:
        qt.outb(0x1f6, 0xe0)
        qt.outb(0x1f7, 0xe7)                       # FLUSH CACHE
        assert_stopped(qmp, "write", False, "Input/output error")
        assert ide_status(qt) & BSY
        resume(qmp)
        assert ide_wait(qt, "the flush") == DRDY | DSC


def test_virtio_default_werror_reports_eio(tmp_path):
    """werror=enospc (the default) stops only for ENOSPC: an EIO is reported."""
    img = tmp_path / "disk.img"
    make_image(img)
    drive = blkdebug(tmp_path, img, ['event = "write_aio"\nerrno = "5"'])
    qt, qmp = start(tmp_path, drive, f"virtio-blk-pci,drive=d0,addr={VIRTIO_DEVFN >> 3:#x}")
    with qt, qmp:
        d = VirtioWriter(qt)
        d.start()
        wait_for(lambda: d.done() == DEPTH, "the failed writes")
        assert d.statuses() == [S_IOERR] * DEPTH
        ev = qmp.event_wait("BLOCK_IO_ERROR")
        assert ev["data"] == {"device": "d0", "operation": "write", "action": "report",
                              "nospace": False, "reason": "Input/output error"}
        assert block_info(qmp)["io-status"] == "ok"
        assert qmp.command("query-status")["status"] == "running"
