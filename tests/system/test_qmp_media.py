"""Removable media from the monitor: eject and change of the IDE CD-ROM and the floppy, with
QEMU 2.2's DEVICE_TRAY_MOVED events and error texts, and the guest seeing the new medium
(the ATAPI unit attention and the floppy's disk-change line, read through qtest); the tray
moved by the guest (START STOP UNIT) and a locked tray; HMP eject and change.

minivmm runs under the qtest accelerator with a QMP socket; the error classes and texts QEMU
7.2 shares with 2.2 are also checked against Debian's QEMU (--vmm=qemu).
"""

import time

import pytest

from qmp_vm import QMPError, qemu22, qtest_with_qmp, start_qmp_vm

CD_BASE = 0x170          # ide1: the CD-ROM is its master
ATA_STATUS, ATA_ERROR, ATA_FEATURE, ATA_LCYL, ATA_HCYL, ATA_DEVICE = 7, 1, 1, 4, 5, 6
BSY, DRQ, ERR = 0x80, 0x08, 0x01
UNIT_ATTENTION, NOT_READY = 6, 2
FDC_DOR, FDC_MSR, FDC_FIFO, FDC_DIR = 0x3f2, 0x3f4, 0x3f5, 0x3f7


def raw_image(path, size, fill=0):
    with open(path, "wb") as f:
        f.write(bytes([fill]) * size)
    return str(path)


def expect_error(qmp, cls, desc, name, args=None):
    with pytest.raises(QMPError) as e:
        qmp.command(name, args or {})
    assert (e.value.cls, e.value.desc) == (cls, desc)


def tray_events(qmp, device, wait=0.2):
    return [e["data"]["tray-open"] for e in qmp.get_events(wait)
            if e["event"] == "DEVICE_TRAY_MOVED" and e["data"]["device"] == device]


# ---- the guest's view, through qtest ----

def atapi_cmd(qt, packet, data_words=0):
    """Send one ATAPI packet to the CD-ROM; return (status, sense key from the error reg)."""
    qt.outb(CD_BASE + ATA_DEVICE, 0xa0)
    qt.outb(CD_BASE + ATA_FEATURE, 0)
    qt.outb(CD_BASE + ATA_LCYL, 0xfe)
    qt.outb(CD_BASE + ATA_HCYL, 0xff)
    qt.outb(CD_BASE + ATA_STATUS, 0xa0)              # PACKET
    assert qt.inb(CD_BASE + ATA_STATUS) & DRQ
    packet = packet.ljust(12, b"\0")
    for i in range(0, 12, 2):
        qt.outw(CD_BASE, packet[i] | packet[i + 1] << 8)
    status = wait_not_busy(qt)
    while status & DRQ:                              # drain a data phase
        qt.inw(CD_BASE)
        status = qt.inb(CD_BASE + ATA_STATUS)
    return status, qt.inb(CD_BASE + ATA_ERROR) >> 4


def wait_not_busy(qt):
    for _ in range(1000):
        status = qt.inb(CD_BASE + ATA_STATUS)
        if not status & BSY:
            return status
        time.sleep(0.001)
    raise AssertionError("ATAPI device stays busy")


def unit_ready(qt):
    status, key = atapi_cmd(qt, b"\x00")
    return 0 if not status & ERR else key


def fdc_cmd(qt, *cmd, results=0):
    out = []
    for b in cmd:
        assert qt.inb(FDC_MSR) & 0xc0 == 0x80
        qt.outb(FDC_FIFO, b)
    for _ in range(results):
        for _ in range(1000):
            if qt.inb(FDC_MSR) & 0xc0 == 0xc0:
                break
        out.append(qt.inb(FDC_FIFO))
    return out


def floppy_seek(qt, track):
    fdc_cmd(qt, 0x0f, 0x00, track)                  # SEEK drive 0
    fdc_cmd(qt, 0x08, results=2)                     # SENSE INTERRUPT STATUS


@pytest.fixture
def media(tmp_path):
    return {"cd": raw_image(tmp_path / "cd.iso", 1 << 20, 0xcd),
            "cd2": raw_image(tmp_path / "cd2.iso", 2 << 20, 0xce),
            "fd": raw_image(tmp_path / "fd.img", 1474560, 0xf1)}


@pytest.fixture
def minivmm_only(vmm):
    if vmm != "minivmm":
        pytest.skip("drives the guest side through minivmm's qtest accelerator")


# ---- tests ----

def test_eject_change_errors(make_vm, tmp_path, vmm, media):
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={media['cd']},if=none,id=spare,format=raw",
        "-drive", f"file={media['fd']},if=ide,id=disk0,format=raw"])
    expect_error(qmp, "DeviceNotFound", "Device 'nope' not found", "eject", {"device": "nope"})
    expect_error(qmp, "GenericError", "Invalid parameter type for 'force', expected: bool"
                 if qemu22(vm) else "Invalid parameter type for 'force', expected: boolean",
                 "eject", {"device": "spare", "force": 1})
    if qemu22(vm):  # QEMU 7.2 has no "change" and words these differently
        expect_error(qmp, "DeviceNotFound", "Device 'nope' not found", "change",
                     {"device": "nope", "target": media["cd"]})
        expect_error(qmp, "GenericError", "Device 'disk0' is not removable", "eject",
                     {"device": "disk0"})
        expect_error(qmp, "GenericError", "Invalid block format 'nosuchfmt'", "change",
                     {"device": "spare", "target": media["cd"], "arg": "nosuchfmt"})
        expect_error(qmp, "GenericError",
                     f"Could not open '{tmp_path}/missing': No such file or directory",
                     "change", {"device": "spare", "target": str(tmp_path / "missing")})
        # A drive without a device: eject and change work, no tray events (no device).
        qmp.command("change", {"device": "spare", "target": media["cd2"], "arg": "raw"})
        spare = {b["device"]: b for b in qmp.command("query-block")}["spare"]
        assert spare["inserted"]["file"] == media["cd2"] and spare["inserted"]["ro"] is False
        qmp.command("eject", {"device": "spare"})
        assert "inserted" not in {b["device"]: b for b in qmp.command("query-block")}["spare"]
        assert tray_events(qmp, "spare") == []


