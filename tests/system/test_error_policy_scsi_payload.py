"""werror/rerror with the test payload's CPL3 LSI 53C895A driver under KVM (scenario `lsi 16`:
16 MiB of a pattern written with WRITE(10) in 128 KiB commands, SYNCHRONIZE CACHE, read back
with READ(10) and checked in the guest), the SCSI counterpart of
test_error_policy_ide_payload.py and test_error_policy_payload.py, whose helpers it uses. A
full tmpfs gives real ENOSPC; the read error is injected by blkdebug. The disk is
-device lsi53c895a -device scsi-hd,drive=d0 under both VMMs; runs against minivmm and, with
--vmm=qemu, Debian's QEMU (the fields of 2.2's BLOCK_IO_ERROR are compared). Beyond the
IDE and virtio-blk files: werror=stop on ENOSPC, and rerror=report.
"""

import os
import re

from test_error_policy import fill, make_image
from test_error_policy_payload import (io_error_event, read_error_drive,  # noqa: F401
                                       report_enospc_lines, rerror_stop_cont, serial_lines,
                                       start_payload, tmpfs)
from test_payload_ide import expected_chunk

MIB = 16
CHUNK_SECTORS = 256
SECTOR = 512


def start(make_vm, vmm, tmp_path, drive):
    return start_payload(make_vm, vmm, tmp_path, f"lsi {MIB}",
                         ["-device", "lsi53c895a", "-drive", f"if=none,id=d0,{drive}",
                          "-device", "scsi-hd,drive=d0,scsi-id=0"])


def check_image(img):
    with open(img, "rb") as f:
        for lba in range(0, MIB * 2048, CHUNK_SECTORS * 7):
            f.seek(lba * SECTOR)
            assert f.read(CHUNK_SECTORS * SECTOR) == expected_chunk(lba), f"LBA {lba}"


def test_scsi_payload_werror_stop_enospc_then_cont(make_vm, vmm, tmp_path, tmpfs):  # noqa: F811
    """A WRITE(10) fails with ENOSPC: the VM stops (io-error, io-status nospace) with the
    command in the disk; after the test frees space and sends cont, the write is issued again
    and the guest's check of all 16 MiB passes; the image holds the pattern."""
    img = tmpfs / "disk.img"
    make_image(img, 64 << 20)
    filler = fill(tmpfs, leave=6 << 20)
    vm, qmp = start(make_vm, vmm, tmp_path, f"file={img},format=raw,werror=stop")
    with qmp:
        assert io_error_event(qmp) == {"device": "d0", "operation": "write", "action": "stop",
                                       "nospace": True, "reason": "No space left on device"}
        qmp.event_wait("STOP", timeout=10)
        assert qmp.command("query-status")["status"] == "io-error"
        blocks = {b["device"]: b for b in qmp.command("query-block")}
        assert blocks["d0"]["io-status"] == "nospace"
        assert "PASS" not in vm.serial_text()
        os.unlink(filler)
        qmp.command("cont")
        qmp.event_wait("RESUME", timeout=10)
        assert vm.wait_exit(60) == 0, vm.describe(vm.serial_log)
    lines = serial_lines(vm)
    assert lines[0] == "READY" and lines[-1] == "PASS", "\n".join(lines)
    check_image(img)


def test_scsi_payload_werror_report_enospc(make_vm, vmm, tmp_path, tmpfs):  # noqa: F811
    """A WRITE(10) ends with CHECK CONDITION, DATA PROTECT, SPACE ALLOCATION FAILED WRITE
    PROTECT (27h/07h, QEMU's sense for ENOSPC) through the SCRIPTS' normal STATUS and
    COMMAND COMPLETE; the VM never stops, and the guest gives up at that command."""
    lines = report_enospc_lines(start, make_vm, vmm, tmp_path, tmpfs, "d0")
    m = re.match(r"FAIL WRITE\(10\) failed at LBA (\d+) \(status 02, sense 7/27/07, "
                 r"dstat 84, sist 0000,", lines[-1])
    assert m, "\n".join(lines)
    lba = int(m[1])
    assert lba % CHUNK_SECTORS == 0 and 0 < lba < MIB * 2048, lines[-1]


def test_scsi_payload_rerror_stop_then_cont(make_vm, vmm, tmp_path):
    """One READ(10) fails (blkdebug, EIO): the VM stops with the command in the disk; after
    cont the read is issued again and the guest's check of all 16 MiB passes."""
    img = rerror_stop_cont(start, make_vm, vmm, tmp_path, "d0")
    check_image(img)


def test_scsi_payload_rerror_report(make_vm, vmm, tmp_path):
    """One READ(10) fails (blkdebug, EIO) with rerror=report: CHECK CONDITION, ABORTED
    COMMAND 00h/06h; the VM never stops. (QEMU's target has disconnected for the read and
    raises SIST0.MA at WAIT RESELECT; the driver then takes the status itself.)"""
    img = tmp_path / "disk.img"
    make_image(img, 64 << 20)
    drive = read_error_drive(tmp_path, vmm, img).replace("rerror=stop", "rerror=report")
    vm, qmp = start(make_vm, vmm, tmp_path, drive)
    with qmp:
        # nospace is there, as on QEMU 7.2: io-status is on (werror stays the default, enospc)
        assert io_error_event(qmp) == {"device": "d0", "operation": "read", "action": "report",
                                       "nospace": False, "reason": "Input/output error"}
        assert vm.wait_exit(60) == 0, vm.describe(vm.serial_log)
        assert not any(e["event"] == "STOP" for e in qmp.get_events())
    lines = serial_lines(vm)
    assert lines[0] == "READY", "\n".join(lines)
    assert lines[-1].startswith("FAIL READ(10) failed at LBA 4096 (status 02, sense b/00/06, "
                                "dstat 84, sist 0000,"), "\n".join(lines)
