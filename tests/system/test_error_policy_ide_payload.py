"""werror=report and rerror=stop with the test payload's CPL3 IDE driver under KVM (scenario
`ide 16 dma`: 16 MiB of a pattern written by DMA in 128 KiB commands, flushed, read back and
checked in the guest), the IDE counterpart of test_error_policy_payload.py (virtio-blk). A
full tmpfs gives real ENOSPC; the read error is injected by blkdebug. Runs against minivmm
and, with --vmm=qemu, Debian's QEMU (the fields of 2.2's BLOCK_IO_ERROR are compared).
"""

import re


from test_error_policy_payload import (report_enospc_lines, rerror_stop_cont,  # noqa: F401
                                       start_payload, tmpfs)
from test_payload_ide import expected_chunk

MIB = 16
CHUNK_SECTORS = 256
SECTOR = 512


def start(make_vm, vmm, tmp_path, drive):
    return start_payload(make_vm, vmm, tmp_path, f"ide {MIB} dma",
                         ["-drive", f"if=ide,index=0,{drive}"])


def test_ide_payload_werror_report_enospc(make_vm, vmm, tmp_path, tmpfs):  # noqa: F811
    """A DMA write fails with the drive's ERR bit (ABRT) and the bus master's error bit; the
    VM never stops, and the guest gives up at that command."""
    lines = report_enospc_lines(start, make_vm, vmm, tmp_path, tmpfs, "ide0-hd0")
    m = re.fullmatch(r"FAIL DMA write failed at LBA (\d+) \(status (\w\w), error (\w\w)\)",
                     lines[-1])
    assert m, "\n".join(lines)
    lba, status, error = int(m[1]), int(m[2], 16), int(m[3], 16)
    assert lba % CHUNK_SECTORS == 0 and lba < MIB * 2048
    assert status & 0x01 and not status & 0x88, lines[-1]  # ERR, neither BSY nor DRQ
    assert error == 0x04, lines[-1]  # ABRT


def test_ide_payload_rerror_stop_then_cont(make_vm, vmm, tmp_path):
    """One DMA read fails (blkdebug, EIO): the VM stops with the command pending; after cont
    the read is issued again and the guest's check of all 16 MiB passes."""
    img = rerror_stop_cont(start, make_vm, vmm, tmp_path, "ide0-hd0")
    with open(img, "rb") as f:
        for lba in range(0, MIB * 2048, CHUNK_SECTORS * 7):
            f.seek(lba * SECTOR)
            assert f.read(CHUNK_SECTORS * SECTOR) == expected_chunk(lba), f"LBA {lba}"