def test_cd_change_seen_by_guest(minivmm_only, tmp_path, media):
    qt, qmp = qtest_with_qmp(tmp_path, ["-drive", "if=ide,index=2,media=cdrom,id=cd0"])
    with qt:
        assert unit_ready(qt) == NOT_READY
        qmp.command("change", {"device": "cd0", "target": media["cd"]})
        # 2.2: eject of the empty drive opens the tray, inserting closes it.
        assert tray_events(qmp, "cd0") == [True, False]
        keys = [unit_ready(qt) for _ in range(3)]
        assert UNIT_ATTENTION in keys, keys
        atapi_cmd(qt, b"\x03\x00\x00\x00\x12")       # REQUEST SENSE clears it
        assert unit_ready(qt) == 0
        cd = {b["device"]: b for b in qmp.command("query-block")}["cd0"]
        assert cd["inserted"]["file"] == media["cd"] and cd["inserted"]["ro"] is True
        assert cd["tray_open"] is False and cd["removable"] is True
        # The guest opens the tray: one event, from the block layer.
        atapi_cmd(qt, b"\x1b\x00\x00\x00\x02")        # START STOP UNIT LoEj, !Start
        assert tray_events(qmp, "cd0") == [True]
        atapi_cmd(qt, b"\x1b\x00\x00\x00\x02")        # already open: no event
        assert tray_events(qmp, "cd0") == []
        atapi_cmd(qt, b"\x1b\x00\x00\x00\x03")        # close
        assert tray_events(qmp, "cd0") == [False]
        qmp.command("eject", {"device": "cd0"})
        assert tray_events(qmp, "cd0") == [True]
        assert unit_ready(qt) == NOT_READY


def test_cd_locked_eject(minivmm_only, tmp_path, media):
    qt, qmp = qtest_with_qmp(tmp_path, [
        "-drive", f"if=ide,index=2,media=cdrom,id=cd0,file={media['cd']}"])
    with qt:
        atapi_cmd(qt, b"\x1e\x00\x00\x00\x01")        # PREVENT MEDIUM REMOVAL
        assert qmp.command("query-block")[0]["locked"] is True
        expect_error(qmp, "GenericError", "Device 'cd0' is locked", "eject", {"device": "cd0"})
        assert tray_events(qmp, "cd0") == []
        expect_error(qmp, "GenericError", "Device 'cd0' is locked", "change",
                     {"device": "cd0", "target": media["cd2"]})
        assert "inserted" in qmp.command("query-block")[0]
        qmp.command("eject", {"device": "cd0", "force": True})
        assert tray_events(qmp, "cd0") == [True]
        cd = qmp.command("query-block")[0]
        assert "inserted" not in cd and cd["tray_open"] is True and cd["locked"] is False


def test_floppy_change_seen_by_guest(minivmm_only, tmp_path, media):
    qt, qmp = qtest_with_qmp(tmp_path, [
        "-drive", f"if=floppy,index=0,id=fd0,file={media['fd']},format=raw"])
    with qt:
        qt.outb(FDC_DOR, 0x1c)                       # drive 0, motor on, out of reset
        floppy_seek(qt, 1)
        assert qt.inb(FDC_DIR) & 0x80 == 0           # the change line cleared by the seek
        qmp.command("change", {"device": "fd0", "target": media["cd2"], "arg": "raw"})
        # 2.2's floppy has no tray: every close opens it, every load closes it again.
        assert tray_events(qmp, "fd0") == [True, True, False]
        assert qt.inb(FDC_DIR) & 0x80                # the guest sees the disk change
        fd = qmp.command("query-block")[0]
        assert fd["inserted"]["file"] == media["cd2"] and fd["inserted"]["ro"] is False
        floppy_seek(qt, 2)
        assert qt.inb(FDC_DIR) & 0x80 == 0
        qmp.command("eject", {"device": "fd0"})
        assert tray_events(qmp, "fd0") == [True]
        floppy_seek(qt, 1)
        assert qt.inb(FDC_DIR) & 0x80                # no disk: the line stays up


def test_hmp_eject_change(minivmm_only, tmp_path, media):
    qt, qmp = qtest_with_qmp(tmp_path, ["-drive", "if=ide,index=2,media=cdrom,id=cd0"])
    with qt:
        assert qmp.hmp(f"change cd0 {media['cd']} raw") == ""
        assert qmp.hmp("info block cd0").startswith(f"cd0: {media['cd']} (raw, read-only)\r\n")
        assert qmp.hmp("change cd0 /nonexistent raw") == (
            "Could not open '/nonexistent': No such file or directory\r\n")
        assert qmp.hmp("change cd0 x nosuchfmt") == "Invalid block format 'nosuchfmt'\r\n"
        assert qmp.hmp("eject nope") == "Device 'nope' not found\r\n"
        assert qmp.hmp("eject -f cd0") == ""
        assert qmp.hmp("info block cd0").startswith("cd0: [not inserted]\r\n")
